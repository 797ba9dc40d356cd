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

/// Which clusters are worth measuring: at least `min_digits` digits, or
/// for a pattern whose digits follow fixed bytes (an IBAN's country code), at
/// least its fewest digits when those bytes precede the cluster.
#[derive(Debug, Clone)]
pub(crate) struct Threshold {
    pub min_digits: u32,
    /// (fewest digits, allowed bytes before the cluster, nearest first).
    pub after: Vec<(u32, Vec<[bool; 256]>)>,
}

/// Bit k set when bits k..k+n of `c` are all set (runs of at least `n`);
/// bits beyond 63 count as set (a run may continue in the next block).
#[inline]
fn runs_at_least(c: u64, n: u32) -> u64 {
    if n == 0 {
        return u64::MAX;
    }
    if n > 64 {
        return 0;
    }
    let (mut r, mut have) = (c, 1u32);
    while have < n {
        let step = (n - have).min(have);
        r &= (r >> step) | !(u64::MAX >> step);
        have += step;
    }
    r
}

/// `true` for ASCII letters and space.
#[inline]
fn is_letter_or_space(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b' '
}

impl Threshold {
    /// The fewest digits any "after" rule needs, and whether every byte
    /// those rules allow before a cluster is an ASCII letter or space.
    fn after_summary(&self) -> Option<(u32, bool)> {
        let min = self.after.iter().map(|(m, _)| *m).min()?;
        let letters = self.after.iter().all(|(_, sets)| {
            sets.first().is_some_and(|set| {
                (0..=255u8).all(|b| !set[usize::from(b)] || is_letter_or_space(b))
            })
        });
        Some((min, letters))
    }

    /// Some "after" rule accepts `digits` digits at `start`.
    #[inline]
    fn after_wants(&self, hay: &[u8], start: usize, digits: u32) -> bool {
        self.after.iter().any(|(min, sets)| {
            digits >= *min
                && sets.iter().enumerate().all(|(i, set)| {
                    start
                        .checked_sub(i + 1)
                        .is_some_and(|j| set[usize::from(hay[j])])
                })
        })
    }

    #[inline]
    fn wants(&self, hay: &[u8], start: usize, digits: u32) -> bool {
        digits >= self.min_digits || self.after_wants(hay, start, digits)
    }
}

/// Digit and separator masks of 16 bytes (bit k: byte k).
#[cfg(target_arch = "x86_64")]
#[inline]
fn masks16(b: &[u8; 16]) -> (u64, u64) {
    use super::bytemask::in_range as lanes_in_range;
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are
    // always available; the load reads exactly the 16 bytes of `b`
    // (unaligned loads are allowed).
    unsafe {
        let x = _mm_loadu_si128(b.as_ptr().cast());
        let in_range = |lo: u8, len: u8| lanes_in_range(x, lo, len);
        let digits = in_range(b'0', 10);
        let seps = _mm_or_si128(
            _mm_or_si128(in_range(b'-', 3), in_range(b'(', 2)),
            _mm_or_si128(
                _mm_cmpeq_epi8(x, _mm_set1_epi8(b' ' as i8)),
                _mm_cmpeq_epi8(x, _mm_set1_epi8(b'+' as i8)),
            ),
        );
        (
            u64::from(_mm_movemask_epi8(digits) as u16),
            u64::from(_mm_movemask_epi8(seps) as u16),
        )
    }
}

/// ASCII letter-or-space mask of 16 bytes (bit k: byte k).
#[cfg(target_arch = "x86_64")]
#[inline]
fn letters16(b: &[u8; 16]) -> u64 {
    use super::bytemask::in_range as lanes_in_range;
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: as in `masks16`.
    unsafe {
        let x = _mm_loadu_si128(b.as_ptr().cast());
        let in_range = |lo: u8, len: u8| lanes_in_range(x, lo, len);
        let m = _mm_or_si128(
            _mm_or_si128(in_range(b'A', 26), in_range(b'a', 26)),
            _mm_cmpeq_epi8(x, _mm_set1_epi8(b' ' as i8)),
        );
        u64::from(_mm_movemask_epi8(m) as u16)
    }
}

/// ASCII letter-or-space mask of 16 bytes (bit k: byte k).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn letters16(b: &[u8; 16]) -> u64 {
    let mut m = 0u64;
    for (k, &c) in b.iter().enumerate() {
        m |= u64::from(is_letter_or_space(c)) << k;
    }
    m
}

#[inline]
fn letters(block: &[u8; 64]) -> u64 {
    super::bytemask::mask64(block, letters16)
}

/// Digit and separator masks of 16 bytes (bit k: byte k).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn masks16(b: &[u8; 16]) -> (u64, u64) {
    let (mut d, mut s) = (0u64, 0u64);
    for (k, &c) in b.iter().enumerate() {
        d |= u64::from(is_digit(c)) << k;
        s |= u64::from(is_sep(c)) << k;
    }
    (d, s)
}

/// Digit and separator masks of a 64-byte block (bit k: byte k).
#[inline]
fn masks(block: &[u8; 64]) -> (u64, u64) {
    let (mut d, mut s) = (0u64, 0u64);
    for (i, sub) in block.chunks_exact(16).enumerate() {
        if let Ok(sub) = <&[u8; 16]>::try_from(sub) {
            let (dm, sm) = masks16(sub);
            d |= dm << (16 * i);
            s |= sm << (16 * i);
        }
    }
    (d, s)
}

