//! Host → app lookup: one hash probe for exact hosts, then one probe per
//! label boundary for domain suffixes, longest suffix first. No allocation
//! for lower-case hosts.

use rustc_hash::FxHashMap;

/// The longest DNS name (RFC 1035), in bytes.
pub(crate) const MAX_HOST_LEN: usize = 253;

/// Maps host names and domain suffixes to app indices.
#[derive(Debug, Clone, Default)]
pub(crate) struct DomainIndex {
    exact: FxHashMap<Box<str>, u32>,
    suffix: FxHashMap<Box<str>, u32>,
}

/// Which map a key went into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// Exact host.
    Exact,
    /// Domain and subdomains.
    Suffix,
}

impl DomainIndex {
    /// Adds a key; returns the app already holding it, if any.
    pub(crate) fn insert(&mut self, kind: KeyKind, key: &str, app: u32) -> Option<u32> {
        let map = match kind {
            KeyKind::Exact => &mut self.exact,
            KeyKind::Suffix => &mut self.suffix,
        };
        if let Some(&prev) = map.get(key) {
            return Some(prev);
        }
        map.insert(key.into(), app);
        None
    }

    /// The app owning `host` (already lower-case, no trailing dot, no port).
    #[inline]
    pub(crate) fn lookup(&self, host: &str) -> Option<u32> {
        // Longer names cannot be resolved; refusing them also bounds the
        // work of the suffix walk (one hash per label) on hostile input.
        if host.len() > MAX_HOST_LEN {
            return None;
        }
        if let Some(&i) = self.exact.get(host) {
            return Some(i);
        }
        let mut rest = host;
        loop {
            if let Some(&i) = self.suffix.get(rest) {
                return Some(i);
            }
            match rest.find('.') {
                Some(dot) => rest = &rest[dot + 1..],
                None => return None,
            }
        }
    }
}

/// Normalises a host for lookup: strips a port and a trailing dot, and
/// lower-cases (borrowing when it already is).
pub(crate) fn normalize_host(host: &str) -> std::borrow::Cow<'_, str> {
    let mut h = host.trim();
    if let Some(stripped) = h.strip_prefix('[') {
        // IPv6 literal, possibly with a port.
        h = stripped.split(']').next().unwrap_or(stripped);
    } else if let Some((name, port)) = h.rsplit_once(':') {
        if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) {
            h = name;
        }
    }
    let h = h.strip_suffix('.').unwrap_or(h);
    if h.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(h.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_suffix_and_exact_win() {
        let mut idx = DomainIndex::default();
        assert_eq!(idx.insert(KeyKind::Suffix, "example.com", 1), None);
        assert_eq!(idx.insert(KeyKind::Suffix, "files.example.com", 2), None);
        assert_eq!(idx.insert(KeyKind::Exact, "x.files.example.com", 3), None);
        assert_eq!(idx.insert(KeyKind::Suffix, "example.com", 9), Some(1));
        let cases = [
            ("example.com", Some(1)),
            ("www.example.com", Some(1)),
            ("files.example.com", Some(2)),
            ("a.b.files.example.com", Some(2)),
            ("x.files.example.com", Some(3)),
            ("notexample.com", None),
            (&*format!("{}.example.com", "a.".repeat(200)), None),
            ("com", None),
            ("", None),
        ];
        for (host, want) in cases {
            assert_eq!(idx.lookup(host), want, "{host}");
        }
    }

    #[test]
    fn normalizes_hosts() {
        for (input, want) in [
            ("Example.COM", "example.com"),
            ("example.com.", "example.com"),
            ("example.com:443", "example.com"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
        ] {
            assert_eq!(normalize_host(input), want);
        }
    }
}
