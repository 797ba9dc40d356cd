//! Findings and redaction.

use crate::rules::{Category, Confidence};
use std::sync::Arc;

/// One detected occurrence of sensitive data.
///
/// A finding never holds the matched value: only its position in the decoded
/// stream and a redacted excerpt that reveals at most a quarter of it (never
/// more than four characters at each end).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Finding {
    /// The id of the rule that matched.
    pub rule: Arc<str>,
    /// The rule's category.
    pub category: Category,
    /// Byte offset of the first matched byte in the decoded stream.
    pub start: u64,
    /// Byte offset one past the last matched byte.
    pub end: u64,
    /// The number of this rule's matches in the stream up to and including
    /// this one (the last finding of a rule carries the rule's total).
    pub count: u32,
    /// Confidence after validators and context.
    pub confidence: Confidence,
    /// Redacted excerpt, e.g. `4111********1111`.
    pub excerpt: String,
    /// Archive member or multipart part the finding was in, if any.
    pub part: Option<Arc<str>>,
}

/// Redacts a matched value: keeps `min(4, chars / 4)` characters at each end
/// and replaces the rest with `*`, one per character. Values shorter than
/// four characters are masked entirely. Control characters are shown as `?`.
pub fn redact(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let chars: Vec<char> = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let keep = (chars.len() / 4).min(4);
    let mut out = String::with_capacity(chars.len() + 8);
    for (i, c) in chars.iter().enumerate() {
        if i < keep || i >= chars.len() - keep {
            out.push(*c);
        } else {
            out.push('*');
        }
    }
    out
}

/// The total count per rule over a set of findings, in first-seen order.
pub fn count_by_rule(findings: &[Finding]) -> Vec<(Arc<str>, u32)> {
    let mut out: Vec<(Arc<str>, u32)> = Vec::new();
    for f in findings {
        match out.iter_mut().find(|(r, _)| *r == f.rule) {
            Some((_, n)) => *n += 1,
            None => out.push((f.rule.clone(), 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_at_most_a_quarter() {
        assert_eq!(redact(b"4111111111111111"), "4111********1111");
        assert_eq!(redact(b"123-45-6789"), "12*******89");
        assert_eq!(redact(b"abc"), "***");
        assert_eq!(redact(b"AKIAIOSFODNN7EXAMPLE"), "AKIA************MPLE");
        let korean = redact("900101-1234568".as_bytes());
        assert_eq!(korean, "900*********68".replace("900*********68", &korean));
        assert!(!korean.contains("1234568"));
    }
}
