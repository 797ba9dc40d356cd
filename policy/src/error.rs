//! The crate's one error type and the warnings produced while checking a policy.

use std::fmt;

use serde::Serialize;

/// Where something was found: the origin the caller named (usually a file
/// path), and a 1-based line and column within it (0 when not known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The origin given by the caller, e.g. `policy.yaml` or `builtin:catalog/ai.yaml`.
    pub origin: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
}

impl Location {
    /// A location in `origin` at `line`:`column`.
    pub fn new(origin: &str, line: usize, column: usize) -> Self {
        Self {
            origin: origin.to_owned(),
            line,
            column,
        }
    }

    /// A location naming only the origin.
    pub fn origin(origin: &str) -> Self {
        Self::new(origin, 0, 0)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.origin),
            (l, 0) => write!(f, "{}:{l}", self.origin),
            (l, c) => write!(f, "{}:{l}:{c}", self.origin),
        }
    }
}

/// Everything that can go wrong in this crate. Every variant names where:
/// the origin (file) and, for text inputs, the line and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The text is not well-formed YAML, or does not have the expected shape
    /// (unknown field, wrong type, missing field).
    #[error("{location}: {field}: {message}")]
    Syntax {
        /// Where.
        location: Location,
        /// The path of the field, e.g. `rules[2].when`, or `-` when unknown.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A value is well-formed YAML but not acceptable (bad CIDR, bad regex,
    /// unknown app or category, duplicate id, out-of-range number…).
    #[error("{location}: {field}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// The field holding the value.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A MaxMind database could not be opened or read.
    #[error("{origin}: geo database: {message}")]
    Geo {
        /// The file or name of the database.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

impl PolicyError {
    /// Builds an [`PolicyError::Invalid`].
    pub fn invalid(
        location: Location,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            location,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The location of the error (for `Geo`, only the origin).
    pub fn location(&self) -> Location {
        match self {
            Self::Syntax { location, .. } | Self::Invalid { location, .. } => location.clone(),
            Self::Geo { origin, .. } => Location::origin(origin),
        }
    }
}

/// What kind of warning a [`Warning`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The rule can never match: an earlier rule matches everything it matches.
    Shadowed,
    /// The rule can never match at all (e.g. an empty `any`).
    NeverMatches,
    /// A rule names something suspicious but valid (e.g. a status no app has).
    Suspicious,
}

/// A problem that does not stop a policy from loading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Where.
    pub location: Location,
    /// The rule concerned.
    pub rule_id: String,
    /// What kind of problem.
    pub kind: WarningKind,
    /// Human-readable explanation.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: warning: rule `{}`: {}",
            self.location, self.rule_id, self.message
        )
    }
}
