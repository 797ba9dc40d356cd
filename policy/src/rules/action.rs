//! What a rule does.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The action of a rule or of the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Let it through (with any headers the rule injects).
    Allow,
    /// Refuse, showing the rule's reason to the user.
    Block,
    /// Do not inspect TLS: relay bytes blindly (CONNECT time only).
    Bypass,
    /// Pages load, file downloads are blocked.
    IsolateDownloads,
    /// The user must acknowledge a warning, remembered per user+app for a TTL.
    Warn,
    /// Allow, but mark the record as a policy hit (the rule still ends
    /// evaluation: first match wins).
    LogOnly,
}

impl ActionKind {
    /// The name used in YAML and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Block => "block",
            Self::Bypass => "bypass",
            Self::IsolateDownloads => "isolate_downloads",
            Self::Warn => "warn",
            Self::LogOnly => "log_only",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a rule hit is, for records and alerts.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational (the default).
    #[default]
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        };
        f.write_str(s)
    }
}

/// What the proxy does with the TLS tunnel at CONNECT time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tunnel {
    /// Refuse (serve the block page inside a minted TLS session).
    Block,
    /// Relay bytes without interception.
    Bypass,
    /// Intercept and evaluate per request.
    Intercept,
}

impl fmt::Display for Tunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Block => "block",
            Self::Bypass => "bypass",
            Self::Intercept => "intercept",
        })
    }
}
