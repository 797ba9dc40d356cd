//! Keeping clients on inspected transports: QUIC alternatives (`h3`,
//! `h3-29`, `hq-…`, gQUIC's `quic`) are removed from `Alt-Svc` response
//! fields (RFC 7838) whenever the proxy does not intercept HTTP/3, because a
//! browser that learns of them moves to UDP and out of inspection.
//!
//! Parsing follows the RFC's grammar (comma-separated alternatives, each
//! `protocol-id="authority"` followed by `;`-parameters, quoted strings may
//! contain commas and escapes). Protocol ids are percent-decoded before they
//! are compared, so `h%33` is recognised too. A value that cannot be parsed
//! is dropped whole: the field is only a hint, and dropping it is always safe.

use http::header::{HeaderMap, HeaderValue, ALT_SVC};

/// Removes QUIC alternatives from every `Alt-Svc` field of `headers`;
/// fields left with no alternative are removed. Returns `true` when
/// something was removed.
pub fn strip_quic(headers: &mut HeaderMap) -> bool {
    if !headers.contains_key(ALT_SVC) {
        return false;
    }
    let mut changed = false;
    let mut kept = Vec::new();
    for value in headers.get_all(ALT_SVC) {
        match value.to_str().ok().and_then(filter) {
            Some(Filtered::Unchanged) => kept.push(value.clone()),
            Some(Filtered::Rewritten(v)) => {
                changed = true;
                if let Ok(v) = HeaderValue::from_str(&v) {
                    kept.push(v);
                }
            }
            Some(Filtered::Empty) | None => changed = true,
        }
    }
    if changed {
        headers.remove(ALT_SVC);
        for v in kept {
            headers.append(ALT_SVC, v);
        }
    }
    changed
}

enum Filtered {
    Unchanged,
    Rewritten(String),
    Empty,
}

/// Filters one field value; `None` when it does not parse.
fn filter(value: &str) -> Option<Filtered> {
    let items = split_outside_quotes(value, ',')?;
    let mut kept = Vec::with_capacity(items.len());
    let mut removed = false;
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if item.eq_ignore_ascii_case("clear") {
            kept.push(item);
            continue;
        }
        let (protocol, _) = item.split_once('=')?;
        let protocol = percent_decode(protocol.trim())?;
        if is_quic(&protocol) {
            removed = true;
        } else {
            kept.push(item);
        }
    }
    Some(match (removed, kept.is_empty()) {
        (false, false) => Filtered::Unchanged,
        (_, true) => Filtered::Empty,
        (true, false) => Filtered::Rewritten(kept.join(", ")),
    })
}

/// QUIC-based protocol ids: HTTP/3 and its drafts, HTTP/0.9-over-QUIC
/// interop ids, and Google QUIC.
fn is_quic(protocol: &str) -> bool {
    let p = protocol.to_ascii_lowercase();
    p.starts_with("h3") || p.starts_with("hq") || p == "quic"
}

/// Splits at `sep` outside double-quoted strings (with `\` escapes);
/// `None` for an unterminated quote.
fn split_outside_quotes(value: &str, sep: char) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&value[start..i]);
            start = i + c.len_utf8();
        }
    }
    if quoted {
        return None;
    }
    parts.push(&value[start..]);
    Some(parts)
}

/// Percent-decodes a protocol id (RFC 7838 §3); `None` when malformed or
/// not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[&str]) -> (bool, Vec<String>) {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(ALT_SVC, HeaderValue::from_str(v).unwrap());
        }
        h.insert("x-other", HeaderValue::from_static("kept"));
        let changed = strip_quic(&mut h);
        assert_eq!(h["x-other"], "kept");
        let out = h
            .get_all(ALT_SVC)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        (changed, out)
    }

    #[test]
    fn quic_alternatives_are_removed_and_others_kept() {
        let table: &[(&[&str], bool, &[&str])] = &[
            (&[r#"h3=":443"; ma=86400"#], true, &[]),
            (
                &[r#"h3=":443"; ma=86400, h3-29=":443"; ma=86400, h2=":443"; ma=60"#],
                true,
                &[r#"h2=":443"; ma=60"#],
            ),
            (
                &[r#"h2="alt.example:443""#],
                false,
                &[r#"h2="alt.example:443""#],
            ),
            (&["clear"], false, &["clear"]),
            (&[r#"quic=":443"; ma=2592000; v="46,43""#], true, &[]),
            (&[r#"h%33=":443""#, r#"hq-interop=":443""#], true, &[]),
            (
                &[r#"H3=":443""#, r#"h2=":8443"; persist=1"#],
                true,
                &[r#"h2=":8443"; persist=1"#],
            ),
            // A quoted comma does not split an alternative.
            (&[r#"h2="a,b:443", h3=":443""#], true, &[r#"h2="a,b:443""#]),
            // Unparseable values are dropped whole.
            (&[r#"h3=":443"#], true, &[]),
            (&["garbage"], true, &[]),
            (&[r#"h%3=":443""#], true, &[]),
        ];
        for (input, changed, expected) in table {
            let (c, out) = run(input);
            assert_eq!(c, *changed, "{input:?}");
            assert_eq!(out, expected.to_vec(), "{input:?}");
        }
    }

    #[test]
    fn no_field_no_change() {
        assert_eq!(run(&[]), (false, vec![]));
    }
}
