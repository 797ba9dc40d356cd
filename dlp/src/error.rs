//! The crate's error type.

use thiserror::Error;

/// Where in a rule file something went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The origin given to [`crate::RulePack::parse`] (usually a file name).
    pub origin: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// The rule id, when the problem belongs to one rule.
    pub rule: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.origin, self.line)?;
        if let Some(rule) = &self.rule {
            write!(f, ": rule `{rule}`")?;
        }
        Ok(())
    }
}

/// A rule file could not be parsed or compiled.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// The YAML text itself is malformed or does not have the rule file's shape.
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Location,
        /// What the YAML reader said.
        message: String,
    },
    /// A rule is well-formed YAML but breaks a rule of the format.
    #[error("{at}: {message}")]
    Invalid {
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A pattern does not compile as a regular expression.
    #[error("{at}: pattern {index}: {message}")]
    Pattern {
        /// Where.
        at: Location,
        /// 0-based index of the pattern in the rule.
        index: usize,
        /// What the regex compiler said.
        message: String,
    },
    /// A pattern can match arbitrarily long (or overly long) input; streaming
    /// needs a bound.
    #[error("{at}: pattern {index} has no bounded maximum match length (limit {limit} bytes): use bounded repeats such as {{1,64}}")]
    Unbounded {
        /// Where.
        at: Location,
        /// 0-based index of the pattern in the rule.
        index: usize,
        /// The longest match the engine accepts.
        limit: usize,
    },
    /// A rule's own example was not detected, or a negative example was.
    #[error("{at}: {which} example {index} {problem}")]
    Example {
        /// Where.
        at: Location,
        /// `positive` or `negative`.
        which: &'static str,
        /// 0-based index of the example.
        index: usize,
        /// What happened.
        problem: &'static str,
    },
}

impl RuleError {
    /// The location this error points at.
    pub fn location(&self) -> &Location {
        match self {
            RuleError::Syntax { at, .. }
            | RuleError::Invalid { at, .. }
            | RuleError::Pattern { at, .. }
            | RuleError::Unbounded { at, .. }
            | RuleError::Example { at, .. } => at,
        }
    }
}

/// A body could not be decoded for scanning.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A decompression bomb limit (output bytes, ratio, nesting, buffered
    /// archive size) was exceeded: the verdict is "undecodable: too large".
    #[error("undecodable: too large ({0})")]
    TooLarge(&'static str),
    /// The compressed stream is corrupt.
    #[error("corrupt {coding} stream: {message}")]
    Corrupt {
        /// The content coding, e.g. `gzip`.
        coding: &'static str,
        /// What the decoder said.
        message: String,
    },
    /// The body does not follow its declared media type.
    #[error("malformed {format}: {message}")]
    Malformed {
        /// The format, e.g. `multipart`, `json`, `zip`.
        format: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The Content-Encoding or transfer coding is not supported.
    #[error("unsupported content coding `{0}`")]
    UnsupportedCoding(String),
}
