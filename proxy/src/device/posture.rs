//! Posture reports from device agents, kept for a TTL.

use std::collections::HashMap;
use std::time::Duration;

use moka::sync::Cache;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What an agent reports (`POST /v1/posture`, JSON).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PostureReport {
    /// The reporting device.
    pub device_id: String,
    /// Operating system, e.g. `macos`.
    #[serde(default)]
    pub os: Option<String>,
    /// Its version, e.g. `15.1`.
    #[serde(default)]
    pub os_version: Option<String>,
    /// Full-disk encryption on.
    #[serde(default)]
    pub disk_encryption: Option<bool>,
    /// EDR agent running.
    #[serde(default)]
    pub edr_running: Option<bool>,
    /// Host firewall on.
    #[serde(default)]
    pub firewall: Option<bool>,
    /// Screen lock configured.
    #[serde(default)]
    pub screen_lock: Option<bool>,
    /// When the proxy received it (set by the proxy).
    #[serde(skip)]
    pub reported_unix: u64,
}

/// Posture by device id; entries expire after the TTL (stale = unknown).
#[derive(Debug, Clone)]
pub struct PostureStore {
    reports: Cache<String, PostureReport>,
}

impl PostureStore {
    /// Reports are kept `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            reports: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Stores a report, stamped now.
    pub fn put(&self, mut report: PostureReport) {
        report.reported_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.reports.insert(report.device_id.clone(), report);
    }

    /// The fresh report of `device_id`, if any.
    pub fn get(&self, device_id: &str) -> Option<PostureReport> {
        self.reports.get(device_id)
    }
}

/// Per-device agent tokens, stored as SHA-256 hex digests (the file holds no
/// usable secret): `device-id = "hex digest"` lines of a TOML table.
#[derive(Debug, Clone, Default)]
pub struct TokenCheck {
    digests: HashMap<String, String>,
}

impl TokenCheck {
    /// Parses the tokens file text (TOML: `[tokens]` device id → SHA-256 hex).
    pub fn parse(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Shape {
            #[serde(default)]
            tokens: HashMap<String, String>,
        }
        let shape: Shape = toml::from_str(text).map_err(|e| e.to_string())?;
        for (device, digest) in &shape.tokens {
            if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "device {device:?}: token must be a SHA-256 hex digest"
                ));
            }
        }
        Ok(Self {
            digests: shape
                .tokens
                .into_iter()
                .map(|(k, v)| (k, v.to_ascii_lowercase()))
                .collect(),
        })
    }

    /// True when `token` is `device_id`'s token.
    pub fn verify(&self, device_id: &str, token: &str) -> bool {
        let Some(want) = self.digests.get(device_id) else {
            return false;
        };
        let got = hex::encode(Sha256::digest(token.as_bytes()));
        // Both are 64 hex characters; compare without early exit.
        got.bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_by_digest() {
        let digest = hex::encode(Sha256::digest(b"agent-secret"));
        let check = TokenCheck::parse(&format!("[tokens]\nlaptop-1 = \"{digest}\"\n")).unwrap();
        assert!(check.verify("laptop-1", "agent-secret"));
        assert!(!check.verify("laptop-1", "agent-secreT"));
        assert!(!check.verify("laptop-2", "agent-secret"));
        assert!(TokenCheck::parse("[tokens]\nx = \"short\"\n").is_err());
    }
}
