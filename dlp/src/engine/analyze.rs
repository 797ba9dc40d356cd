//! Static analysis of a pattern's HIR: match length bounds, literal prefixes,
//! digit counts. These decide which prefilter a pattern uses and how large
//! its verification window is.

use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// Bitmask of possible digit counts 0..=62; bit 63 means "63 or more / unknown".
pub(crate) type Counts = u64;
const MANY: Counts = 1 << 63;

/// What the analysis found out about one pattern.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// Longest possible match in bytes (None: unbounded).
    pub max_len: Option<usize>,
    /// Shortest possible match in bytes.
    pub min_len: usize,
    /// Literal prefixes every match starts with, if usable.
    pub prefixes: Option<Vec<Vec<u8>>>,
    /// Possible digit counts of a match.
    pub digits: Counts,
    /// Most bytes a match can have before its first digit.
    pub lead: usize,
    /// The match starts with an ASCII word boundary assertion.
    pub starts_at_boundary: bool,
    /// The match ends with an ASCII word boundary assertion.
    pub ends_at_boundary: bool,
}

/// Analyses `hir`.
pub(crate) fn shape(hir: &Hir) -> Shape {
    let props = hir.properties();
    let elems: &[Hir] = match hir.kind() {
        HirKind::Concat(v) => v,
        _ => std::slice::from_ref(hir),
    };
    let is_boundary = |h: &Hir| {
        matches!(
            h.kind(),
            HirKind::Look(Look::WordAscii | Look::WordStartAscii | Look::WordStartHalfAscii)
        )
    };
    let is_end_boundary = |h: &Hir| {
        matches!(
            h.kind(),
            HirKind::Look(Look::WordAscii | Look::WordEndAscii | Look::WordEndHalfAscii)
        )
    };
    Shape {
        max_len: props.maximum_len(),
        min_len: props.minimum_len().unwrap_or(0),
        prefixes: prefixes(hir),
        digits: digit_counts(hir),
        lead: lead(elems),
        starts_at_boundary: elems.first().is_some_and(is_boundary),
        ends_at_boundary: elems.last().is_some_and(is_end_boundary),
    }
}

fn prefixes(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let mut ex = Extractor::new();
    ex.kind(ExtractKind::Prefix)
        .limit_class(8)
        .limit_repeat(4)
        .limit_literal_len(12)
        .limit_total(48);
    let mut seq = ex.extract(hir);
    seq.dedup();
    let lits = seq.literals()?;
    if lits.is_empty() || lits.len() > 32 || lits.iter().any(|l| l.as_bytes().len() < 3) {
        return None;
    }
    Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

fn class_digits(c: &Class) -> Option<bool> {
    // Some(true): only digits; Some(false): no digits; None: mixed.
    let (mut has_digit, mut has_other) = (false, false);
    match c {
        Class::Bytes(b) => {
            for r in b.ranges() {
                let (s, e) = (r.start(), r.end());
                if s <= b'9' && e >= b'0' {
                    has_digit = true;
                }
                if s < b'0' || e > b'9' {
                    has_other = true;
                }
            }
        }
        Class::Unicode(u) => {
            for r in u.ranges() {
                let (s, e) = (r.start(), r.end());
                if s <= '9' && e >= '0' {
                    has_digit = true;
                }
                if s < '0' || e > '9' {
                    has_other = true;
                }
            }
        }
    }
    match (has_digit, has_other) {
        (true, false) => Some(true),
        (false, _) => Some(false),
        (true, true) => None,
    }
}

fn add(a: Counts, b: Counts) -> Counts {
    if a == 0 || b == 0 {
        return 0;
    }
    let mut out = 0;
    if a & MANY != 0 || b & MANY != 0 {
        out |= MANY;
    }
    let (a, b) = (a & !MANY, b & !MANY);
    for i in 0..63 {
        if a & (1 << i) != 0 {
            let shifted = b << i;
            out |= shifted & !MANY;
            if i > 0 && (b >> (63 - i)) != 0 {
                out |= MANY;
            }
            if shifted & MANY != 0 {
                out |= MANY;
            }
        }
    }
    out
}

/// Possible numbers of digit bytes in a match.
pub(crate) fn digit_counts(hir: &Hir) -> Counts {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 1,
        HirKind::Literal(l) => {
            let n = l.0.iter().filter(|b| b.is_ascii_digit()).count();
            if n < 63 {
                1 << n
            } else {
                MANY
            }
        }
        HirKind::Class(c) => match class_digits(c) {
            Some(true) => 1 << 1,
            Some(false) => 1,
            None => 0b11,
        },
        HirKind::Capture(c) => digit_counts(&c.sub),
        HirKind::Concat(v) => v.iter().fold(1, |acc, h| add(acc, digit_counts(h))),
        HirKind::Alternation(v) => v.iter().fold(0, |acc, h| acc | digit_counts(h)),
        HirKind::Repetition(r) => {
            let sub = digit_counts(&r.sub);
            let max = r.max.unwrap_or(64).min(64);
            let mut acc: Counts = 1;
            let mut out: Counts = if r.min == 0 { 1 } else { 0 };
            for i in 1..=max {
                acc = add(acc, sub);
                if i >= r.min {
                    out |= acc;
                }
                if acc == MANY {
                    out |= MANY;
                    break;
                }
            }
            if r.max.is_none() || r.max.is_some_and(|m| m > 64) {
                out |= MANY;
            }
            out
        }
    }
}

