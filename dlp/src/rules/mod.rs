//! Rule packs: the YAML rule format, its parser and the rule model.
//!
//! A rule file is a YAML mapping with a `rules:` sequence. Each rule:
//!
//! ```yaml
//! rules:
//!   - id: us-ssn                      # unique, [a-z0-9_.-]
//!     name: US social security number
//!     description: SSN with area/group/serial checks
//!     category: pii                   # pii | financial | credential | health | custom
//!     confidence: medium              # low | medium | high (base confidence)
//!     patterns:                       # regexes with bytes semantics ((?-u) implied)
//!       - regex: '\b\d{3}-\d{2}-\d{4}\b'
//!         trigger: digits             # auto (default) | digits | context | byte | literals
//!     keywords: [project titan]       # dictionary words/phrases (case-insensitive)
//!     case_sensitive: false           # keywords only
//!     whole_word: true                # keywords only
//!     validator: us_ssn               # optional checksum/structure validator
//!     context:                        # optional nearby keywords
//!       keywords: [ssn, social security]
//!       window: 64                    # bytes on each side of the match
//!       required: false               # true: drop matches without context
//!     min_count: 1                    # matches needed per body before reporting
//!     examples: ['SSN 123-45-6789']
//!     negative_examples: ['000-12-3456']
//! ```
//!
//! Triggers decide which prefilter proposes candidate positions for a pattern
//! (see [`Trigger`]); the default derives literal prefixes from the regex and
//! falls back to a full (slower) scan when the regex has none.

mod raw;

use crate::error::{Location, RuleError};
use std::collections::HashSet;

/// The built-in rule pack, embedded at compile time.
pub const BUILTIN_RULES: &str = include_str!("../../rules/builtin.yaml");

/// What kind of data a rule detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Personal data (national ids, phones, e-mail addresses).
    Pii,
    /// Payment cards, bank accounts.
    Financial,
    /// Keys, tokens, passwords.
    Credential,
    /// Medical identifiers and codes.
    Health,
    /// Anything an operator defines.
    Custom,
}

impl Category {
    /// The name used in rule files and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Pii => "pii",
            Category::Financial => "financial",
            Category::Credential => "credential",
            Category::Health => "health",
            Category::Custom => "custom",
        }
    }
}

/// How sure a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    /// Shape matched, weak or no corroboration.
    Low,
    /// Shape matched and nothing contradicts it.
    Medium,
    /// Shape, checksum or context corroborate each other.
    High,
}

impl Confidence {
    /// The name used in rule files and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    /// One level up (saturating).
    pub fn raised(self) -> Confidence {
        match self {
            Confidence::Low => Confidence::Medium,
            _ => Confidence::High,
        }
    }

    /// One level down (saturating).
    pub fn lowered(self) -> Confidence {
        match self {
            Confidence::High => Confidence::Medium,
            _ => Confidence::Low,
        }
    }
}

/// Structural or checksum validation applied to a regex match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validator {
    /// Luhn mod-10 over the digits (payment cards).
    Luhn,
    /// Korean resident registration number: date and gender digit must be
    /// valid; the check digit only raises confidence (numbers issued since
    /// October 2020 do not carry one).
    KrRrn,
    /// Korean alien registration number, same structure as [`Validator::KrRrn`]
    /// with gender digits 5–8.
    KrArn,
    /// Korean business registration number checksum.
    KrBrn,
    /// US SSN area/group/serial rules.
    UsSsn,
    /// US ITIN structure (9XX, group 50–65, 70–88, 90–92, 94–99).
    UsItin,
    /// UK National Insurance number prefix rules.
    UkNino,
    /// IBAN ISO 13616 mod-97 check.
    IbanMod97,
    /// US NPI: Luhn over `80840` followed by the number.
    Npi,
    /// JSON Web Token: the header decodes to a JSON object with `alg`.
    Jwt,
    /// A password value that is not an obvious placeholder.
    Password,
}

impl Validator {
    /// Parses the rule-file name of a validator.
    pub fn from_name(name: &str) -> Option<Validator> {
        Some(match name {
            "luhn" => Validator::Luhn,
            "kr_rrn" => Validator::KrRrn,
            "kr_arn" => Validator::KrArn,
            "kr_brn" => Validator::KrBrn,
            "us_ssn" => Validator::UsSsn,
            "us_itin" => Validator::UsItin,
            "uk_nino" => Validator::UkNino,
            "iban_mod97" => Validator::IbanMod97,
            "npi" => Validator::Npi,
            "jwt" => Validator::Jwt,
            "password" => Validator::Password,
            _ => return None,
        })
    }

