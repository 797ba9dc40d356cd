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

fn byte_set(b: u8) -> ByteSet {
    let mut set = [0u64; 4];
    set[usize::from(b / 64)] |= 1 << (b % 64);
    set
}

fn union(a: &ByteSet, b: &ByteSet) -> ByteSet {
    [a[0] | b[0], a[1] | b[1], a[2] | b[2], a[3] | b[3]]
}

/// Per-byte sets of a fixed-length element, last byte first.
fn fixed_sets_rev(h: &Hir) -> Option<Vec<ByteSet>> {
    match h.kind() {
        HirKind::Class(c) => Some(vec![class_set(c)]),
        HirKind::Literal(l) => Some(l.0.iter().rev().map(|&b| byte_set(b)).collect()),
        HirKind::Repetition(r) if r.max == Some(r.min) && r.min <= 8 => {
            let one = fixed_sets_rev(&r.sub)?;
            Some(
                one.iter()
                    .cycle()
                    .take(one.len() * r.min as usize)
                    .copied()
                    .collect(),
            )
        }
        HirKind::Capture(c) => fixed_sets_rev(&c.sub),
        HirKind::Concat(v) => {
            let mut out = Vec::new();
            for e in v.iter().rev() {
                out.extend(fixed_sets_rev(e)?);
            }
            Some(out)
        }
        _ => None,
    }
}

fn optional_byte_set(h: &Hir) -> Option<ByteSet> {
    match h.kind() {
        HirKind::Repetition(r) if r.min == 0 && r.max == Some(1) => match r.sub.kind() {
            HirKind::Class(c) => Some(class_set(c)),
            HirKind::Literal(l) if l.0.len() == 1 => Some(byte_set(l.0[0])),
            _ => None,
        },
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

fn top_elems(hir: &Hir) -> &[Hir] {
    match hir.kind() {
        HirKind::Concat(v) => v,
        _ => std::slice::from_ref(hir),
    }
}

fn first_digit_elem(elems: &[Hir]) -> Option<usize> {
    let k = elems.iter().position(|e| digit_counts(e) != 1)?;
    starts_with_digit(&elems[k]).then_some(k)
}

/// Byte sets that must precede the first digit of every match, nearest
/// first (e.g. `[A-Z]{2}\d{2}` → `[A-Z]`, `[A-Z]`); empty when unknown.
pub(crate) fn bytes_before_first_digit(hir: &Hir) -> Vec<ByteSet> {
    let elems = top_elems(hir);
    let Some(k) = first_digit_elem(elems) else {
        return Vec::new();
    };
    // Fixed byte sets nearest first, with at most one optional byte (which
    // shifts everything before it by one: both alignments are unioned).
    let mut fixed: Vec<ByteSet> = Vec::new();
    let mut optional: Option<(usize, ByteSet)> = None;
    for e in elems[..k].iter().rev() {
        if matches!(e.kind(), HirKind::Look(_)) {
            if fixed.is_empty() && optional.is_none() {
                continue;
            }
            break;
        }
        if let Some(set) = optional_byte_set(e) {
            if optional.is_some() {
                break;
            }
            optional = Some((fixed.len(), set));
            continue;
        }
        let Some(sets) = fixed_sets_rev(e) else { break };
        fixed.extend(sets);
        if fixed.len() >= 4 {
            break;
        }
    }
    fixed.truncate(4);
    let Some((at, opt)) = optional else {
        return fixed;
    };
    let mut out = fixed[..at.min(fixed.len())].to_vec();
    if at < fixed.len() {
        // Position `at` holds the optional byte or fixed[at]; position
        // `at + i` holds fixed[at + i - 1] or fixed[at + i].
        out.push(union(&opt, &fixed[at]));
        for i in at + 1..fixed.len() {
            out.push(union(&fixed[i - 1], &fixed[i]));
        }
    }
    out
}

/// Possible lengths when `h` consists of digits only.
fn digit_run_lengths(h: &Hir) -> Option<u64> {
    match h.kind() {
        HirKind::Class(c) if class_digits(c) == Some(true) => Some(1 << 1),
        HirKind::Literal(l) if l.0.iter().all(u8::is_ascii_digit) && l.0.len() < 63 => {
            Some(1 << l.0.len())
        }
        HirKind::Capture(c) => digit_run_lengths(&c.sub),
        HirKind::Repetition(r) => {
            let sub = digit_run_lengths(&r.sub)?;
            let max = r.max?.min(62);
            let mut acc: u64 = 1;
            let mut out: u64 = if r.min == 0 { 1 } else { 0 };
            for i in 1..=max {
                acc = add(acc, sub) & !MANY;
                if i >= r.min {
                    out |= acc;
                }
            }
            Some(out)
        }
        HirKind::Concat(v) => v
            .iter()
            .try_fold(1u64, |acc, e| Some(add(acc, digit_run_lengths(e)?) & !MANY)),
        HirKind::Alternation(v) => v
            .iter()
            .try_fold(0u64, |acc, e| Some(acc | digit_run_lengths(e)?)),
        _ => None,
    }
}

/// Possible lengths of the match's first digit group (its digits up to the
/// first byte that is never a digit), when the pattern fixes them.
pub(crate) fn first_group_lengths(hir: &Hir) -> Option<u64> {
    let elems = top_elems(hir);
    let k = first_digit_elem(elems)?;
    let mut lens: u64 = 1;
    for e in &elems[k..] {
        if let Some(l) = digit_run_lengths(e) {
            lens = add(lens, l) & !MANY;
            continue;
        }
        if matches!(e.kind(), HirKind::Look(_)) {
            continue;
        }
        let can_be_empty = e.properties().minimum_len().unwrap_or(0) == 0;
        if can_be_empty || digit_counts(e) != 1 {
            return None;
        }
        return Some(lens & !1);
    }
    Some(lens & !1)
}

/// The fewest digits the match's first pure-digit element holds (0 when
/// unknown): a lower bound of the digits in the cluster it starts.
pub(crate) fn first_run_min(hir: &Hir) -> u32 {
    let elems = top_elems(hir);
    let Some(k) = first_digit_elem(elems) else {
        return 0;
    };
    digit_run_lengths(&elems[k]).map_or(0, |m| m.trailing_zeros().min(63))
}

/// Mask over `10 * d0 + d1` of the first two digits of every match's first
/// group, when the pattern restricts them (e.g. `01[016789]` → `01`).
pub(crate) fn first_pair_mask(hir: &Hir) -> Option<u128> {
    let elems = top_elems(hir);
    let k = first_digit_elem(elems)?;
    let rest = Hir::concat(elems[k..].to_vec());
    let mut ex = Extractor::new();
    ex.kind(ExtractKind::Prefix)
        .limit_class(10)
        .limit_repeat(4)
        .limit_literal_len(2)
        .limit_total(100);
    let seq = ex.extract(&rest);
    let lits = seq.literals()?;
    let mut mask: u128 = 0;
    for l in lits {
        match l.as_bytes() {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                mask |= 1 << ((a - b'0') * 10 + (b - b'0'));
            }
            _ => return None,
        }
    }
    if mask == 0 || mask.count_ones() >= 100 {
        return None;
    }
    Some(mask)
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
