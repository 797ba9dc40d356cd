//! The digit-run prefilter: finds clusters of digits joined by short
//! separator runs (`4111 1111 1111 1111`, `(555) 123-4567`) and which digit
//! counts a match inside each cluster could have.
//!
//! A cluster starts at a digit that has no digit within three bytes to its
//! left reachable through separators only, so whether a position starts a
//! cluster depends on three bytes of left context; a cluster extends right
//! over digits and separator runs of at most two bytes, up to
//! [`CLUSTER_CAP`] bytes. Both are local, so streaming finds exactly the
//! clusters a one-shot scan finds.

/// Longest cluster examined, in bytes.
pub(crate) const CLUSTER_CAP: usize = 48;
/// Bytes of left context needed to decide whether a digit starts a cluster.
pub(crate) const LEFT_CONTEXT: usize = 3;

#[inline]
fn is_digit(b: u8) -> bool {
    b.wrapping_sub(b'0') < 10
}

#[inline]
pub(crate) fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'/' | b'+')
}

/// One digit cluster.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cluster {
    /// Index of the first digit.
    pub start: usize,
    /// Index one past the last digit.
    pub end: usize,
    /// Number of digits.
    pub digits: u32,
    /// Bit `n` set: some run of whole groups holds exactly `n` digits.
    pub group_counts: u64,
    /// Bit `n` set: some group has exactly `n` digits.
    pub group_lens: u64,
    /// Bit `10 * d0 + d1` set: some group starts with digits `d0 d1`.
    pub pairs: u128,
}

impl Cluster {
    /// Bit `n` set for every `n` in `0..=digits`.
    pub fn any_counts(&self) -> u64 {
        if self.digits >= 63 {
            u64::MAX
        } else {
            (1u64 << (self.digits + 1)) - 1
        }
    }
}

/// Index of the first digit in `hay[from..to]`, or `to`.
#[inline]
fn next_digit(hay: &[u8], mut from: usize, to: usize) -> usize {
    while from + 16 <= to {
        let block = &hay[from..from + 16];
        let mut mask: u32 = 0;
        for (k, &c) in block.iter().enumerate() {
            mask |= u32::from(is_digit(c)) << k;
        }
        if mask != 0 {
            return from + mask.trailing_zeros() as usize;
        }
        from += 16;
    }
    while from < to && !is_digit(hay[from]) {
        from += 1;
    }
    from
}

fn starts_cluster(hay: &[u8], p: usize) -> bool {
    let at = |i: usize| -> Option<u8> { p.checked_sub(i).map(|j| hay[j]) };
    match at(1) {
        None => true,
        Some(b) if is_digit(b) => false,
        Some(b) if is_sep(b) => match at(2) {
            None => true,
            Some(c) if is_digit(c) => false,
            Some(c) if is_sep(c) => !at(3).is_some_and(is_digit),
            Some(_) => true,
        },
        Some(_) => true,
    }
}

fn measure(hay: &[u8], start: usize, limit: usize) -> Cluster {
    let mut i = start;
    let mut digits = 0u32;
    let mut starts: u64 = 1; // prefix digit counts at group starts
    let mut ends: u64 = 0; // prefix digit counts at group ends
    let mut group_lens: u64 = 0;
    let mut pairs: u128 = 0;
    loop {
        let g = i;
        while i < limit && is_digit(hay[i]) {
            digits += 1;
            i += 1;
        }
        group_lens |= 1u64 << (i - g).min(63);
        if i - g >= 2 {
            pairs |= 1u128 << ((hay[g] - b'0') * 10 + (hay[g + 1] - b'0'));
        }
        if digits < 63 {
            ends |= 1 << digits;
        }
        let mut j = i;
        while j < limit && j - i < 2 && is_sep(hay[j]) {
            j += 1;
        }
        if j > i && j < limit && is_digit(hay[j]) {
            if digits < 63 {
                starts |= 1 << digits;
            }
            i = j;
        } else {
            break;
        }
    }
    let mut group_counts = 0u64;
    let mut s = starts;
    while s != 0 {
        let k = s.trailing_zeros();
        group_counts |= ends >> k;
        s &= s - 1;
    }
    Cluster {
        start,
        end: i,
        digits,
        group_counts,
        group_lens,
        pairs,
    }
}

/// Calls `f` for every cluster starting in `hay[from..to]` with at least
/// `min_digits` digits. Clusters are measured up to `limit` (the end of the
/// bytes that may be looked at).
pub(crate) fn clusters(
    hay: &[u8],
    from: usize,
    to: usize,
    limit: usize,
    min_digits: u32,
    mut f: impl FnMut(Cluster),
) {
    let mut i = from;
    while i < to {
        i = next_digit(hay, i, to);
        if i >= to {
            break;
        }
        if starts_cluster(hay, i) {
            let c = measure(hay, i, limit.min(i + CLUSTER_CAP));
            if c.digits >= min_digits {
                f(c);
            }
            i = c.end.max(i + 1);
        } else {
            while i < to && is_digit(hay[i]) {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<(String, u32)> {
        let hay = text.as_bytes();
        let mut out = Vec::new();
        clusters(hay, 0, hay.len(), hay.len(), 1, |c| {
            out.push((text[c.start..c.end].to_string(), c.digits))
        });
        out
    }

    #[test]
    fn clusters_join_short_separator_runs() {
        assert_eq!(
            all("card 4111 1111 1111 1111, tel (555) 123-4567"),
            vec![
                ("4111 1111 1111 1111".to_string(), 16),
                ("555) 123-4567".to_string(), 10)
            ]
        );
        assert_eq!(all("a1b22"), vec![("1".into(), 1), ("22".into(), 2)]);
    }

    #[test]
    fn group_counts_cover_whole_group_runs() {
        let hay = b"123-45-6789";
        let mut got = None;
        clusters(hay, 0, hay.len(), hay.len(), 1, |c| got = Some(c));
        let c = got.unwrap();
        for n in [3, 2, 4, 5, 6, 9] {
            assert!(c.group_counts & (1 << n) != 0, "{n}");
        }
        assert_eq!(c.group_counts & (1 << 7), 0);
    }

    #[test]
    fn cluster_start_is_local() {
        let hay = b"12 - 34";
        assert!(starts_cluster(hay, 0));
        assert!(starts_cluster(hay, 5));
        assert!(!starts_cluster(b"1-2", 2));
    }
}