    /// All rule-file names, for error messages.
    pub const NAMES: &'static [&'static str] = &[
        "luhn",
        "kr_rrn",
        "kr_arn",
        "kr_brn",
        "us_ssn",
        "us_itin",
        "uk_nino",
        "iban_mod97",
        "npi",
        "jwt",
        "password",
    ];
}

/// Which prefilter proposes candidate positions for a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Literal prefixes extracted from the regex (SIMD literal search); a full
    /// lazy-DFA scan when the regex has no usable prefix.
    Auto,
    /// Runs of digits with separators (` -.()/+`): the match must contain a
    /// digit of such a run.
    Digits,
    /// The rule's context keywords (case-insensitive); the match must lie
    /// within the context window of one of them.
    Context,
    /// A single byte that every match contains (e.g. `@`).
    Byte(u8),
    /// Literals that every match contains.
    Literals {
        /// The literals.
        literals: Vec<String>,
        /// ASCII case-insensitive literal search.
        case_insensitive: bool,
    },
}

/// One regular expression of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The regex source (bytes semantics; Unicode classes are off).
    pub regex: String,
    /// How candidates are proposed.
    pub trigger: Trigger,
}

/// Context keywords near a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Keywords (ASCII case-insensitive, any bytes).
    pub keywords: Vec<String>,
    /// Bytes on each side of the match searched for a keyword.
    pub window: usize,
    /// `true`: matches without a keyword nearby are dropped;
    /// `false`: a keyword nearby raises the confidence one level.
    pub required: bool,
}

/// Dictionary keywords of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keywords {
    /// Words and phrases.
    pub words: Vec<String>,
    /// Exact case instead of ASCII case-insensitive matching.
    pub case_sensitive: bool,
    /// Only whole words (bounded by non-word bytes) match.
    pub whole_word: bool,
}

/// One detection rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique id (`[a-z0-9_.-]+`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// What the rule detects and how.
    pub description: String,
    /// Data category.
    pub category: Category,
    /// Regex patterns.
    pub patterns: Vec<Pattern>,
    /// Dictionary keywords.
    pub keywords: Keywords,
    /// Optional validator.
    pub validator: Option<Validator>,
    /// Optional context keywords.
    pub context: Option<Context>,
    /// Matches needed in one body before the rule reports.
    pub min_count: u32,
    /// Base confidence.
    pub confidence: Confidence,
    /// Inputs the rule must detect.
    pub examples: Vec<String>,
    /// Inputs the rule must not detect.
    pub negative_examples: Vec<String>,
    /// Where the rule was defined.
    pub at: Location,
}

/// A parsed, checked set of rules (not yet compiled).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulePack {
    rules: Vec<Rule>,
}

/// Largest context window accepted.
pub const MAX_CONTEXT_WINDOW: usize = 256;
/// Largest `min_count` accepted.
pub const MAX_MIN_COUNT: u32 = 1000;

impl RulePack {
    /// Parses rule-file text. `origin` names the text in errors (a path).
    /// Checks the format (ids, categories, validators, windows); regexes are
    /// checked by [`crate::Engine::compile`].
    pub fn parse(text: &str, origin: &str) -> Result<RulePack, RuleError> {
        let rules = raw::parse(text, origin)?;
        let mut pack = RulePack::default();
        pack.extend(rules)?;
        Ok(pack)
    }

    /// The built-in pack (payment cards, national ids, credentials, health).
    pub fn builtin() -> Result<RulePack, RuleError> {
        RulePack::parse(BUILTIN_RULES, "builtin.yaml")
    }

    /// A pack made of rules built in code.
    pub fn from_rules(rules: Vec<Rule>) -> Result<RulePack, RuleError> {
        let mut pack = RulePack::default();
        pack.extend(rules)?;
        Ok(pack)
    }

    /// Adds another pack's rules; ids must stay unique.
    pub fn merge(&mut self, other: RulePack) -> Result<(), RuleError> {
        self.extend(other.rules)
    }

    fn extend(&mut self, rules: Vec<Rule>) -> Result<(), RuleError> {
        let mut seen: HashSet<String> = self.rules.iter().map(|r| r.id.clone()).collect();
        for rule in rules {
            if !seen.insert(rule.id.clone()) {
                return Err(RuleError::Invalid {
                    at: rule.at.clone(),
                    message: format!("duplicate rule id `{}`", rule.id),
                });
            }
            self.rules.push(rule);
        }
        Ok(())
    }

    /// The rules in definition order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// `true` when the pack has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
