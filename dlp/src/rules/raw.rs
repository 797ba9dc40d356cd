//! The serde shape of a rule file and its conversion into [`Rule`]s.

use super::{
    Category, Confidence, Context, Keywords, Pattern, Rule, Trigger, Validator, MAX_CONTEXT_WINDOW,
    MAX_MIN_COUNT,
};
use crate::error::{Location, RuleError};
use marked_yaml::{FromYamlError, LoadError, Spanned};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    category: Option<Spanned<String>>,
    #[serde(default)]
    confidence: Option<Spanned<String>>,
    #[serde(default)]
    patterns: Vec<RawPattern>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    case_sensitive: bool,
    #[serde(default = "yes")]
    whole_word: bool,
    #[serde(default)]
    validator: Option<Spanned<String>>,
    #[serde(default)]
    context: Option<RawContext>,
    #[serde(default = "one")]
    min_count: u32,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    negative_examples: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    regex: String,
    #[serde(default)]
    trigger: Option<Spanned<String>>,
    #[serde(default)]
    literals: Vec<String>,
    #[serde(default)]
    case_insensitive: bool,
    #[serde(default)]
    byte: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContext {
    keywords: Vec<String>,
    #[serde(default = "default_window")]
    window: usize,
    #[serde(default)]
    required: bool,
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_window() -> usize {
    64
}

fn line_of<T>(s: &Spanned<T>) -> usize {
    s.span().start().map(|m| m.line()).unwrap_or(0)
}

fn load_error_line(e: &LoadError) -> usize {
    match e {
        LoadError::TopLevelMustBeMapping(m)
        | LoadError::TopLevelMustBeSequence(m)
        | LoadError::UnexpectedAnchor(m)
        | LoadError::MappingKeyMustBeScalar(m)
        | LoadError::UnexpectedTag(m)
        | LoadError::ScanError(m, _) => m.line(),
        LoadError::DuplicateKey(inner) => inner.key.span().start().map(|m| m.line()).unwrap_or(0),
    }
}

/// Parses rule-file text into rules, checking everything except regexes.
pub(super) fn parse(text: &str, origin: &str) -> Result<Vec<Rule>, RuleError> {
    let file: RawFile = if text.trim().is_empty() {
        RawFile { rules: Vec::new() }
    } else {
        marked_yaml::from_yaml(0, text).map_err(|e| {
            let line = match &e {
                FromYamlError::ParseYaml(le) => load_error_line(le),
                FromYamlError::FromNode(ne) => ne.start_mark().map(|m| m.line()).unwrap_or(0),
            };
            RuleError::Syntax {
                at: Location {
                    origin: origin.to_string(),
                    line,
                    rule: None,
                },
                message: e.to_string(),
            }
        })?
    };
    file.rules
        .into_iter()
        .map(|raw| convert(raw, origin))
        .collect()
}

fn convert(raw: RawRule, origin: &str) -> Result<Rule, RuleError> {
    let id = raw.id.as_str().to_string();
    let at = Location {
        origin: origin.to_string(),
        line: line_of(&raw.id),
        rule: Some(id.clone()),
    };
    let invalid = |line: usize, message: String| RuleError::Invalid {
        at: Location {
            line: if line == 0 { at.line } else { line },
            ..at.clone()
        },
        message,
    };
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
    {
        return Err(invalid(0, "rule id must match [a-z0-9_.-]+".into()));
    }
    let category = match raw.category.as_ref().map(|c| c.as_str()) {
        None | Some("custom") => Category::Custom,
        Some("pii") => Category::Pii,
        Some("financial") => Category::Financial,
        Some("credential") => Category::Credential,
        Some("health") => Category::Health,
        Some(other) => {
            let line = raw.category.as_ref().map(line_of).unwrap_or(0);
            return Err(invalid(
                line,
                format!("unknown category `{other}` (pii, financial, credential, health, custom)"),
            ));
        }
    };
    let confidence = match raw.confidence.as_ref().map(|c| c.as_str()) {
        None | Some("medium") => Confidence::Medium,
        Some("low") => Confidence::Low,
        Some("high") => Confidence::High,
        Some(other) => {
            let line = raw.confidence.as_ref().map(line_of).unwrap_or(0);
            return Err(invalid(
                line,
                format!("unknown confidence `{other}` (low, medium, high)"),
            ));
        }
    };
    let validator = match &raw.validator {
        None => None,
        Some(v) => Some(Validator::from_name(v.as_str()).ok_or_else(|| {
            invalid(
                line_of(v),
                format!(
                    "unknown validator `{}` (one of: {})",
                    v.as_str(),
                    Validator::NAMES.join(", ")
                ),
            )
        })?),
    };
    let context = match raw.context {
        None => None,
        Some(c) => {
            if c.keywords.is_empty() || c.keywords.iter().any(|k| k.is_empty()) {
                return Err(invalid(0, "context needs non-empty keywords".into()));
            }
            if c.window == 0 || c.window > MAX_CONTEXT_WINDOW {
                return Err(invalid(
                    0,
                    format!("context window must be 1..={MAX_CONTEXT_WINDOW} bytes"),
                ));
            }
            Some(Context {
                keywords: c.keywords,
                window: c.window,
                required: c.required,
            })
        }
    };
    let mut patterns = Vec::with_capacity(raw.patterns.len());
    for p in raw.patterns {
        let trigger = match p.trigger.as_ref().map(|t| t.as_str()) {
            None | Some("auto") => {
                if !p.literals.is_empty() {
                    Trigger::Literals {
                        literals: p.literals.clone(),
                        case_insensitive: p.case_insensitive,
                    }
                } else if let Some(b) = &p.byte {
                    single_byte(b).map(Trigger::Byte).ok_or_else(|| {
                        invalid(0, format!("byte trigger `{b}` must be one ASCII byte"))
                    })?
                } else {
                    Trigger::Auto
                }
            }
            Some("digits") => Trigger::Digits,
            Some("context") => {
                if context.is_none() {
                    return Err(invalid(
                        0,
                        "trigger `context` needs a `context:` section".into(),
                    ));
                }
                Trigger::Context
            }
            Some("byte") => {
                let b = p.byte.as_deref().unwrap_or("");
                single_byte(b).map(Trigger::Byte).ok_or_else(|| {
                    invalid(0, "trigger `byte` needs `byte:` with one ASCII byte".into())
                })?
            }
            Some("literals") => {
                if p.literals.is_empty() || p.literals.iter().any(|l| l.is_empty()) {
                    return Err(invalid(
                        0,
                        "trigger `literals` needs non-empty `literals:`".into(),
                    ));
                }
                Trigger::Literals {
                    literals: p.literals.clone(),
                    case_insensitive: p.case_insensitive,
                }
            }
            Some(other) => {
                let line = p.trigger.as_ref().map(line_of).unwrap_or(0);
                return Err(invalid(
                    line,
                    format!("unknown trigger `{other}` (auto, digits, context, byte, literals)"),
                ));
            }
        };
        patterns.push(Pattern {
            regex: p.regex,
            trigger,
        });
    }
    if raw.keywords.iter().any(|k| k.trim().is_empty()) {
        return Err(invalid(0, "keywords must not be empty".into()));
    }
    if patterns.is_empty() && raw.keywords.is_empty() {
        return Err(invalid(0, "a rule needs `patterns` or `keywords`".into()));
    }
    if raw.min_count == 0 || raw.min_count > MAX_MIN_COUNT {
        return Err(invalid(0, format!("min_count must be 1..={MAX_MIN_COUNT}")));
    }
    Ok(Rule {
        name: raw.name.unwrap_or_else(|| id.clone()),
        id,
        description: raw.description,
        category,
        patterns,
        keywords: Keywords {
            words: raw.keywords,
            case_sensitive: raw.case_sensitive,
            whole_word: raw.whole_word,
        },
        validator,
        context,
        min_count: raw.min_count,
        confidence,
        examples: raw.examples,
        negative_examples: raw.negative_examples,
        at,
    })
}

fn single_byte(s: &str) -> Option<u8> {
    match s.as_bytes() {
        [b] if b.is_ascii() => Some(*b),
        _ => None,
    }
}
