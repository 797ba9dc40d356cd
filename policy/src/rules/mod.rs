//! The policy language: YAML rules, compiled into condition trees.
//!
//! See the crate documentation for the file format. This module owns the
//! parsing, validation (with file:line) and the shadowed-rule analysis; the
//! evaluation order and phases live in [`crate::decide`].

pub(crate) mod action;
mod compile;
pub(crate) mod condition;
mod conditions;
mod raw;
mod shadow;
pub(crate) mod values;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use action::{ActionKind, Severity, Tunnel};
pub(crate) use compile::{compile, DEFAULT_WARN_TTL};
use condition::Cond;
pub use condition::Outcome;

use crate::tenant::{Header, TenantRestriction};

/// A DLP profile: which detectors count, how many findings trigger it,
/// and what happens then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DlpProfile {
    /// Profile name, as rules refer to it.
    pub name: String,
    /// DLP rule ids that count (empty: all).
    pub detectors: Vec<String>,
    /// DLP categories that count (empty: all).
    pub categories: Vec<String>,
    /// Findings needed to trigger (at least 1).
    pub min_count: u32,
    /// The action when triggered (default `block`).
    pub action: ActionKind,
    /// Severity when triggered (default `high`).
    pub severity: Severity,
    /// User-facing reason when triggered.
    pub reason: Option<String>,
}

impl DlpProfile {
    /// A profile counting every detector, blocking on the first finding.
    pub fn all_detectors(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            detectors: Vec::new(),
            categories: Vec::new(),
            min_count: 1,
            action: ActionKind::Block,
            severity: Severity::High,
            reason: None,
        }
    }

    /// Findings in `verdict` that this profile counts.
    pub fn count(&self, verdict: &crate::context::DlpVerdict) -> u64 {
        verdict
            .hits
            .iter()
            .filter(|h| self.detectors.is_empty() || self.detectors.contains(&h.rule_id))
            .filter(|h| self.categories.is_empty() || self.categories.contains(&h.category))
            .map(|h| u64::from(h.count))
            .sum()
    }

    /// Whether `verdict` triggers this profile.
    pub fn triggered_by(&self, verdict: &crate::context::DlpVerdict) -> bool {
        self.count(verdict) >= u64::from(self.min_count.max(1))
    }
}

/// The action part of a rule or of the default.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub action: ActionKind,
    pub reason: Option<Arc<str>>,
    pub severity: Severity,
    pub dlp_profile: Option<Arc<DlpProfile>>,
    pub headers: Vec<Header>,
    pub tenant: Vec<TenantRestriction>,
    pub warn_ttl: Option<Duration>,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id.
    pub id: Arc<str>,
    /// Line of the rule in its file.
    pub line: usize,
    /// Free-text description.
    pub description: Option<String>,
    pub(crate) when: Option<Cond>,
    pub(crate) verdict: Verdict,
}

impl Rule {
    /// The rule's action.
    pub fn action(&self) -> ActionKind {
        self.verdict.action
    }
}
