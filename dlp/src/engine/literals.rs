//! Literal prefilters: SIMD (Teddy) passes for case-sensitive literals and
//! one for case-insensitive literals, searched through the lower-case,
//! upper-case and capitalised forms of their first three bytes and
//! confirmed in full (so `PASSWORD`, `Password`, `passWORD`, `Tel` are
//! found; `pAssword` is not).

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
        // Slim Teddy (8 buckets, 32 bytes a step) with the literals ordered
        // so that few positions need verifying; leftmost-first keeps the
        // insertion order the bucket order (positions reported are the same
        // for any match kind). Teddy gives up above 64 literals by default;
        // up to 128 it is still far faster than an automaton on text.
        let (mut ordered, _) = super::bucket_plan::plan(lits, 8);
        if ordered.len() > PACKED_LIMIT {
            // Padding pushed the plan past what the packed searcher takes.
            ordered = lits.to_vec();
        }
        for limits in [true, false] {
            let mut pb = packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .only_teddy_fat(Some(false))
                .heuristic_pattern_limits(limits)
                .builder();
            pb.extend(&ordered);
            if let Some(s) = pb.build() {
                return Some(Finder::Packed(s));
            }
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

const VARIANT_PREFIX: usize = 3;

/// The most literals aho-corasick's packed searcher accepts.
const PACKED_LIMIT: usize = 128;

/// The forms of a case-insensitive literal that Teddy searches for: its
/// first three bytes in lower case, upper case and capitalised, followed by
/// its fourth byte in either case. Teddy fingerprints the first three bytes
/// of the shortest literals; the fourth is checked inside Teddy's own
/// verification, so `api/` or `secu` never leave the SIMD loop as hits for
/// `apikey` or `secret`. Which texts match is the same as with three-byte
/// forms: the rest of the literal is compared case-insensitively after the
/// hit.
fn variants(literal: &[u8]) -> Vec<Vec<u8>> {
    let head = &literal[..literal.len().min(VARIANT_PREFIX)];
    let lower = head.to_ascii_lowercase();
    let upper = head.to_ascii_uppercase();
    let mut capital = lower.clone();
    if let Some(first) = capital.first_mut() {
        *first = first.to_ascii_uppercase();
    }
    let heads = [lower, upper, capital];
    let mut out = Vec::new();
    for head in heads {
        match literal.get(VARIANT_PREFIX) {
            None => out.push(head),
            Some(&fourth) => {
                for b in [fourth.to_ascii_lowercase(), fourth.to_ascii_uppercase()] {
                    let mut form = head.clone();
                    form.push(b);
                    out.push(form);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Every trigger literal, case-sensitive and ASCII case-insensitive, found
/// in one or two SIMD passes: Teddy searches the literals' prefixes (shortened until
/// at most 32 remain, and the lower-case, upper-case and capitalised forms
/// of case-insensitive literals' first three bytes), and each hit is
/// confirmed against the full literals starting with that byte.
pub(crate) struct LiteralTriggers {
    /// One finder for both kinds when their prefixes fit slim Teddy
    /// (32), else one per kind (case-sensitive first): two slim passes beat
    /// one fat pass.
    finders: Vec<(Finder, Kinds)>,
    /// Case-sensitive literals and the patterns each triggers.
    cs: Vec<(Vec<u8>, Vec<u32>)>,
    /// Lower-cased case-insensitive literals and their patterns.
    ci: Vec<(Vec<u8>, Vec<u32>)>,
    cs_by_first: Vec<Vec<u32>>,
    ci_by_first: Vec<Vec<u32>>,
    pub max_len: usize,
}

/// Which literal lists a finder's hits are confirmed against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kinds {
    Both,
    Sensitive,
    Insensitive,
}

fn shortened(cs: &[(Vec<u8>, Vec<u32>)], extra: &[Vec<u8>], budget: usize) -> Vec<Vec<u8>> {
    let mut prefixes = Vec::new();
    for keep in (VARIANT_PREFIX..=8).rev() {
        prefixes = cs
            .iter()
            .map(|(l, _)| l[..l.len().min(keep)].to_vec())
            .chain(extra.iter().cloned())
            .collect();
        prefixes.sort();
        prefixes.dedup();
        if prefixes.len() <= budget {
            break;
        }
    }
    prefixes
}

fn group(pairs: &[(Vec<u8>, u32)], lower: bool) -> Vec<(Vec<u8>, Vec<u32>)> {
    let mut out: Vec<(Vec<u8>, Vec<u32>)> = Vec::new();
    for (lit, p) in pairs {
        let lit = if lower {
            lit.to_ascii_lowercase()
        } else {
            lit.clone()
        };
        match out.iter_mut().find(|(l, _)| *l == lit) {
            Some((_, ps)) => {
                if !ps.contains(p) {
                    ps.push(*p);
                }
            }
            None => out.push((lit, vec![*p])),
        }
    }
    out.sort();
    out
}

impl LiteralTriggers {
    /// Builds from case-sensitive and case-insensitive (literal, pattern)
    /// pairs; `None` when both are empty.
    pub fn new(
        cs_pairs: &[(Vec<u8>, u32)],
        ci_pairs: &[(Vec<u8>, u32)],
    ) -> Option<LiteralTriggers> {
        let cs = group(cs_pairs, false);
        let ci = group(ci_pairs, true);
        if cs.is_empty() && ci.is_empty() {
            return None;
        }
        let mut ci_prefixes: Vec<Vec<u8>> = ci.iter().flat_map(|(l, _)| variants(l)).collect();
        ci_prefixes.sort();
        ci_prefixes.dedup();
        let both = shortened(&cs, &ci_prefixes, 32);
        let mut finders = Vec::new();
        if both.len() <= 32 {
            finders.push((Finder::new(&both)?, Kinds::Both));
        } else {
            if !cs.is_empty() {
                finders.push((Finder::new(&shortened(&cs, &[], 32))?, Kinds::Sensitive));
            }
            if !ci_prefixes.is_empty() {
                finders.push((Finder::new(&ci_prefixes)?, Kinds::Insensitive));
            }
        }
        let mut cs_by_first = vec![Vec::new(); 256];
        for (i, (l, _)) in cs.iter().enumerate() {
            cs_by_first[usize::from(l[0])].push(i as u32);
        }
        let mut ci_by_first = vec![Vec::new(); 256];
        for (i, (l, _)) in ci.iter().enumerate() {
            ci_by_first[usize::from(l[0])].push(i as u32);
        }
        let max_len = cs
            .iter()
            .chain(&ci)
            .map(|(l, _)| l.len())
            .max()
            .unwrap_or(0);
        Some(LiteralTriggers {
            finders,
            cs,
            ci,
            cs_by_first,
            ci_by_first,
            max_len,
        })
    }

    /// Calls `f(position, literal length, patterns)` for every literal
    /// occurrence starting in `[from, to)`; literals may extend to `limit`.
    #[inline]
    pub fn for_each(
        &self,
        hay: &[u8],
        from: usize,
        to: usize,
        limit: usize,
        mut f: impl FnMut(usize, usize, &[u32]),
    ) {
        for (finder, kinds) in &self.finders {
            let mut at = from;
            while let Some((p, _)) = finder.next(hay, at, limit) {
                if p >= to {
                    break;
                }
                let rest = &hay[p..limit];
                if *kinds != Kinds::Insensitive {
                    for &li in &self.cs_by_first[usize::from(hay[p])] {
                        let (lit, pats) = &self.cs[li as usize];
                        if rest.starts_with(lit) {
                            f(p, lit.len(), pats);
                        }
                    }
                }
                if *kinds != Kinds::Sensitive {
                    for &li in &self.ci_by_first[usize::from(hay[p].to_ascii_lowercase())] {
                        let (lit, pats) = &self.ci[li as usize];
                        if rest.len() >= lit.len() && rest[..lit.len()].eq_ignore_ascii_case(lit) {
                            f(p, lit.len(), pats);
                        }
                    }
                }
                at = p + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(t: &LiteralTriggers, hay: &[u8]) -> Vec<(usize, usize, Vec<u32>)> {
        let mut out = Vec::new();
        t.for_each(hay, 0, hay.len(), hay.len(), |p, len, pats| {
            out.push((p, len, pats.to_vec()))
        });
        out
    }

    #[test]
    fn every_literal_at_every_position_is_reported() {
        let t = LiteralTriggers::new(
            &[(b"sk-".to_vec(), 0), (b"sk-ant-".to_vec(), 1)],
            &[(b"password".to_vec(), 2), (b"pwd".to_vec(), 3)],
        )
        .unwrap();
        assert_eq!(
            hits(&t, b"x sk-ant-abc sk-z PassWord=1 PWD=2 passw"),
            vec![
                (2, 3, vec![0]),
                (2, 7, vec![1]),
                (13, 3, vec![0]),
                (18, 8, vec![2]),
                (29, 3, vec![3])
            ]
        );
    }

    #[test]
    fn capitalised_three_letter_words_are_found() {
        let t = LiteralTriggers::new(
            &[],
            &[
                (b"tel".to_vec(), 0),
                (b"pwd".to_vec(), 1),
                (b"pwdhash".to_vec(), 2),
            ],
        )
        .unwrap();
        assert_eq!(
            hits(&t, b"Tel: 1, Pwd=2, PwdHash=3, tEl"),
            vec![
                (0, 3, vec![0]),
                (8, 3, vec![1]),
                (15, 3, vec![1]),
                (15, 7, vec![2])
            ]
        );
    }

    #[test]
    fn many_literals_are_shortened_to_shared_prefixes() {
        let cs: Vec<(Vec<u8>, u32)> = (0..200)
            .map(|i| (format!("CUST{i}X-").into_bytes(), i))
            .collect();
        let t = LiteralTriggers::new(&cs, &[]).unwrap();
        assert!(matches!(t.finders[0].0, Finder::Packed(_)));
        assert_eq!(hits(&t, b"a CUST17X-b"), vec![(2, 8, vec![17])]);
    }
}
