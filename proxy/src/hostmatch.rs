//! Host name patterns as used by `inspection.bypass`: an exact name, or
//! `*.example.com` / `.example.com` for a domain and all its subdomains.

/// True when `pattern` is an exact host, `*.domain` or `.domain`.
pub fn is_valid_pattern(pattern: &str) -> bool {
    let name = pattern
        .strip_prefix("*.")
        .or_else(|| pattern.strip_prefix('.'))
        .unwrap_or(pattern);
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'))
}

/// True when `host` matches `pattern` (case-insensitive, trailing dot ignored).
pub fn matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    match pattern
        .strip_prefix("*.")
        .or_else(|| pattern.strip_prefix('.'))
    {
        Some(domain) => {
            host.eq_ignore_ascii_case(domain)
                || (host.len() > domain.len()
                    && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
                    && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain))
        }
        None => host.eq_ignore_ascii_case(pattern),
    }
}

/// True when `host` matches any of `patterns`.
pub fn matches_any(patterns: &[String], host: &str) -> bool {
    patterns.iter().any(|p| matches(p, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let table = [
            ("bank.example", "bank.example", true),
            ("bank.example", "BANK.example.", true),
            ("bank.example", "www.bank.example", false),
            ("*.bank.example", "www.bank.example", true),
            ("*.bank.example", "bank.example", true),
            (".bank.example", "a.b.bank.example", true),
            ("*.bank.example", "evilbank.example", false),
        ];
        for (p, h, want) in table {
            assert_eq!(matches(p, h), want, "{p} {h}");
        }
        assert!(!is_valid_pattern("a b"));
        assert!(!is_valid_pattern("*."));
    }
}
