//! Literal prefilters: one SIMD (Teddy) pass for case-sensitive literals and
//! one for case-insensitive literals, searched through the lower-case,
//! upper-case and capitalised forms of their first three bytes and confirmed
//! in full (so `PASSWORD`, `Password`, `passWORD` are found; `pAssword` is
//! not).

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind, Span};

/// A multi-literal searcher that reports every position where some literal
/// starts (restarting one byte after each hit), longest literal first.
pub(crate) enum Finder {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl Finder {
    fn new(lits: &[Vec<u8>]) -> Option<Finder> {
        let mut pb = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostLongest)
            .builder();
        pb.extend(lits);
        if let Some(s) = pb.build() {
            return Some(Finder::Packed(s));
        }
        // Teddy gives up above 64 literals by default; up to 128 it is
        // still far faster than an automaton on text.
        let mut pb = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostLongest)
            .heuristic_pattern_limits(false)
            .builder();
        pb.extend(lits);
        if let Some(s) = pb.build() {
            return Some(Finder::Packed(s));
        }
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(lits)
            .ok()
            .or_else(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(lits)
                    .ok()
            })
            .map(Finder::Automaton)
    }

    /// The next (position, literal index) at or after `from`, starting
    /// before `to`, looking at bytes up to `limit`.
    #[inline]
    fn next(&self, hay: &[u8], from: usize, limit: usize) -> Option<(usize, usize)> {
        if from >= limit {
            return None;
        }
        match self {
            Finder::Packed(s) => s
                .find_in(hay, Span::from(from..limit))
                .map(|m| (m.start(), m.pattern().as_usize())),
            Finder::Automaton(ac) => ac
                .find(Input::new(hay).span(from..limit))
                .map(|m| (m.start(), m.pattern().as_usize())),
        }
    }
}

/// Case-sensitive literals, each with the patterns it triggers (including the
/// patterns of every literal that is a prefix of it).
pub(crate) struct LiteralSet {
    finder: Finder,
    /// Per literal: (pattern index, literal length) pairs to verify.
    pub targets: Vec<Vec<(u32, u32)>>,
    pub max_len: usize,
}

impl LiteralSet {
    /// Builds from (literal, pattern) pairs.
    pub fn new(pairs: &[(Vec<u8>, u32)]) -> Option<LiteralSet> {
        let mut lits: Vec<Vec<u8>> = pairs.iter().map(|(l, _)| l.clone()).collect();
        lits.sort();
        lits.dedup();
        if lits.is_empty() {
            return None;
        }
        let targets = lits
            .iter()
            .map(|lit| {
                let mut t: Vec<(u32, u32)> = pairs
                    .iter()
                    .filter(|(l, _)| lit.starts_with(l))
                    .map(|(l, p)| (*p, l.len() as u32))
                    .collect();
                t.sort_unstable();
                t.dedup_by_key(|x| x.0);
                t
            })
            .collect();
        let max_len = lits.iter().map(Vec::len).max().unwrap_or(0);
        Some(LiteralSet {
            finder: Finder::new(&lits)?,
            targets,
            max_len,
        })
    }

    /// Calls `f(position, literal index)` for every literal start in
    /// `[from, to)`; literals may extend to `limit`.
    #[inline]
    pub fn for_each(
        &self,
        hay: &[u8],
        from: usize,
        to: usize,
        limit: usize,
        mut f: impl FnMut(usize, usize),
    ) {
        let mut at = from;
        while let Some((p, lit)) = self.finder.next(hay, at, limit) {
            if p >= to {
                break;
            }
            f(p, lit);
            at = p + 1;
        }
    }
}

/// ASCII case-insensitive literals.
pub(crate) struct CiLiteralSet {
    finder: Finder,
    /// Lower-cased literals.
    pub literals: Vec<Vec<u8>>,
    /// Per literal: pattern indexes to verify.
    pub targets: Vec<Vec<u32>>,
    /// Literal indexes by lower-cased first byte.
    by_first: Vec<Vec<u32>>,
    pub max_len: usize,
}

