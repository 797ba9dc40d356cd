//! The compiled engine and its streaming scanner.
//!
//! Shape: [`RulePack`] → [`Engine::compile`] (immutable, cheap to clone,
//! shareable across threads) → [`Engine::stream`] (per-body state) →
//! [`Stream::feed`] / [`Stream::finish`].
//!
//! Each chunk is scanned by a handful of SIMD prefilters — a Teddy pass for
//! case-sensitive literal triggers, one for case-insensitive triggers (context
//! keywords, `password`), `memchr` for anchor bytes such as `@`, a vectorised
//! digit-run scan, and a tokeniser with a hash set for dictionaries. Only the
//! small windows around candidates are verified with regex-automata (bytes,
//! no Unicode classes), then validators and context run on confirmed
//! matches.
//!
//! Costs and limits: a stream keeps at most [`Engine::state_bound`] bytes
//! between calls (the look-behind and look-ahead windows of the pack plus a
//! small fixed part); verification windows are bounded by the longest match
//! a pattern can have (at most [`MAX_MATCH_LEN`] bytes).

mod analyze;
mod bucket_plan;
mod bytemask;
mod compile;
mod dictionary;
mod digits;
mod literals;
mod region;
mod stream;

pub use stream::Stream;

use crate::error::RuleError;
use crate::finding::Finding;
use crate::rules::{Category, Confidence, RulePack, Validator};
use aho_corasick::AhoCorasick;
use regex_automata::meta;
use std::sync::Arc;

/// Longest match a pattern may have, in bytes.
pub const MAX_MATCH_LEN: usize = 1024;

/// A compiled, immutable rule pack. Cloning is cheap (reference counted).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.inner.rules.len())
            .field("patterns", &self.inner.patterns.len())
            .field("lookbehind", &self.inner.lookbehind)
            .field("lookahead", &self.inner.lookahead)
            .finish()
    }
}

/// A summary of one compiled rule, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// Rule id.
    pub id: Arc<str>,
    /// Category.
    pub category: Category,
    /// Base confidence.
    pub confidence: Confidence,
}

pub(crate) struct ContextMatcher {
    ac: AhoCorasick,
    window: usize,
    required: bool,
}

pub(crate) struct RuleMeta {
    id: Arc<str>,
    category: Category,
    confidence: Confidence,
    validator: Option<Validator>,
    context: Option<ContextMatcher>,
    min_count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The match starts at the trigger position.
    Prefix,
    /// The match contains the trigger position.
    Contains,
    /// The match overlaps the digit cluster starting at the trigger.
    Digits,
    /// The match lies within the context window of the trigger keyword.
    Context,
    /// No trigger: the regex scans every region.
    Scan,
    /// A dictionary keyword: the trigger is the match.
    Keyword,
}

#[derive(Debug, Clone)]
pub(crate) struct DigitFilter {
    counts: u64,
    min: u32,
    whole_groups: bool,
    /// Byte sets before the cluster's first digit, nearest first.
    before: Vec<analyze::ByteSet>,
    /// Allowed lengths of the match's first group (whole-group patterns).
    first_group: Option<u64>,
    /// Allowed first two digits of the match's first group.
    first_pair: Option<u128>,
}

pub(crate) struct PatternMeta {
    rule: u32,
    regex: Option<meta::Regex>,
    secret_group: bool,
    mode: Mode,
    back: usize,
    fwd: usize,
    context_window: usize,
    digits: Option<DigitFilter>,
}

pub(crate) struct Inner {
    rules: Vec<RuleMeta>,
    patterns: Vec<PatternMeta>,
    literals: Option<literals::LiteralTriggers>,
    anchors: Vec<(u8, Vec<u32>)>,
    /// Digit-triggered patterns by cluster digit count (0..=63) that could
    /// match in such a cluster.
    digit_table: Vec<Vec<u32>>,
    digit_threshold: Option<digits::Threshold>,
    scans: Vec<u32>,
    dictionary: Option<dictionary::Dictionary>,
    lookbehind: usize,
    lookahead: usize,
}

impl Engine {
    /// Compiles a rule pack: checks every regex (syntax, bounded length),
    /// derives prefilter triggers and verification windows.
    pub fn compile(pack: &RulePack) -> Result<Engine, RuleError> {
        Ok(Engine {
            inner: Arc::new(compile::compile(pack)?),
        })
    }

    /// Starts scanning a new stream (one body, one part).
    pub fn stream(&self) -> Stream {
        Stream::new(self.inner.clone())
    }

    /// Scans a whole buffer at once (equivalent to one `feed` and `finish`).
    pub fn scan(&self, data: &[u8]) -> Vec<Finding> {
        let mut s = self.stream();
        let mut out = s.feed(data);
        out.extend(s.finish());
        out
    }

    /// Upper bound of [`Stream::state_bytes`] for streams of this engine.
    pub fn state_bound(&self) -> usize {
        stream::state_bound(&self.inner)
    }

    /// The longest look-behind plus look-ahead window of the pack, in bytes.
    pub fn window(&self) -> usize {
        self.inner.lookbehind + self.inner.lookahead
    }

    /// The compiled rules.
    pub fn rules(&self) -> Vec<RuleInfo> {
        self.inner
            .rules
            .iter()
            .map(|r| RuleInfo {
                id: r.id.clone(),
                category: r.category,
                confidence: r.confidence,
            })
            .collect()
    }

    /// Checks every rule's `examples` (each must produce a finding of that
    /// rule when scanned alone) and `negative_examples` (none may).
    pub fn check_examples(&self, pack: &RulePack) -> Result<(), RuleError> {
        for rule in pack.rules() {
            let hit = |text: &str| {
                self.scan(text.as_bytes())
                    .iter()
                    .any(|f| *f.rule == *rule.id)
            };
            for (index, ex) in rule.examples.iter().enumerate() {
                if !hit(ex) {
                    return Err(RuleError::Example {
                        at: rule.at.clone(),
                        which: "positive",
                        index,
                        problem: "is not detected",
                    });
                }
            }
            for (index, ex) in rule.negative_examples.iter().enumerate() {
                if hit(ex) {
                    return Err(RuleError::Example {
                        at: rule.at.clone(),
                        which: "negative",
                        index,
                        problem: "is detected",
                    });
                }
            }
        }
        Ok(())
    }
}
