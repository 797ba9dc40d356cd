//! Compiling a [`RulePack`] into an [`Inner`] engine.

use super::analyze::{self, Shape};
use super::dictionary::Dictionary;
use super::digits::{Threshold, CLUSTER_CAP, LEFT_CONTEXT};
use super::literals::LiteralTriggers;
use super::{ContextMatcher, DigitFilter, Inner, Mode, PatternMeta, RuleMeta, MAX_MATCH_LEN};
use crate::error::RuleError;
use crate::rules::{Rule, RulePack, Trigger};
use aho_corasick::AhoCorasick;
use regex_automata::{meta, util::syntax, PatternID};
use std::sync::Arc;

fn pattern_error(rule: &Rule, index: usize, message: String) -> RuleError {
    RuleError::Pattern {
        at: rule.at.clone(),
        index,
        message,
    }
}

struct Builder {
    patterns: Vec<PatternMeta>,
    cs: Vec<(Vec<u8>, u32)>,
    ci: Vec<(Vec<u8>, u32)>,
    anchors: Vec<(u8, Vec<u32>)>,
    digit_patterns: Vec<u32>,
    scans: Vec<u32>,
    words: Vec<(String, bool, u32)>,
}

pub(super) fn compile(pack: &RulePack) -> Result<Inner, RuleError> {
    let mut b = Builder {
        patterns: Vec::new(),
        cs: Vec::new(),
        ci: Vec::new(),
        anchors: Vec::new(),
        digit_patterns: Vec::new(),
        scans: Vec::new(),
        words: Vec::new(),
    };
    let mut rules = Vec::with_capacity(pack.len());
    for (ri, rule) in pack.rules().iter().enumerate() {
        let context = match &rule.context {
            None => None,
            Some(c) => Some(ContextMatcher {
                ac: AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&c.keywords)
                    .map_err(|e| RuleError::Invalid {
                        at: rule.at.clone(),
                        message: format!("context keywords: {e}"),
                    })?,
                window: c.window,
                required: c.required,
            }),
        };
        for (index, p) in rule.patterns.iter().enumerate() {
            b.add_pattern(rule, ri as u32, index, &p.regex, &p.trigger)?;
        }
        b.add_keywords(rule, ri as u32)?;
        rules.push(RuleMeta {
            id: Arc::from(rule.id.as_str()),
            category: rule.category,
            confidence: rule.confidence,
            validator: rule.validator,
            context,
            min_count: rule.min_count,
        });
    }
    let (dictionary, rejected) = Dictionary::new(&b.words);
    if let Some(kw) = rejected.first() {
        return Err(RuleError::Invalid {
            at: pack.rules()[0].at.clone(),
            message: format!("keyword `{kw}` has no word or a word longer than 64 bytes"),
        });
    }
    let literals = LiteralTriggers::new(&b.cs, &b.ci);
    let mut lookbehind = LEFT_CONTEXT + 5;
    let mut lookahead = CLUSTER_CAP + 2;
    for p in &b.patterns {
        lookbehind = lookbehind.max(p.back + 1);
        lookahead = lookahead.max(p.fwd + 1);
    }
    lookahead = lookahead
        .max(literals.as_ref().map_or(0, |l| l.max_len) + 1)
        .max(dictionary.as_ref().map_or(0, |d| d.max_len) + 2);
    let digit_table: Vec<Vec<u32>> = (0..64u32)
        .map(|n| {
            let upto = if n >= 63 {
                u64::MAX
            } else {
                (1u64 << (n + 1)) - 1
            };
            b.digit_patterns
                .iter()
                .copied()
                .filter(|&p| {
                    b.patterns[p as usize].digits.as_ref().is_some_and(|d| {
                        d.min <= n && (d.counts & (1 << 63) != 0 || d.counts & upto != 0)
                    })
                })
                .collect()
        })
        .collect();
    let digit_threshold = threshold(&b);
    Ok(Inner {
        rules,
        patterns: b.patterns,
        literals,
        anchors: b.anchors,
        digit_table,
        digit_threshold,
        scans: b.scans,
        dictionary,
        lookbehind,
        lookahead,
    })
}

