//! Planning which Teddy bucket each trigger literal lands in.
//!
//! Teddy fingerprints the first (up to) four bytes of every literal by
//! their low and high nibbles, one nibble set per position and bucket; a
//! position is a candidate for a bucket when each of its bytes has both
//! nibbles in that bucket's sets, and every candidate is verified against
//! all of the bucket's literals. Literals sharing a bucket widen its sets,
//! so the same literals cost very different amounts of verification
//! depending on how they are grouped: on English prose one grouping of the
//! built-in triggers verified three times as many positions as another.
//!
//! aho-corasick groups literals whose first bytes share low nibbles into one
//! bucket (case variants stay together) and places each group by the
//! position of its first literal in the insertion order (bucket
//! `buckets - 1 - id % buckets`, searched in insertion order with
//! leftmost-first semantics). [`plan`] chooses the groups' buckets greedily
//! to minimise the expected candidates per byte under a model of typical
//! text (English words, JSON and log punctuation, digits, UTF-8), then
//! returns an insertion order that realises that placement. Which positions
//! are reported does not depend on the order; only the speed does, so a
//! different aho-corasick version can at worst make the search slower.

/// The most bytes Teddy fingerprints: the shortest literal's length, at
/// most four (aho-corasick 1.1's `min(4, minimum_len)`).
const MASK_LEN: usize = 4;

/// Relative byte frequencies of typical scanned text (English prose, JSON,
/// CSV and logs, some UTF-8), per mille; bytes not listed are 0.05.
fn frequency(b: u8) -> f64 {
    // English letter frequencies, per mille, a..z.
    const LETTERS: [f64; 26] = [
        82.0, 15.0, 28.0, 43.0, 127.0, 22.0, 20.0, 61.0, 70.0, 1.5, 8.0, 40.0, 24.0, 67.0, 75.0,
        19.0, 1.0, 60.0, 63.0, 91.0, 28.0, 10.0, 24.0, 1.5, 20.0, 0.7,
    ];
    match b {
        b'a'..=b'z' => LETTERS[usize::from(b - b'a')] * 0.55,
        b'A'..=b'Z' => LETTERS[usize::from(b - b'A')] * 0.06,
        b' ' => 140.0,
        b'0'..=b'9' => 9.0,
        b'"' | b',' | b'.' | b':' | b'\n' => 12.0,
        b'-' | b'_' | b'/' | b'=' | b'{' | b'}' | b'(' | b')' | b'\'' | b';' | b'[' | b']' => 4.0,
        0x80..=0xff => 0.25,
        _ => 0.05,
    }
}

/// Nibble sets of one bucket: per fingerprinted position, the low and high
/// nibbles its literals have there (bit n: nibble n).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Nibbles {
    lo: [u16; MASK_LEN],
    hi: [u16; MASK_LEN],
}

impl Nibbles {
    fn of(literal: &[u8], len: usize) -> Nibbles {
        let mut n = Nibbles::default();
        for (j, &b) in literal.iter().take(len).enumerate() {
            n.lo[j] |= 1 << (b & 0xF);
            n.hi[j] |= 1 << (b >> 4);
        }
        n
    }

    fn union(self, other: Nibbles) -> Nibbles {
        let mut n = self;
        for j in 0..MASK_LEN {
            n.lo[j] |= other.lo[j];
            n.hi[j] |= other.hi[j];
        }
        n
    }

    /// Expected candidates per byte position for a bucket with these sets.
    fn noise(&self, len: usize) -> f64 {
        if self.lo[0] == 0 {
            return 0.0;
        }
        let total: f64 = (0..=255u8).map(frequency).sum();
        (0..len)
            .map(|j| {
                (0..=255u8)
                    .filter(|&b| {
                        self.lo[j] & (1 << (b & 0xF)) != 0 && self.hi[j] & (1 << (b >> 4)) != 0
                    })
                    .map(frequency)
                    .sum::<f64>()
                    / total
            })
            .product()
    }
}

/// Literals whose fingerprinted bytes share their low nibbles: Teddy keeps
/// them in one bucket.
struct Group {
    key: Vec<u8>,
    members: Vec<Vec<u8>>,
    nibbles: Nibbles,
}

/// The insertion order of `literals` (deduplicated) that places them in
/// `buckets` Teddy buckets with little expected verification, and that
/// plan's expected candidates per byte. The order may repeat a literal to
/// fill a position that no group's first literal should take; callers that
/// cannot take that many literals use the literals as given.
pub(crate) fn plan(literals: &[Vec<u8>], buckets: usize) -> (Vec<Vec<u8>>, f64) {
    let len = literals
        .iter()
        .map(Vec::len)
        .min()
        .unwrap_or(0)
        .min(MASK_LEN);
    let mut lits: Vec<Vec<u8>> = literals.to_vec();
    lits.sort();
    lits.dedup();
    if len == 0 || buckets == 0 {
        return (lits, 0.0);
    }
    let mut groups: Vec<Group> = Vec::new();
    for lit in lits {
        let key: Vec<u8> = lit[..len].iter().map(|b| b & 0xF).collect();
        let nibbles = Nibbles::of(&lit, len);
        match groups.iter_mut().find(|g| g.key == key) {
            Some(g) => {
                g.members.push(lit);
                g.nibbles = g.nibbles.union(nibbles);
            }
            None => groups.push(Group {
                key,
                members: vec![lit],
                nibbles,
            }),
        }
    }
    // Noisiest groups first, each into the bucket it makes least noisier.
    groups.sort_by(|a, b| {
        b.nibbles
            .noise(len)
            .total_cmp(&a.nibbles.noise(len))
            .then(a.key.cmp(&b.key))
    });
    let mut sets = vec![Nibbles::default(); buckets];
    let mut placed: Vec<Vec<usize>> = vec![Vec::new(); buckets];
    for (gi, group) in groups.iter().enumerate() {
        let cost = |b: usize| sets[b].union(group.nibbles).noise(len) - sets[b].noise(len);
        let best = (0..buckets)
            .min_by(|&x, &y| cost(x).total_cmp(&cost(y)).then(x.cmp(&y)))
            .unwrap_or(0);
        sets[best] = sets[best].union(group.nibbles);
        placed[best].push(gi);
    }
    let noise = sets.iter().map(|s| s.noise(len)).sum();
    (order(&groups, &placed, buckets), noise)
}