/// Calls `f` for every cluster starting in `hay[from..to]` that `t` wants.
/// Clusters are measured up to `limit` (the end of the bytes that may be
/// looked at). Blocks of 64 bytes are classified with bit masks so that
/// short numbers (years, ports, counters) are skipped without a byte loop.
pub(crate) fn clusters(
    hay: &[u8],
    from: usize,
    to: usize,
    limit: usize,
    t: &Threshold,
    mut f: impl FnMut(Cluster),
) {
    let mut i = from;
    // Positions below `skip_to` belong to a cluster already handled.
    let mut skip_to = from;
    let after = t.after_summary();
    while i + 64 + 3 <= limit.min(to + 3) && i + 64 <= to {
        let Ok(block) = <&[u8; 64]>::try_from(&hay[i..i + 64]) else {
            break;
        };
        let (d, s) = masks(block);
        if d == 0 {
            i += 64;
            continue;
        }
        let byte = |j: usize| -> (u64, u64) {
            match i.checked_sub(j) {
                Some(x) => (u64::from(is_digit(hay[x])), u64::from(is_sep(hay[x]))),
                None => (0, 0),
            }
        };
        let (d1, s1) = byte(1);
        let (d2, s2) = byte(2);
        let (d3, _) = byte(3);
        let pd1 = (d << 1) | d1;
        let ps1 = (s << 1) | s1;
        let pd2 = (d << 2) | (d1 << 1) | d2;
        let ps2 = (s << 2) | (s1 << 1) | s2;
        let pd3 = (d << 3) | (d1 << 2) | (d2 << 1) | d3;
        let mut starts = d & !pd1 & !(ps1 & pd2) & !(ps1 & ps2 & pd3);
        // Cluster bytes: digits and separator runs of one or two bytes
        // between digits (a run touching the block end is cut; such
        // clusters are measured exactly below).
        let nd1 = d >> 1;
        let ns1 = s >> 1;
        let nd2 = d >> 2;
        let bridge = (s & pd1 & nd1) | (s & ns1 & pd1 & nd2) | (s & ps1 & pd2 & nd1);
        let c = d | bridge;
        // Keep only starts whose run (cluster bytes, an upper bound of its
        // digits) is long enough; runs touching the block end count as long.
        let open = c | (0b111 << 61);
        let mut wanted = runs_at_least(open, t.min_digits);
        if let Some((min_after, only_letters)) = after {
            let long = runs_at_least(open, min_after);
            wanted |= if only_letters {
                let l = letters(block);
                let l1 = u64::from(i > 0 && is_letter_or_space(hay[i - 1]));
                long & ((l << 1) | l1)
            } else {
                long
            };
        }
        starts &= wanted;
        while starts != 0 {
            let k = starts.trailing_zeros() as usize;
            starts &= starts - 1;
            let start = i + k;
            if start < skip_to {
                continue;
            }
            let run = (!(c >> k)).trailing_zeros() as usize;
            if k + run + 3 < 64 && run + 3 < CLUSTER_CAP {
                let span = if run >= 64 {
                    u64::MAX
                } else {
                    ((1u64 << run) - 1) << k
                };
                let digits = (d & span).count_ones();
                if !t.wants(hay, start, digits) {
                    continue;
                }
            }
            let cl = measure(hay, start, limit.min(start + CLUSTER_CAP));
            if t.wants(hay, start, cl.digits) {
                f(cl);
            }
            skip_to = cl.end;
        }
        i += 64;
    }
    let mut i = i.max(skip_to);
    while i < to {
        i = next_digit(hay, i, to);
        if i >= to {
            break;
        }
        if starts_cluster(hay, i) {
            let c = measure(hay, i, limit.min(i + CLUSTER_CAP));
            if t.wants(hay, i, c.digits) {
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

    fn any() -> Threshold {
        Threshold {
            min_digits: 1,
            after: Vec::new(),
        }
    }

    fn all(text: &str) -> Vec<(String, u32)> {
        let hay = text.as_bytes();
        let mut out = Vec::new();
        clusters(hay, 0, hay.len(), hay.len(), &any(), |c| {
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
        clusters(hay, 0, hay.len(), hay.len(), &any(), |c| got = Some(c));
        let c = got.unwrap();
        for n in [3, 2, 4, 5, 6, 9] {
            assert!(c.group_counts & (1 << n) != 0, "{n}");
        }
        assert_eq!(c.group_counts & (1 << 7), 0);
    }

    #[test]
    fn block_masks_agree_with_the_byte_loop() {
        let mut text = String::new();
        for i in 0..400u32 {
            let n = i.wrapping_mul(2654435761) % 100000;
            let sep = ["-", " ", "  ", "   ", ".", ",", "(", ") ", "x", "/"][(i % 10) as usize];
            text.push_str(&format!("{n}{sep}"));
        }
        let hay = text.as_bytes();
        for min in [1, 3, 6, 9] {
            let t = Threshold {
                min_digits: min,
                after: Vec::new(),
            };
            let mut fast = Vec::new();
            clusters(hay, 0, hay.len(), hay.len(), &t, |c| {
                fast.push((c.start, c.end, c.digits))
            });
            let mut slow = Vec::new();
            let mut i = 0;
            while i < hay.len() {
                if hay[i].is_ascii_digit() && starts_cluster(hay, i) {
                    let c = measure(hay, i, hay.len().min(i + CLUSTER_CAP));
                    if c.digits >= min || t.after_wants(hay, i, c.digits) {
                        slow.push((c.start, c.end, c.digits));
                    }
                    i = c.end;
                } else {
                    i += 1;
                }
            }
            assert_eq!(fast, slow, "min {min}");
        }
    }

    #[test]
    fn cluster_start_is_local() {
        let hay = b"12 - 34";
        assert!(starts_cluster(hay, 0));
        assert!(starts_cluster(hay, 5));
        assert!(!starts_cluster(b"1-2", 2));
    }
}
