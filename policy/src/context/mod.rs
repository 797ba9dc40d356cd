//! What the proxy knows about a connection or request when it asks for a
//! decision: who, which device, where from, where to, which app, what
//! activity, what DLP found, and when.
//!
//! Every field the proxy cannot know is an `Option`: `None` means *unknown*,
//! and conditions on unknown facts neither hold nor fail (see
//! [`crate::decide`] for how unknowns affect decisions). Facts that belong to
//! a later phase (request facts at CONNECT time, the DLP verdict before the
//! scan) are ignored by the evaluator even if present.

mod time;

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::catalog::{Activity, AppStatus, Category};

pub use time::{LocalTime, Weekday, Zone};

/// Everything a decision may depend on. Build it with struct update syntax
/// from [`Context::default`] or with [`crate::Classifier::context_for_host`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Context {
    /// Who is making the request.
    pub identity: Identity,
    /// The device it comes from.
    pub device: Device,
    /// Addresses and countries.
    pub network: Network,
    /// The destination host and the app it belongs to.
    pub app: AppFacts,
    /// Request-level facts; `None` at CONNECT time.
    pub request: Option<RequestFacts>,
    /// The DLP verdict; `None` before the scan.
    pub dlp: Option<DlpVerdict>,
    /// Local time of day and day of week in the configured time zone
    /// (see [`Zone::local_time`]).
    pub local_time: Option<LocalTime>,
    /// Now, in seconds since the Unix epoch (for posture freshness).
    pub now_unix: Option<u64>,
}

/// The user. An unauthenticated user has `user: None` and no groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// User name, e.g. `alice` or `alice@example.com`.
    #[serde(default)]
    pub user: Option<String>,
    /// Group names.
    #[serde(default)]
    pub groups: Vec<String>,
    /// How the user was identified: `basic`, `ldap`, `header`, `client_cert`, …
    #[serde(default)]
    pub auth_method: Option<String>,
}

/// Security posture reported by an endpoint agent; `None` means not reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Posture {
    /// Full-disk encryption enabled.
    #[serde(default)]
    pub disk_encryption: Option<bool>,
    /// EDR agent running.
    #[serde(default)]
    pub edr_running: Option<bool>,
    /// Host firewall enabled.
    #[serde(default)]
    pub firewall: Option<bool>,
    /// Screen lock configured.
    #[serde(default)]
    pub screen_lock: Option<bool>,
}

/// The client device. Unknown devices are unmanaged and non-compliant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Device id (from the client certificate or the agent).
    #[serde(default)]
    pub id: Option<String>,
    /// Whether the device is managed by the organisation.
    #[serde(default)]
    pub managed: bool,
    /// Operating system, lower case: `windows`, `macos`, `linux`, `ios`, `android`.
    #[serde(default)]
    pub os: Option<String>,
    /// OS version, dotted numbers, e.g. `14.4.1`.
    #[serde(default)]
    pub os_version: Option<String>,
    /// Posture attributes.
    #[serde(default)]
    pub posture: Posture,
    /// The posture store's overall verdict (stale posture counts as non-compliant).
    #[serde(default)]
    pub compliant: bool,
    /// When posture was last reported, seconds since the Unix epoch.
    #[serde(default)]
    pub last_report_unix: Option<u64>,
}

/// Network facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Client address.
    #[serde(default)]
    pub client_ip: Option<IpAddr>,
    /// Client country, ISO 3166-1 alpha-2, upper case.
    #[serde(default)]
    pub client_country: Option<String>,
    /// Client site name from an administrator's CIDR override.
    #[serde(default)]
    pub client_site: Option<String>,
    /// Destination address.
    #[serde(default)]
    pub dest_ip: Option<IpAddr>,
    /// Destination country, ISO 3166-1 alpha-2, upper case.
    #[serde(default)]
    pub dest_country: Option<String>,
}

/// The destination and what the catalogue says about it. Produced by the
/// [`crate::Classifier`]; always known (unknown hosts have `app_id` `unknown`).
#[derive(Debug, Clone, Serialize)]
pub struct AppFacts {
    /// Destination host, lower case.
    pub host: String,
    /// Registrable domain (eTLD+1) of the host, if it has one.
    pub registrable_domain: Option<String>,
    /// Catalogue id, or `unknown`.
    pub app_id: Arc<str>,
    /// Display name, when catalogued.
    pub app_name: Option<Arc<str>>,
    /// Category, when catalogued.
    pub category: Option<Category>,
    /// Risk score 0–100, when catalogued.
    pub risk_score: Option<u8>,
    /// Review status (`unreviewed` for unknown hosts).
    pub status: AppStatus,
    /// The app pins certificates.
    pub pins_certificates: bool,
    /// The app is in a privacy-sensitive category.
    pub privacy_sensitive: bool,
    /// Tenant / workspace / org, when the request reveals it.
    pub instance: Option<String>,
}

impl Default for AppFacts {
    fn default() -> Self {
        Self {
            host: String::new(),
            registrable_domain: None,
            app_id: Arc::from(crate::catalog::UNKNOWN_APP),
            app_name: None,
            category: None,
            risk_score: None,
            status: AppStatus::Unreviewed,
            pins_certificates: false,
            privacy_sensitive: false,
            instance: None,
        }
    }
}

impl AppFacts {
    /// The key usage records and warn acknowledgements group by: the app id,
    /// or for unknown hosts the registrable domain (else the host).
    pub fn usage_key(&self) -> &str {
        if &*self.app_id != crate::catalog::UNKNOWN_APP {
            &self.app_id
        } else {
            self.registrable_domain.as_deref().unwrap_or(&self.host)
        }
    }
}

/// Facts known once a request is seen inside interception.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFacts {
    /// HTTP method, upper case.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// What the request does, if recognised (`None`: nothing special).
    #[serde(default)]
    pub activity: Option<Activity>,
    /// The file carried or fetched, if any.
    #[serde(default)]
    pub file: Option<FileInfo>,
}

/// A file in a request or response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileInfo {
    /// File name, if known.
    #[serde(default)]
    pub name: Option<String>,
    /// Type: an extension (`pdf`) or a media type (`application/pdf`), lower case.
    #[serde(default)]
    pub file_type: Option<String>,
    /// Size in bytes, if known.
    #[serde(default)]
    pub size: Option<u64>,
}

/// One DLP rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlpHit {
    /// The DLP rule id, e.g. `aws-access-key`.
    pub rule_id: String,
    /// Its category, e.g. `secrets`, `pci`, `pii`.
    #[serde(default)]
    pub category: String,
    /// How many findings.
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// What the DLP scan found (empty: nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlpVerdict {
    /// Rules that fired, with counts.
    #[serde(default)]
    pub hits: Vec<DlpHit>,
}

impl DlpVerdict {
    /// Total number of findings.
    pub fn total(&self) -> u64 {
        self.hits.iter().map(|h| u64::from(h.count)).sum()
    }
}