/// Lays the groups out so that each group's first literal sits at an
/// index `i` with `buckets - 1 - i % buckets` equal to its bucket.
fn order(groups: &[Group], placed: &[Vec<usize>], buckets: usize) -> Vec<Vec<u8>> {
    // Per bucket, the groups still to lead (popped from the back).
    let mut leaders: Vec<Vec<usize>> = placed
        .iter()
        .map(|g| g.iter().rev().copied().collect())
        .collect();
    // Literals that may go anywhere: the other members of groups whose
    // first literal is already placed.
    let mut free: Vec<Vec<u8>> = Vec::new();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let lead = |gi: usize, out: &mut Vec<Vec<u8>>, free: &mut Vec<Vec<u8>>| {
        out.push(groups[gi].members[0].clone());
        free.extend(groups[gi].members[1..].iter().cloned());
    };
    loop {
        let bucket = buckets - 1 - out.len() % buckets;
        if let Some(gi) = leaders[bucket].pop() {
            lead(gi, &mut out, &mut free);
        } else if let Some(lit) = free.pop() {
            out.push(lit);
        } else if leaders.iter().all(Vec::is_empty) {
            break;
        } else if let Some(first) = out.first().cloned() {
            // Nothing may go here: repeat an already placed literal (it
            // joins its own group's bucket, wherever it stands).
            out.push(first);
        } else if let Some(gi) = leaders.iter_mut().find_map(Vec::pop) {
            // The very first index belongs to an empty bucket: lead with
            // any group (its bucket moves there; the plan's grouping holds).
            lead(gi, &mut out, &mut free);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket aho-corasick gives each literal for an insertion order
    /// (the rule the plan relies on).
    fn buckets_of(order: &[Vec<u8>], buckets: usize) -> Vec<(Vec<u8>, usize)> {
        let len = order.iter().map(Vec::len).min().unwrap().min(MASK_LEN);
        let mut by_key: Vec<(Vec<u8>, usize)> = Vec::new();
        let mut out = Vec::new();
        for (id, lit) in order.iter().enumerate() {
            let key: Vec<u8> = lit[..len].iter().map(|b| b & 0xF).collect();
            let bucket = match by_key.iter().find(|(k, _)| *k == key) {
                Some((_, b)) => *b,
                None => {
                    let b = buckets - 1 - id % buckets;
                    by_key.push((key, b));
                    b
                }
            };
            out.push((lit.clone(), bucket));
        }
        out
    }

    fn lits(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn the_order_realises_the_plan_and_keeps_every_literal() {
        let input = lits(&[
            "sk-", "sk_live_", "ghp_", "gho_", "github_p", "glpat-", "AKIA", "ASIA", "eyJ",
            "xoxb-", "npm_", "pypi-AgE", "SG.", "-----BEG", "https://", "AIza", "rk_live_",
        ]);
        for buckets in [8, 16] {
            let (order, noise) = plan(&input, buckets);
            assert!(noise > 0.0);
            let mut seen: Vec<Vec<u8>> = order.clone();
            seen.sort();
            seen.dedup();
            let mut want = input.clone();
            want.sort();
            assert_eq!(seen, want);
            // Groups with different buckets in the plan stay apart.
            let placed = buckets_of(&order, buckets);
            let used: std::collections::BTreeSet<usize> = placed.iter().map(|(_, b)| *b).collect();
            assert!(used.len() > 1);
        }
    }

    #[test]
    fn planning_beats_insertion_order_on_the_model() {
        let input = lits(&[
            "gho_", "ghp_", "ghr_", "ghs_", "ghu_", "github_p", "glpat-", "eyJ", "npm_",
            "pypi-AgE", "rk_live_", "sk-", "sk_live_", "xoxb-", "AKIA", "ASIA", "ABIA", "ACCA",
            "AIza", "SG.",
        ]);
        let len = 3;
        let naive = |order: &[Vec<u8>]| -> f64 {
            let mut sets = [Nibbles::default(); 8];
            for (lit, b) in buckets_of(order, 8) {
                sets[b] = sets[b].union(Nibbles::of(&lit, len));
            }
            sets.iter().map(|s| s.noise(len)).sum()
        };
        let (order, noise) = plan(&input, 8);
        assert!(
            (naive(&order) - noise).abs() < 1e-12,
            "{} vs {noise}",
            naive(&order)
        );
        assert!(noise <= naive(&input), "{noise} vs {}", naive(&input));
    }
}
