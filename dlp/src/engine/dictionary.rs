//! Whole-word keyword dictionaries: the text is tokenised into words and each
//! word is looked up in a hash table (behind a small bit filter), so cost does
//! not grow with the number of keywords. Phrases are found through their
//! first word and confirmed word by word.
//!
//! Word bytes are ASCII letters, digits, `_` and every byte >= 0x80 (so
//! Korean words are words). Words in a phrase may be separated by one to
//! three non-word bytes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Longest word considered, in bytes.
pub(crate) const MAX_WORD: usize = 64;
const MAX_GAP: usize = 3;
const FILTER_BITS: usize = 1 << 18;

static WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
        i += 1;
    }
    t
};

#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    WORD[usize::from(b)]
}

/// Word-byte mask of 16 bytes (bit k: byte k).
#[cfg(target_arch = "x86_64")]
#[inline]
fn word_mask16(b: &[u8; 16]) -> u64 {
    use super::bytemask::in_range as lanes_in_range;
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline; the load reads exactly
    // the 16 bytes of `b` (unaligned loads are allowed).
    unsafe {
        let x = _mm_loadu_si128(b.as_ptr().cast());
        let in_range = |lo: u8, len: u8| lanes_in_range(x, lo, len);
        let ascii = _mm_or_si128(
            _mm_or_si128(in_range(b'0', 10), in_range(b'A', 26)),
            _mm_or_si128(
                in_range(b'a', 26),
                _mm_cmpeq_epi8(x, _mm_set1_epi8(b'_' as i8)),
            ),
        );
        // Bytes >= 0x80 have their top bit set: movemask of `x` itself.
        let m = _mm_movemask_epi8(ascii) | _mm_movemask_epi8(x);
        u64::from(m as u16)
    }
}

/// Word-byte mask of 16 bytes (bit k: byte k).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn word_mask16(b: &[u8; 16]) -> u64 {
    let mut m = 0u64;
    for (k, &c) in b.iter().enumerate() {
        m |= u64::from(is_word(c)) << k;
    }
    m
}

#[inline]
fn word_mask(block: &[u8; 64]) -> u64 {
    super::bytemask::mask64(block, word_mask16)
}

#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0 ^ 0x9E37_79B9_7F4A_7C15;
        for chunk in bytes.chunks(8) {
            let mut v = [0u8; 8];
            v[..chunk.len()].copy_from_slice(chunk);
            h = (h ^ u64::from_le_bytes(v)).wrapping_mul(0x2545_F491_4F6C_DD1D);
            h ^= h >> 29;
        }
        self.0 = h;
    }
}

struct Entry {
    /// Following words of a phrase (lower-cased unless case-sensitive).
    rest: Vec<Vec<u8>>,
    /// The first word as written (for case-sensitive comparison).
    first: Vec<u8>,
    case_sensitive: bool,
    pattern: u32,
}

/// A compiled whole-word dictionary.
pub(crate) struct Dictionary {
    table: HashMap<Box<[u8]>, Vec<Entry>, BuildHasherDefault<WordHasher>>,
    filter: Vec<u64>,
    min_word: usize,
    max_word: usize,
    /// Longest keyword in bytes (with maximal gaps).
    pub max_len: usize,
}

#[inline]
fn filter_index(word_lower_first: u8, second: u8, last: u8, len: usize) -> usize {
    let x = (u32::from(word_lower_first) << 16) ^ (u32::from(second) << 8) ^ u32::from(last);
    let h = (x ^ ((len as u32) << 24)).wrapping_mul(0x9E37_79B1);
    (h >> 14) as usize & (FILTER_BITS - 1)
}

