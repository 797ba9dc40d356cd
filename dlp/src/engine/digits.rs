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
    min_digits: u32,
    /// (fewest digits, allowed bytes before the cluster, nearest first).
    after: Vec<(u32, Vec<[bool; 256]>)>,
    /// The union of the "after" rules' allowed bytes one and two positions
    /// before a cluster (a quick pre-check; `None`: any byte).
    before: [Option<Box<[bool; 256]>>; 2],
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

impl Threshold {
    /// Builds the threshold for patterns needing `min_digits` digits, and
    /// for "after" patterns `(fewest digits, allowed bytes before the
    /// cluster, nearest first)`.
    pub fn new(min_digits: u32, after: Vec<(u32, Vec<[bool; 256]>)>) -> Threshold {
        let near = |i: usize| -> Option<Box<[bool; 256]>> {
            let mut union = [false; 256];
            for (_, sets) in &after {
                let set = sets.get(i)?;
                for (u, s) in union.iter_mut().zip(set) {
                    *u |= *s;
                }
            }
            Some(Box::new(union))
        };
        let before = if after.is_empty() {
            [None, None]
        } else {
            [near(0), near(1)]
        };
        Threshold {
            min_digits,
            after,
            before,
        }
    }

    /// The fewest digits any "after" rule needs.
    fn after_min(&self) -> Option<u32> {
        self.after.iter().map(|(m, _)| *m).min()
    }

    /// Whether the bytes just before `start` could precede a cluster for
    /// some "after" rule (the union of their allowed bytes).
    #[inline]
    fn before_allows(&self, hay: &[u8], start: usize) -> bool {
        self.before.iter().enumerate().all(|(back, set)| {
            set.as_ref().is_none_or(|set| {
                start
                    .checked_sub(back + 1)
                    .is_some_and(|j| set[usize::from(hay[j])])
            })
        })
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
    let after_min = t.after_min();
    // The next block's masks, once a cluster crossing into it needed them.
    let mut ahead: Option<Option<(u64, u64)>> = None;
    while i + 64 + 3 <= limit.min(to + 3) && i + 64 <= to {
        let Ok(block) = <&[u8; 64]>::try_from(&hay[i..i + 64]) else {
            break;
        };
        let (d, s) = ahead.take().flatten().unwrap_or_else(|| masks(block));
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
        if let Some(min_after) = after_min {
            // Starts only an "after" rule could want: check the bytes
            // before them.
            let mut maybe = runs_at_least(open, min_after) & starts & !wanted;
            while maybe != 0 {
                let k = maybe.trailing_zeros();
                maybe &= maybe - 1;
                if t.before_allows(hay, i + k as usize) {
                    wanted |= 1 << k;
                }
            }
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
            let most_digits = if k + run + 3 < 64 && run + 3 < CLUSTER_CAP {
                Some((d & (((1u64 << run) - 1) << k)).count_ones())
            } else {
                // The cluster may cross the block end, where bridges are
                // unknown: bound its digits by those of the run of digits
                // and separators from `k`, continued into the next block.
                let ds = d | s;
                let run = (!(ds >> k)).trailing_zeros() as usize;
                if k + run < 64 {
                    Some((d & (((1u64 << run) - 1) << k)).count_ones())
                } else {
                    let next = *ahead.get_or_insert_with(|| {
                        hay.get(i + 64..i + 128)
                            .filter(|_| i + 128 <= limit)
                            .and_then(|b| <&[u8; 64]>::try_from(b).ok())
                            .map(masks)
                    });
                    next.and_then(|(dn, sn)| {
                        let more = (!(dn | sn)).trailing_zeros();
                        (more < 64).then(|| {
                            (d >> k).count_ones() + (dn & ((1u64 << more) - 1)).count_ones()
                        })
                    })
                }
            };
            if most_digits.is_some_and(|n| !t.wants(hay, start, n)) {
                continue;
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
        Threshold::new(1, Vec::new())
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

    fn table(bytes: impl IntoIterator<Item = u8>) -> [bool; 256] {
        let mut t = [false; 256];
        for b in bytes {
            t[usize::from(b)] = true;
        }
        t
    }

    #[test]
    fn block_masks_agree_with_the_byte_loop() {
        let mut text = String::new();
        for i in 0..400u32 {
            let n = i.wrapping_mul(2654435761) % 100000;
            let sep = ["-", " ", "  ", "   ", ".", ",", "(", ") ", "x", "/"][(i % 10) as usize];
            let lead = ["", "GB", "ab", "Q ", "Zx", "", "DE", " ", "q", "AB "][(i % 7) as usize];
            text.push_str(&format!("{lead}{n}{sep}"));
        }
        let hay = text.as_bytes();
        let upper = table(b'A'..=b'Z');
        let upper_space = table((b'A'..=b'Z').chain([b' ']));
        let afters = [
            Vec::new(),
            // IBAN-like (two capitals) and NINO-like (capitals, a space).
            vec![(2, vec![upper, upper]), (6, vec![upper_space, upper])],
            // One position only, and a class too wide for SIMD.
            vec![(3, vec![table((0..=255u8).step_by(3))])],
        ];
        for after in afters {
            for min in [1, 3, 6, 9] {
                let t = Threshold::new(min, after.clone());
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
                assert_eq!(fast, slow, "min {min}, after {:?}", after.len());
            }
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
