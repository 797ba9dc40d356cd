//! The DLP incident record, written to the incident log (separate from the
//! access log): what fired, where, for whom, and what was done — with
//! redacted excerpts only, never the matched value.
//!
//! Schema: `record` (always `"incident"`), `time`, `request_id` (the access
//! record's), `direction` (`upload` or `download`), `client`, `user`,
//! `host`, `path`, `app`, `rules` (`[{rule, category, count}]`), `excerpts`
//! (`[{rule, excerpt, part}]`, at most 20), `files` (`[{name, type, size,
//! sha256, blocklisted}]`), `policy_rule`, `action`, `severity`.

use std::net::SocketAddr;

use serde::Serialize;

/// Rule counts.
#[derive(Debug, Clone, Serialize)]
pub struct RuleCount {
    /// DLP rule id.
    pub rule: String,
    /// Its category.
    pub category: &'static str,
    /// Findings.
    pub count: u32,
}

/// One redacted excerpt.
#[derive(Debug, Clone, Serialize)]
pub struct Excerpt {
    /// DLP rule id.
    pub rule: String,
    /// Redacted excerpt (e.g. `4111********1111`).
    pub excerpt: String,
    /// Archive member or multipart part, if any.
    pub part: Option<String>,
}

/// One file seen in the body.
#[derive(Debug, Clone, Serialize)]
pub struct FileSeen {
    /// File name or archive path, when known.
    pub name: Option<String>,
    /// Sniffed type.
    pub r#type: &'static str,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (hex), for files and whenever a blocklist is set; absent for
    /// plain text bodies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// On the blocklist.
    pub blocklisted: bool,
}

/// One DLP incident.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentRecord {
    /// Always `incident`.
    pub record: &'static str,
    /// When, RFC 3339 UTC.
    pub time: String,
    /// The access record's request id.
    pub request_id: String,
    /// `upload` or `download`.
    pub direction: &'static str,
    /// Client address.
    pub client: SocketAddr,
    /// User, when known.
    pub user: Option<String>,
    /// Destination host.
    pub host: String,
    /// Request path (no query).
    pub path: String,
    /// App id.
    pub app: Option<String>,
    /// Rules that fired, with counts.
    pub rules: Vec<RuleCount>,
    /// Redacted excerpts.
    pub excerpts: Vec<Excerpt>,
    /// Files in the body.
    pub files: Vec<FileSeen>,
    /// The policy rule that decided.
    pub policy_rule: String,
    /// What was done.
    pub action: &'static str,
    /// Severity.
    pub severity: String,
}

/// Most excerpts kept per incident.
pub const MAX_EXCERPTS: usize = 20;

impl IncidentRecord {
    /// Fills rule counts, excerpts and files from findings and file parts.
    pub fn evidence(&mut self, findings: &[dlp::Finding], parts: &[dlp::decode::PartInfo]) {
        for f in findings {
            match self.rules.iter_mut().find(|r| *r.rule == *f.rule) {
                Some(r) => r.count += 1,
                None => self.rules.push(RuleCount {
                    rule: f.rule.to_string(),
                    category: f.category.as_str(),
                    count: 1,
                }),
            }
        }
        self.excerpts = findings
            .iter()
            .take(MAX_EXCERPTS)
            .map(|f| Excerpt {
                rule: f.rule.to_string(),
                excerpt: f.excerpt.clone(),
                part: f.part.as_deref().map(str::to_owned),
            })
            .collect();
        self.files = parts
            .iter()
            .map(|p| FileSeen {
                name: p
                    .path
                    .as_deref()
                    .map(str::to_owned)
                    .or_else(|| p.headers.as_ref().and_then(|h| h.filename.clone())),
                r#type: p.file_type.as_str(),
                size: p.size,
                sha256: p.sha256.as_ref().map(dlp::decode::hex),
                blocklisted: p.blocklisted,
            })
            .collect();
    }
}
