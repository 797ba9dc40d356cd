//! The `Basic` scheme (RFC 7617) of `Proxy-Authorization`.

use base64::Engine;

/// User and password from a `Basic` credential, or `None` when malformed.
pub fn parse_basic(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case = (&'static [u8], Option<(&'static str, &'static str)>);

    #[test]
    fn table() {
        let cases: [Case; 6] = [
            (b"Basic YWxpY2U6c2VjcmV0", Some(("alice", "secret"))),
            (b"basic YWxpY2U6OnM6", Some(("alice", ":s:"))),
            (b"Basic YWxpY2U6", Some(("alice", ""))),
            (b"Bearer abc", None),
            (b"Basic !!!", None),
            (b"Basic YWxpY2U=", None),
        ];
        for (input, want) in cases {
            let got = parse_basic(input);
            assert_eq!(
                got.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
                want,
                "{input:?}"
            );
        }
    }
}