/// Which clusters the digit prefilter hands on: the fewest digits any
/// pattern needs, and for patterns that fix the byte before their digits,
/// their fewest digits when that byte is present.
fn threshold(b: &Builder) -> Option<Threshold> {
    let mut min_digits = u32::MAX;
    let mut after = Vec::new();
    for &p in &b.digit_patterns {
        let Some(d) = &b.patterns[p as usize].digits else {
            continue;
        };
        let min = d.min.max(1);
        if d.before.is_empty() {
            min_digits = min_digits.min(min);
            continue;
        }
        let sets = d
            .before
            .iter()
            .map(|set| {
                let mut table = [false; 256];
                for byte in 0..=255u8 {
                    table[usize::from(byte)] = analyze::in_set(set, byte);
                }
                table
            })
            .collect();
        after.push((min, sets));
    }
    (min_digits != u32::MAX || !after.is_empty()).then(|| Threshold::new(min_digits, after))
}

impl Builder {
    fn push(&mut self, meta: PatternMeta) -> u32 {
        self.patterns.push(meta);
        (self.patterns.len() - 1) as u32
    }

    fn add_pattern(
        &mut self,
        rule: &Rule,
        ri: u32,
        index: usize,
        regex: &str,
        trigger: &Trigger,
    ) -> Result<(), RuleError> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .nest_limit(64)
            .build()
            .parse(regex)
            .map_err(|e| pattern_error(rule, index, e.to_string()))?;
        let shape: Shape = analyze::shape(&hir);
        let max_len = match shape.max_len {
            Some(n) if n <= MAX_MATCH_LEN => n,
            _ => {
                return Err(RuleError::Unbounded {
                    at: rule.at.clone(),
                    index,
                    limit: MAX_MATCH_LEN,
                })
            }
        };
        if shape.min_len == 0 {
            return Err(pattern_error(
                rule,
                index,
                "pattern can match the empty string".into(),
            ));
        }
        let compiled = meta::Builder::new()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .configure(
                meta::Config::new()
                    .utf8_empty(false)
                    .nfa_size_limit(Some(4 << 20))
                    .hybrid_cache_capacity(1 << 20),
            )
            .build(regex)
            .map_err(|e| pattern_error(rule, index, e.to_string()))?;
        let secret_group = compiled
            .group_info()
            .to_index(PatternID::ZERO, "secret")
            .is_some();
        let ctx_w = rule.context.as_ref().map_or(0, |c| c.window);
        let mut meta = PatternMeta {
            rule: ri,
            regex: Some(compiled),
            secret_group,
            mode: Mode::Scan,
            back: 1,
            fwd: max_len + 2,
            context_window: ctx_w,
            digits: None,
        };
        let contains = |m: &mut PatternMeta| {
            m.mode = Mode::Contains;
            m.back = max_len + 1;
            m.fwd = max_len + 2;
        };
        match trigger {
            Trigger::Auto => match &shape.prefixes {
                Some(lits) => {
                    meta.mode = Mode::Prefix;
                    let pi = self.patterns.len() as u32;
                    self.cs.extend(lits.iter().map(|l| (l.clone(), pi)));
                }
                None => {
                    let pi = self.patterns.len() as u32;
                    self.scans.push(pi);
                }
            },
            Trigger::Digits => {
                if shape.digits & 1 != 0 {
                    return Err(pattern_error(
                        rule,
                        index,
                        "trigger `digits` needs a pattern whose every match holds a digit".into(),
                    ));
                }
                meta.mode = Mode::Digits;
                meta.back = shape.lead + 1;
                meta.fwd = CLUSTER_CAP + max_len + 2;
                let mixed = analyze::has_mixed_class(&hir);
                let counts = if mixed { u64::MAX } else { shape.digits };
                meta.digits = Some(DigitFilter {
                    counts,
                    min: if mixed {
                        analyze::first_run_min(&hir).max(1)
                    } else {
                        counts.trailing_zeros()
                    },
                    whole_groups: shape.starts_at_boundary && shape.ends_at_boundary,
                    before: {
                        let sets = analyze::bytes_before_first_digit(&hir);
                        let excludes = |set: &analyze::ByteSet| {
                            !(b'0'..=b'9').any(|b| analyze::in_set(set, b))
                                && !(0..=255u8)
                                    .any(|b| super::digits::is_sep(b) && analyze::in_set(set, b))
                        };
                        if sets.iter().take(2).any(excludes) {
                            sets
                        } else {
                            Vec::new()
                        }
                    },
                    first_group: analyze::first_group_lengths(&hir),
                    first_pair: analyze::first_pair_mask(&hir),
                });
                let pi = self.patterns.len() as u32;
                self.digit_patterns.push(pi);
            }
            Trigger::Context => {
                let c = rule.context.as_ref().ok_or_else(|| {
                    pattern_error(
                        rule,
                        index,
                        "trigger `context` needs context keywords".into(),
                    )
                })?;
                let kw = c.keywords.iter().map(String::len).max().unwrap_or(0);
                meta.mode = Mode::Context;
                meta.back = c.window + max_len + 1;
                meta.fwd = kw + c.window + max_len + 2;
                let pi = self.patterns.len() as u32;
                self.ci
                    .extend(c.keywords.iter().map(|k| (k.as_bytes().to_vec(), pi)));
            }
            Trigger::Byte(byte) => {
                contains(&mut meta);
                let pi = self.patterns.len() as u32;
                match self.anchors.iter_mut().find(|(b, _)| b == byte) {
                    Some((_, v)) => v.push(pi),
                    None => self.anchors.push((*byte, vec![pi])),
                }
            }
            Trigger::Literals {
                literals,
                case_insensitive,
            } => {
                contains(&mut meta);
                let pi = self.patterns.len() as u32;
                let pairs = literals.iter().map(|l| (l.as_bytes().to_vec(), pi));
                if *case_insensitive {
                    self.ci.extend(pairs);
                } else {
                    self.cs.extend(pairs);
                }
            }
        }
        if meta.mode != Mode::Context {
            meta.back += ctx_w;
            meta.fwd += ctx_w;
        }
        self.push(meta);
        Ok(())
    }

    fn add_keywords(&mut self, rule: &Rule, ri: u32) -> Result<(), RuleError> {
        let kw = &rule.keywords;
        if kw.words.is_empty() {
            return Ok(());
        }
        let longest = kw.words.iter().map(String::len).max().unwrap_or(0);
        if longest > MAX_MATCH_LEN {
            return Err(RuleError::Invalid {
                at: rule.at.clone(),
                message: format!("keyword longer than {MAX_MATCH_LEN} bytes"),
            });
        }
        let ctx_w = rule.context.as_ref().map_or(0, |c| c.window);
        let meta = |this: &Self| {
            PatternMeta {
                rule: ri,
                regex: None,
                secret_group: false,
                mode: Mode::Keyword,
                back: 1 + ctx_w,
                fwd: longest + 8 + ctx_w,
                context_window: ctx_w,
                digits: None,
            }
            .with_index(this.patterns.len())
        };
        if kw.whole_word {
            let (m, pi) = meta(self);
            self.push(m);
            self.words
                .extend(kw.words.iter().map(|w| (w.clone(), kw.case_sensitive, pi)));
        } else {
            let (m, pi) = meta(self);
            self.push(m);
            let pairs = kw.words.iter().map(|w| (w.as_bytes().to_vec(), pi));
            if kw.case_sensitive {
                self.cs.extend(pairs);
            } else {
                self.ci.extend(pairs);
            }
        }
        Ok(())
    }
}

impl PatternMeta {
    fn with_index(self, index: usize) -> (PatternMeta, u32) {
        (self, index as u32)
    }
}