const VARIANT_PREFIX: usize = 3;

/// The lower-case, upper-case and capitalised forms of `prefix` (three
/// forms keep the SIMD literal set small enough for Teddy; the full literal
/// is then compared case-insensitively).
fn variants(prefix: &[u8]) -> Vec<Vec<u8>> {
    let lower = prefix.to_ascii_lowercase();
    let upper = prefix.to_ascii_uppercase();
    let mut capital = lower.clone();
    if let Some(first) = capital.first_mut() {
        *first = first.to_ascii_uppercase();
    }
    let mut out = vec![lower, upper, capital];
    out.sort();
    out.dedup();
    out
}

impl CiLiteralSet {
    /// Builds from (literal, pattern) pairs.
    pub fn new(pairs: &[(Vec<u8>, u32)]) -> Option<CiLiteralSet> {
        let mut literals: Vec<Vec<u8>> =
            pairs.iter().map(|(l, _)| l.to_ascii_lowercase()).collect();
        literals.sort();
        literals.dedup();
        if literals.is_empty() {
            return None;
        }
        let targets: Vec<Vec<u32>> = literals
            .iter()
            .map(|lit| {
                let mut t: Vec<u32> = pairs
                    .iter()
                    .filter(|(l, _)| l.to_ascii_lowercase() == *lit)
                    .map(|(_, p)| *p)
                    .collect();
                t.sort_unstable();
                t.dedup();
                t
            })
            .collect();
        let mut prefixes: Vec<Vec<u8>> = literals
            .iter()
            .flat_map(|l| variants(&l[..l.len().min(VARIANT_PREFIX)]))
            .collect();
        prefixes.sort();
        prefixes.dedup();
        let mut by_first = vec![Vec::new(); 256];
        for (i, l) in literals.iter().enumerate() {
            by_first[usize::from(l[0])].push(i as u32);
        }
        let max_len = literals.iter().map(Vec::len).max().unwrap_or(0);
        Some(CiLiteralSet {
            finder: Finder::new(&prefixes)?,
            literals,
            targets,
            by_first,
            max_len,
        })
    }

    /// Calls `f(position, literal index)` for every occurrence of a literal
    /// starting in `[from, to)`; literals may extend to `limit`.
    #[inline]
    pub fn for_each(
        &self,
        hay: &[u8],
        from: usize,
        to: usize,
        limit: usize,
        mut f: impl FnMut(usize, usize),
    ) {
        let mut at = from;
        while let Some((p, _)) = self.finder.next(hay, at, limit) {
            if p >= to {
                break;
            }
            let first = usize::from(hay[p].to_ascii_lowercase());
            for &li in &self.by_first[first] {
                let lit = &self.literals[li as usize];
                if p + lit.len() <= limit && hay[p..p + lit.len()].eq_ignore_ascii_case(lit) {
                    f(p, li as usize);
                }
            }
            at = p + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_start_position_is_reported_with_prefix_closure() {
        let set = LiteralSet::new(&[(b"sk-".to_vec(), 0), (b"sk-ant-".to_vec(), 1)]).unwrap();
        let hay = b"x sk-ant-abc sk-z";
        let mut hits = Vec::new();
        set.for_each(hay, 0, hay.len(), hay.len(), |p, l| {
            hits.push((p, set.targets[l].clone()))
        });
        assert_eq!(hits, vec![(2, vec![(0, 3), (1, 7)]), (13, vec![(0, 3)])]);
    }

    #[test]
    fn case_insensitive_literals_match_any_case() {
        let set = CiLiteralSet::new(&[(b"password".to_vec(), 0), (b"pwd".to_vec(), 1)]).unwrap();
        let hay = b"PassWord=1 PWD=2 passw";
        let mut hits = Vec::new();
        set.for_each(hay, 0, hay.len(), hay.len(), |p, l| {
            hits.push((p, set.targets[l].clone()))
        });
        assert_eq!(hits, vec![(0, vec![0]), (11, vec![1])]);
    }
}
