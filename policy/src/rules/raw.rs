//! The policy file as written: serde structures mirroring the YAML, with
//! spans kept so that compilation errors name file:line.

use std::collections::HashMap;

use marked_yaml::Spanned;
use serde::Deserialize;

use super::action::{ActionKind, Severity};
use crate::yaml::OneOrMany;

/// A whole policy file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    /// Format version; only 1 exists.
    #[serde(default)]
    pub version: Option<Spanned<u32>>,
    /// What happens when no rule matches (default: allow).
    #[serde(default)]
    pub default: Option<Spanned<RawOutcome>>,
    /// Named DLP profiles that rules refer to.
    #[serde(default)]
    pub dlp_profiles: HashMap<Spanned<String>, Spanned<RawDlpProfile>>,
    /// The ordered rules.
    #[serde(default)]
    pub rules: Vec<Spanned<RawRule>>,
}

/// What a rule (or the default) does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutcome {
    pub action: Spanned<ActionKind>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub dlp_profile: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: Vec<Spanned<String>>,
    #[serde(default)]
    pub tenant_restrictions: Vec<Spanned<RawTenant>>,
    #[serde(default)]
    pub warn_ttl: Option<Spanned<String>>,
}

/// One rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub id: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub when: Option<Spanned<RawCond>>,
    pub action: Spanned<ActionKind>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub dlp_profile: Option<Spanned<String>>,
    /// Extra request headers, each `Name: value`.
    #[serde(default)]
    pub headers: Vec<Spanned<String>>,
    #[serde(default)]
    pub tenant_restrictions: Vec<Spanned<RawTenant>>,
    #[serde(default)]
    pub warn_ttl: Option<Spanned<String>>,
}

fn yes() -> bool {
    true
}

/// A DLP profile: which detectors count and how many findings trigger it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDlpProfile {
    #[serde(default)]
    pub detectors: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub min_count: Option<u32>,
    #[serde(default)]
    pub action: Option<Spanned<ActionKind>>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Numeric comparison; every given bound must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCmp {
    #[serde(default)]
    pub eq: Option<String>,
    #[serde(default)]
    pub gt: Option<String>,
    #[serde(default)]
    pub gte: Option<String>,
    #[serde(default)]
    pub lt: Option<String>,
    #[serde(default)]
    pub lte: Option<String>,
}

/// A weekly time window in local time. `from` > `to` wraps past midnight.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTime {
    #[serde(default)]
    pub days: Vec<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
}

/// Required posture attributes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPosture {
    #[serde(default)]
    pub disk_encryption: Option<bool>,
    #[serde(default)]
    pub edr_running: Option<bool>,
    #[serde(default)]
    pub firewall: Option<bool>,
    #[serde(default)]
    pub screen_lock: Option<bool>,
}

/// A condition: a one-key mapping naming a context field or a combinator.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawCond {
    All(Vec<Spanned<RawCond>>),
    Any(Vec<Spanned<RawCond>>),
    Not(Box<Spanned<RawCond>>),
    User(OneOrMany),
    Group(OneOrMany),
    AuthMethod(OneOrMany),
    Authenticated(bool),
    DeviceId(OneOrMany),
    DeviceManaged(bool),
    DeviceCompliant(bool),
    DeviceOs(OneOrMany),
    DeviceOsVersion(RawCmp),
    Posture(RawPosture),
    PostureAge(RawCmp),
    ClientIp(OneOrMany),
    ClientCountry(OneOrMany),
    ClientSite(OneOrMany),
    DestIp(OneOrMany),
    DestCountry(OneOrMany),
    App(OneOrMany),
    Category(OneOrMany),
    AppStatus(OneOrMany),
    RiskScore(RawCmp),
    Instance(OneOrMany),
    Host(OneOrMany),
    HostSuffix(OneOrMany),
    RegistrableDomain(OneOrMany),
    PinsCertificates(bool),
    PrivacySensitive(bool),
    Activity(OneOrMany),
    Method(OneOrMany),
    PathPrefix(OneOrMany),
    FileType(OneOrMany),
    FileSize(RawCmp),
    DlpRule(OneOrMany),
    DlpCategory(OneOrMany),
    DlpCount(RawCmp),
    Time(RawTime),
}

/// A tenant restriction as written in a rule.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawTenant {
    Microsoft(RawMicrosoft),
    Google(RawDomains),
    Slack(RawSlack),
    Dropbox(RawTeams),
    Chatgpt(RawWorkspace),
    Youtube(RawYoutube),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMicrosoft {
    #[serde(default)]
    pub tenants: Vec<String>,
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub policy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDomains {
    pub domains: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSlack {
    pub workspaces: Vec<String>,
    pub requester: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTeams {
    pub teams: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkspace {
    pub workspace: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawYoutube {
    pub mode: String,
}
