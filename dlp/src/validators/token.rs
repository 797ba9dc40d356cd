//! Token-shaped values: JWT headers, password placeholders.

use super::Outcome;

/// A JWT's first segment must base64url-decode to a JSON object naming `alg`.
pub(super) fn jwt(value: &[u8]) -> Outcome {
    let header = value.split(|&b| b == b'.').next().unwrap_or(&[]);
    match base64url_decode(header) {
        Some(json) if json.first() == Some(&b'{') && contains(&json, b"\"alg\"") => {
            Outcome::Pass { strong: true }
        }
        _ => Outcome::Fail,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

fn base64url_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// A password value that is not an obvious template placeholder.
pub(super) fn password(value: &[u8]) -> Outcome {
    // The value is what follows the `=`/`:`; find it after the last separator.
    let v = match value.iter().rposition(|&b| b == b'=' || b == b':') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    let v: Vec<u8> = v
        .iter()
        .copied()
        .skip_while(|b| b.is_ascii_whitespace() || *b == b'"' || *b == b'\'')
        .collect();
    if v.len() < 6 {
        return Outcome::Fail;
    }
    let placeholder_starts: [&[u8]; 6] = [b"${", b"{{", b"<", b"%(", b"$(", b"%s"];
    if placeholder_starts.iter().any(|p| v.starts_with(p)) {
        return Outcome::Fail;
    }
    if v.iter().all(|&b| b == v[0]) {
        return Outcome::Fail;
    }
    let lower = v.to_ascii_lowercase();
    let words: [&[u8]; 6] = [
        b"password",
        b"null",
        b"none",
        b"undefined",
        b"example",
        b"xxxxxx",
    ];
    if words.iter().any(|w| lower == *w) {
        return Outcome::Fail;
    }
    Outcome::Pass { strong: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_header_must_be_json_with_alg() {
        assert_eq!(
            jwt(b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0"),
            Outcome::Pass { strong: true }
        );
        assert_eq!(jwt(b"eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0"), Outcome::Fail);
    }

    #[test]
    fn password_placeholders_fail() {
        assert_eq!(password(b"password=${DB_PASS}"), Outcome::Fail);
        assert_eq!(password(b"password: ********"), Outcome::Fail);
        assert_eq!(
            password(b"password=Tr0ub4dor&3"),
            Outcome::Pass { strong: false }
        );
    }
}