fn max_len(h: &Hir) -> usize {
    h.properties().maximum_len().unwrap_or(usize::MAX / 4)
}

/// Most bytes before the first digit: leading digit-free elements count in
/// full; the first element that can hold a digit counts in full as well
/// (conservative), then stop.
fn lead(elems: &[Hir]) -> usize {
    let mut n = 0usize;
    for e in elems {
        let c = digit_counts(e);
        n = n.saturating_add(max_len(e));
        if c != 1 {
            break;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(p: &str) -> Hir {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(p)
            .unwrap()
    }

    #[test]
    fn digit_counts_follow_structure() {
        let s = shape(&parse(r"\b\d{3}-\d{2}-\d{4}\b"));
        assert_eq!(s.digits, 1 << 9);
        assert!(s.starts_at_boundary && s.ends_at_boundary);
        assert_eq!(s.max_len, Some(11));
        let s = shape(&parse(r"\b4\d{3}(?:[ -]?\d{4}){3}(?:\d{3})?\b"));
        assert_eq!(s.digits, (1 << 16) | (1 << 19));
        let s = shape(&parse(r"[A-Z]{2}\d{2}"));
        assert_eq!(s.digits, 1 << 2);
        assert_eq!(s.lead, 4);
        assert_eq!(shape(&parse(r"\d+")).max_len, None);
    }

    #[test]
    fn prefixes_are_extracted_when_selective() {
        let s = shape(&parse(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"));
        let mut p = s.prefixes.unwrap();
        p.sort();
        assert_eq!(p.len(), 5);
        assert!(p.iter().all(|l| l.starts_with(b"gh")));
        assert!(shape(&parse(r"[a-z]+@")).prefixes.is_none());
    }
}

/// A 256-bit byte set.
pub(crate) type ByteSet = [u64; 4];

fn class_set(c: &Class) -> ByteSet {
    let mut set = [0u64; 4];
    let mut add = |s: u32, e: u32| {
        for b in s..=e.min(255) {
            set[(b / 64) as usize] |= 1 << (b % 64);
        }
    };
    match c {
        Class::Bytes(b) => b
            .ranges()
            .iter()
            .for_each(|r| add(u32::from(r.start()), u32::from(r.end()))),
        Class::Unicode(u) => u
            .ranges()
            .iter()
            .filter(|r| u32::from(r.start()) < 256)
            .for_each(|r| add(u32::from(r.start()), u32::from(r.end()))),
    }
    set
}

fn last_byte_set(h: &Hir) -> Option<ByteSet> {
    match h.kind() {
        HirKind::Class(c) => Some(class_set(c)),
        HirKind::Literal(l) => {
            let b = *l.0.last()?;
            let mut set = [0u64; 4];
            set[usize::from(b / 64)] |= 1 << (b % 64);
            Some(set)
        }
        HirKind::Repetition(r) if r.min >= 1 => last_byte_set(&r.sub),
        HirKind::Capture(c) => last_byte_set(&c.sub),
        _ => None,
    }
}

fn starts_with_digit(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Class(c) => class_digits(c) == Some(true),
        HirKind::Literal(l) => l.0.first().is_some_and(u8::is_ascii_digit),
        HirKind::Repetition(r) => r.min >= 1 && starts_with_digit(&r.sub),
        HirKind::Capture(c) => starts_with_digit(&c.sub),
        HirKind::Concat(v) => v.first().is_some_and(starts_with_digit),
        HirKind::Alternation(v) => v.iter().all(starts_with_digit),
        _ => false,
    }
}

/// The set of bytes that must immediately precede the first digit of every
/// match, when the pattern fixes it (e.g. `[A-Z]{2}\d{2}` → `[A-Z]`).
pub(crate) fn byte_before_first_digit(hir: &Hir) -> Option<ByteSet> {
    let elems: &[Hir] = match hir.kind() {
        HirKind::Concat(v) => v,
        _ => return None,
    };
    let k = elems.iter().position(|e| digit_counts(e) != 1)?;
    if k == 0 || !starts_with_digit(&elems[k]) {
        return None;
    }
    last_byte_set(&elems[k - 1])
}

/// `true` when `b` is in `set`.
#[inline]
pub(crate) fn in_set(set: &ByteSet, b: u8) -> bool {
    set[usize::from(b / 64)] & (1 << (b % 64)) != 0
}

/// `true` when some class mixes digits with other bytes (digit counts then
/// say little about which cluster a match's digits come from).
pub(crate) fn has_mixed_class(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Class(c) => class_digits(c).is_none(),
        HirKind::Repetition(r) => has_mixed_class(&r.sub),
        HirKind::Capture(c) => has_mixed_class(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(has_mixed_class),
        _ => false,
    }
}
