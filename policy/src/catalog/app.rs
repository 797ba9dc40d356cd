//! One catalogue entry: identity, domains, risk, activity and instance patterns.

use serde::{Deserialize, Serialize};

use super::category::{Activity, Category};
use super::risk::RiskAttributes;
use crate::error::Location;

/// A SaaS application as the catalogue describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Stable identifier used in policies (`[a-z0-9_-]+`), e.g. `dropbox`.
    pub id: String,
    /// Display name, e.g. `Dropbox`.
    pub name: String,
    /// The company behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// What kind of service it is.
    pub category: Category,
    /// Domains owned by the app: each matches itself and every subdomain.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Host names that match exactly (no subdomains), for shared parent domains.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Host + path-prefix claims (`www.googleapis.com/upload/drive/`) for
    /// apps that share an API host with others; they win over the host's
    /// owner for requests (not at CONNECT time, where paths are unknown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
    /// The app's clients pin certificates: intercepting breaks them, so
    /// policies usually bypass it.
    #[serde(default)]
    pub pins_certificates: bool,
    /// Security attributes, each with its source; missing means unknown.
    #[serde(default)]
    pub risk: RiskAttributes,
    /// Administrator-pinned risk score, replacing the computed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_score: Option<u8>,
    /// How to read the tenant / workspace / account from a request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance: Vec<InstancePattern>,
    /// Request patterns that reveal an activity; the first that matches wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<ActivityPattern>,
    /// Example requests with their expected classification, checked by the test suite.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
    /// Where the entry was defined.
    #[serde(skip, default = "unknown_location")]
    pub defined_at: Location,
}

fn unknown_location() -> Location {
    Location::origin("-")
}

impl App {
    /// A minimal app: id, name, category and suffix domains; everything else
    /// empty or unknown.
    pub fn new(id: &str, name: &str, category: Category, domains: Vec<String>) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            vendor: None,
            category,
            domains,
            hosts: Vec::new(),
            routes: Vec::new(),
            pins_certificates: false,
            risk: RiskAttributes::default(),
            risk_score: None,
            instance: Vec::new(),
            activities: Vec::new(),
            examples: Vec::new(),
            defined_at: Location::origin("code"),
        }
    }

    /// The effective risk score: the pinned one, else the formula's.
    pub fn risk_score(&self) -> u8 {
        self.risk_score
            .unwrap_or_else(|| self.risk.score(self.category))
            .min(100)
    }

    /// Whether the app's category is privacy-sensitive.
    pub fn privacy_sensitive(&self) -> bool {
        self.category.is_privacy_sensitive()
    }
}

/// Where an instance (tenant, workspace, org, account domain) is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceSource {
    /// The host name.
    Host,
    /// The path (without the query).
    Path,
    /// A query parameter, named by `name`.
    Query,
    /// A request header, named by `name`.
    Header,
}

/// A rule for extracting the instance from a request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstancePattern {
    /// What to look at.
    pub from: InstanceSource,
    /// Query parameter or header name (for `query` and `header`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Regex; the group named `instance` (or else group 1, or else the whole
    /// match) is the instance. Matched case-insensitively on hosts.
    pub pattern: String,
    /// Regex on the host: the pattern applies only to matching hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Regex on the same text: when it matches, this pattern yields nothing
    /// (e.g. to skip `www.` or service paths like `/login`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not: Option<String>,
}

/// A header condition in an activity pattern.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderPattern {
    /// Header name (case-insensitive).
    pub name: String,
    /// Regex the value must match; absent means "present".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// method + host + path + header → activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityPattern {
    /// The activity this pattern reveals.
    pub activity: Activity,
    /// Allowed methods (upper case); empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Regex on the host; absent means any host of the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Regex on the path and query (`/a/b?c=d`); absent means any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Optional header condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderPattern>,
}

/// An example request and what it must classify as.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// HTTP method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers sent with it, as `Name: value` strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// Expected activity, absent for "no activity".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Activity>,
    /// Expected instance, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}