fn split_words(keyword: &str) -> Vec<Vec<u8>> {
    keyword
        .as_bytes()
        .split(|&b| !is_word(b))
        .filter(|w| !w.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

impl Dictionary {
    /// Builds from (keyword, case-sensitive, pattern) triples; keywords with
    /// a word longer than [`MAX_WORD`] or without words are skipped and
    /// returned as rejected.
    pub fn new(keywords: &[(String, bool, u32)]) -> (Option<Dictionary>, Vec<String>) {
        let mut table: HashMap<Box<[u8]>, Vec<Entry>, BuildHasherDefault<WordHasher>> =
            HashMap::default();
        let mut filter = vec![0u64; FILTER_BITS / 64];
        let (mut min_word, mut max_word, mut max_len) = (usize::MAX, 0, 0);
        let mut rejected = Vec::new();
        for (kw, cs, pattern) in keywords {
            let words = split_words(kw);
            if words.is_empty() || words.iter().any(|w| w.len() > MAX_WORD) {
                rejected.push(kw.clone());
                continue;
            }
            let first = words[0].clone();
            let lower: Vec<u8> = first.to_ascii_lowercase();
            let second = lower.get(1).copied().unwrap_or(0);
            let idx = filter_index(lower[0], second, lower[lower.len() - 1], lower.len());
            filter[idx / 64] |= 1 << (idx % 64);
            min_word = min_word.min(first.len());
            max_word = max_word.max(first.len());
            let len: usize =
                words.iter().map(Vec::len).sum::<usize>() + MAX_GAP * (words.len() - 1);
            max_len = max_len.max(len);
            let rest = words[1..]
                .iter()
                .map(|w| {
                    if *cs {
                        w.clone()
                    } else {
                        w.to_ascii_lowercase()
                    }
                })
                .collect();
            table
                .entry(lower.into_boxed_slice())
                .or_default()
                .push(Entry {
                    rest,
                    first,
                    case_sensitive: *cs,
                    pattern: *pattern,
                });
        }
        if table.is_empty() {
            return (None, rejected);
        }
        (
            Some(Dictionary {
                table,
                filter,
                min_word,
                max_word,
                max_len,
            }),
            rejected,
        )
    }

    /// Calls `f(start, end, pattern)` for every keyword occurrence whose
    /// first word starts in `[from, to)`; words may extend to `limit`.
    #[inline]
    pub fn for_each(
        &self,
        hay: &[u8],
        from: usize,
        to: usize,
        limit: usize,
        mut f: impl FnMut(usize, usize, u32),
    ) {
        let mut i = from;
        // A word that started before `from` is not ours: skip its tail.
        if i > 0 && i < to && is_word(hay[i - 1]) {
            while i < to && is_word(hay[i]) {
                i += 1;
            }
        }
        let mut lower = [0u8; MAX_WORD];
        // Blocks of 64 bytes: word starts and lengths from a bit mask, so
        // only candidate words cost more than a few instructions.
        while i + 64 <= to {
            let Ok(block) = <&[u8; 64]>::try_from(&hay[i..i + 64]) else {
                break;
            };
            let w = word_mask(block);
            let prev = u64::from(i > 0 && is_word(hay[i - 1]));
            let mut starts = w & !((w << 1) | prev);
            let mut next = i + 64;
            while starts != 0 {
                let k = starts.trailing_zeros() as usize;
                starts &= starts - 1;
                let start = i + k;
                let run = (!(w >> k)).trailing_zeros() as usize;
                let end = if k + run < 64 {
                    start + run
                } else {
                    // The word runs past the block: finish it byte by byte.
                    let mut e = i + 64;
                    while e < limit && is_word(hay[e]) {
                        e += 1;
                    }
                    next = e;
                    e
                };
                self.word(hay, start, end, limit, &mut lower, &mut f);
            }
            i = next;
        }
        while i < to {
            while i < to && !WORD[usize::from(hay[i])] {
                i += 1;
            }
            if i >= to {
                break;
            }
            let start = i;
            while i < limit && WORD[usize::from(hay[i])] {
                i += 1;
            }
            self.word(hay, start, i, limit, &mut lower, &mut f);
        }
    }

    /// Looks up the word `hay[start..end]` (and the phrases it starts).
    /// The length and bit-filter checks, which reject nearly every word,
    /// are inlined into the tokeniser; the table lookup is not.
    #[inline(always)]
    fn word(
        &self,
        hay: &[u8],
        start: usize,
        end: usize,
        limit: usize,
        lower: &mut [u8; MAX_WORD],
        f: &mut impl FnMut(usize, usize, u32),
    ) {
        let len = end - start;
        if len < self.min_word || len > self.max_word || (end == limit && limit < hay.len()) {
            return;
        }
        let word = &hay[start..end];
        let first = word[0].to_ascii_lowercase();
        let second = word.get(1).map_or(0, u8::to_ascii_lowercase);
        let idx = filter_index(first, second, word[len - 1].to_ascii_lowercase(), len);
        if self.filter[idx / 64] & (1 << (idx % 64)) == 0 {
            return;
        }
        self.lookup(hay, start, end, limit, lower, f);
    }

    /// The hash-table half of [`Dictionary::word`], for words that passed
    /// the filter.
    #[inline(never)]
    fn lookup(
        &self,
        hay: &[u8],
        start: usize,
        end: usize,
        limit: usize,
        lower: &mut [u8; MAX_WORD],
        f: &mut impl FnMut(usize, usize, u32),
    ) {
        let len = end - start;
        let word = &hay[start..end];
        for (d, s) in lower.iter_mut().zip(word) {
            *d = s.to_ascii_lowercase();
        }
        let Some(entries) = self.table.get(&lower[..len]) else {
            return;
        };
        for e in entries {
            if e.case_sensitive && e.first != word {
                continue;
            }
            if let Some(phrase_end) = phrase_end(hay, end, limit, e) {
                f(start, phrase_end, e.pattern);
            }
        }
    }
}

fn phrase_end(hay: &[u8], mut i: usize, limit: usize, e: &Entry) -> Option<usize> {
    for w in &e.rest {
        let gap_start = i;
        while i < limit && !is_word(hay[i]) && i - gap_start < MAX_GAP {
            i += 1;
        }
        if i == gap_start || i + w.len() > limit {
            return None;
        }
        let cand = &hay[i..i + w.len()];
        let same = if e.case_sensitive {
            cand == w.as_slice()
        } else {
            cand.eq_ignore_ascii_case(w)
        };
        if !same || (i + w.len() < limit && is_word(hay[i + w.len()])) {
            return None;
        }
        i += w.len();
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_phrases_match_whole_words_case_insensitively() {
        let (d, rejected) = Dictionary::new(&[
            ("titan".into(), false, 0),
            ("project aurora".into(), false, 1),
            ("Secret".into(), true, 2),
        ]);
        assert!(rejected.is_empty());
        let d = d.unwrap();
        let hay = b"TITAN titanic project  Aurora; secret Secret";
        let mut hits = Vec::new();
        d.for_each(hay, 0, hay.len(), hay.len(), |s, e, p| hits.push((s, e, p)));
        assert_eq!(hits, vec![(0, 5, 0), (14, 29, 1), (38, 44, 2)]);
    }
}
