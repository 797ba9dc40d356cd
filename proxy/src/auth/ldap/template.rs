//! DN and filter templates filled with escaped values.
//!
//! Every value that comes from a client (the user name) or from the
//! directory (a DN) is escaped for where it lands: RFC 4514 inside a DN,
//! RFC 4515 inside a filter. Templates are filled in one pass, so a value
//! that itself contains `{dn}` is never expanded again.

use std::borrow::Cow;

/// `value` escaped for a filter assertion (RFC 4515 §3): `*`, `(`, `)`, `\`
/// and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`.
pub fn filter_value(value: &str) -> Cow<'_, str> {
    ldap3::ldap_escape(value)
}

/// `value` escaped for an attribute value inside a DN (RFC 4514 §2.4):
/// `"`, `+`, `,`, `;`, `<`, `=`, `>`, `\`, NUL, a leading space or `#` and
/// a trailing space.
pub fn dn_value(value: &str) -> Cow<'_, str> {
    ldap3::dn_escape(value)
}

/// `template` with each `{name}` of `values` replaced by its (already
/// escaped) value; other text, including unknown `{…}`, is kept as is.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    'scan: while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        for (name, value) in values {
            if let Some(tail) = after.strip_prefix(name).and_then(|t| t.strip_prefix('}')) {
                out.push_str(value);
                rest = tail;
                continue 'scan;
            }
        }
        out.push('{');
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_escaped_per_rfc_4515() {
        let cases = [
            ("alice", "alice"),
            ("*", "\\2a"),
            ("*)(uid=*", "\\2a\\29\\28uid=\\2a"),
            ("a\\b", "a\\5cb"),
            ("nul\0", "nul\\00"),
            ("al*", "al\\2a"),
            ("uid=a\\2cb,dc=x", "uid=a\\5c2cb,dc=x"),
        ];
        for (raw, escaped) in cases {
            assert_eq!(filter_value(raw), escaped, "{raw:?}");
        }
    }

    #[test]
    fn dn_values_are_escaped_per_rfc_4514() {
        let cases = [
            ("alice", "alice"),
            ("a,ou=admins", "a\\2cou\\3dadmins"),
            ("*)(uid=*", "*)(uid\\3d*"),
            (" lead", "\\20lead"),
            ("#hash", "\\23hash"),
            ("trail ", "trail\\20"),
            ("q\"+;<>\\", "q\\22\\2b\\3b\\3c\\3e\\5c"),
        ];
        for (raw, escaped) in cases {
            assert_eq!(dn_value(raw), escaped, "{raw:?}");
        }
    }

    #[test]
    fn templates_are_filled_in_one_pass() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case; 4] = [
            ("(uid={user})", &[("user", "bob")], "(uid=bob)"),
            (
                "(|(member={dn})(memberUid={user}))",
                &[("dn", "uid=bob,dc=x"), ("user", "bob")],
                "(|(member=uid=bob,dc=x)(memberUid=bob))",
            ),
            // A value holding a placeholder is not expanded again.
            (
                "({user}/{dn})",
                &[("user", "{dn}"), ("dn", "D")],
                "({dn}/D)",
            ),
            ("{other} {user", &[("user", "u")], "{other} {user"),
        ];
        for (template, values, expected) in cases {
            assert_eq!(fill(template, values), expected);
        }
    }
}
