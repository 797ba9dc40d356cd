//! The shadow-IT report: usage rows joined with the app catalogue.
//!
//! Catalogued apps come first, ordered by review status (unsanctioned,
//! unreviewed, tolerated, sanctioned), then by upload volume; destinations
//! in no catalogue follow, grouped by registrable domain, largest upload
//! first.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use policy::{AppStatus, Catalog};
use serde::Serialize;

use super::store::{Store, Summary};
use super::{unix_now, UsageError, UNKNOWN_PREFIX};
use crate::config::Config;

pub use super::render::ReportFormat;

/// Counters over every instance, user and device of an app or domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Distinct users (unauthenticated traffic counts none).
    pub users: u64,
    /// Distinct devices.
    pub devices: u64,
    /// Requests and tunnels.
    pub requests: u64,
    /// Bytes client → origin.
    pub bytes_up: u64,
    /// Bytes origin → client.
    pub bytes_down: u64,
    /// Requests blocked.
    pub blocked: u64,
    /// Tunnels bypassed.
    pub bypassed: u64,
    /// First seen, unix seconds.
    pub first_seen: i64,
    /// Last seen, unix seconds.
    pub last_seen: i64,
}

impl From<&Summary> for Totals {
    fn from(s: &Summary) -> Self {
        Self {
            users: s.users,
            devices: s.devices,
            requests: s.tally.requests,
            bytes_up: s.tally.bytes_up,
            bytes_down: s.tally.bytes_down,
            blocked: s.tally.blocked,
            bypassed: s.tally.bypassed,
            first_seen: s.tally.first_seen,
            last_seen: s.tally.last_seen,
        }
    }
}

/// A catalogued app in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUsage {
    /// The app id.
    pub id: String,
    /// Its display name (the id when the catalogue no longer has it).
    pub name: String,
    /// Its review status.
    pub status: AppStatus,
    /// Its category, when the catalogue has the app.
    pub category: Option<String>,
    /// Its risk score (0–100), when the catalogue has the app.
    pub risk_score: Option<u8>,
    /// Instances (tenants, workspaces) seen, sorted.
    pub instances: Vec<String>,
    /// The counters.
    pub totals: Totals,
}

/// A destination in no catalogue, by registrable domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainUsage {
    /// The registrable domain (or the host, for IP literals).
    pub domain: String,
    /// The counters.
    pub totals: Totals,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShadowItReport {
    /// Catalogued apps, unsanctioned and unreviewed first.
    pub apps: Vec<AppUsage>,
    /// Unknown destinations, largest upload first.
    pub unknown: Vec<DomainUsage>,
}

/// Why the report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A catalogue or status file named by the configuration is bad.
    #[error(transparent)]
    Catalog(#[from] crate::inspect::InspectError),
    /// The usage database is missing or unreadable.
    #[error(transparent)]
    Usage(#[from] UsageError),
}

/// Where a status sorts: the ones an admin must look at first.
fn status_rank(status: AppStatus) -> u8 {
    match status {
        AppStatus::Unsanctioned => 0,
        AppStatus::Unreviewed => 1,
        AppStatus::Tolerated => 2,
        AppStatus::Sanctioned => 3,
    }
}

impl ShadowItReport {
    /// The report for the proxy `config` describes, whose data dir is
    /// `data_dir`: its usage database opened read-only, joined with the
    /// built-in catalogue plus the configured catalogue and status files,
    /// limited to rows seen within `since` of now.
    pub fn for_config(
        config: &Config,
        data_dir: &Path,
        since: Option<Duration>,
    ) -> Result<Self, ReportError> {
        let store = Store::open_read_only(&config.usage.database_path(data_dir))?;
        let catalog = crate::inspect::load_catalog(&config.policy)?;
        let since = since.map(|d| {
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            unix_now().saturating_sub(secs)
        });
        Ok(Self::read(&store, &catalog, since)?)
    }

    /// Reads the rows last seen at or after `since` (unix seconds) from
    /// `store` and joins them with `catalog`.
    pub fn read(store: &Store, catalog: &Catalog, since: Option<i64>) -> Result<Self, UsageError> {
        Ok(Self::build(
            &store.summaries(since)?,
            &store.instances(since)?,
            catalog,
        ))
    }

    /// Builds the report from per-app summaries and (app, instance) pairs.
    pub fn build(summaries: &[Summary], instances: &[(String, String)], catalog: &Catalog) -> Self {
        let mut by_app: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (app, instance) in instances {
            by_app.entry(app).or_default().push(instance.clone());
        }
        let mut report = Self::default();
        for s in summaries {
            let totals = Totals::from(s);
            if let Some(domain) = s.app.strip_prefix(UNKNOWN_PREFIX) {
                report.unknown.push(DomainUsage {
                    domain: domain.to_owned(),
                    totals,
                });
                continue;
            }
            let app = catalog.app(&s.app);
            report.apps.push(AppUsage {
                id: s.app.clone(),
                name: app.map_or_else(|| s.app.clone(), |a| a.name.clone()),
                status: catalog.status(&s.app),
                category: app.map(|a| a.category.as_str().to_owned()),
                risk_score: app.map(policy::App::risk_score),
                instances: by_app.remove(s.app.as_str()).unwrap_or_default(),
                totals,
            });
        }
        report.apps.sort_by(|a, b| {
            status_rank(a.status)
                .cmp(&status_rank(b.status))
                .then(b.totals.bytes_up.cmp(&a.totals.bytes_up))
                .then(b.totals.users.cmp(&a.totals.users))
                .then(a.id.cmp(&b.id))
        });
        report.unknown.sort_by(|a, b| {
            b.totals
                .bytes_up
                .cmp(&a.totals.bytes_up)
                .then(b.totals.bytes_down.cmp(&a.totals.bytes_down))
                .then(a.domain.cmp(&b.domain))
        });
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::usage::Tally;

    fn summary(app: &str, users: u64, up: u64, down: u64) -> Summary {
        Summary {
            app: app.into(),
            users,
            devices: 0,
            tally: Tally {
                requests: 1,
                bytes_up: up,
                bytes_down: down,
                blocked: 0,
                bypassed: 0,
                first_seen: 1,
                last_seen: 2,
            },
        }
    }

    #[test]
    fn apps_by_status_then_upload_and_unknown_domains_by_upload() {
        let mut catalog = Catalog::builtin().unwrap();
        catalog
            .set_status("dropbox", AppStatus::Unsanctioned)
            .unwrap();
        catalog.set_status("box", AppStatus::Sanctioned).unwrap();
        catalog.set_status("slack", AppStatus::Tolerated).unwrap();
        let summaries = [
            summary("box", 9, 9_000, 0),
            summary("slack", 1, 50, 0),
            summary("github", 1, 10, 0),
            summary("dropbox", 2, 5, 0),
            summary("retired-app", 1, 100, 0),
            summary("unknown:small.test", 1, 10, 900),
            summary("unknown:big.test", 1, 1_000, 0),
            summary("unknown:tie.test", 1, 10, 1_000),
        ];
        let instances = [("slack".to_owned(), "acme".to_owned())];
        let report = ShadowItReport::build(&summaries, &instances, &catalog);
        let ids: Vec<_> = report.apps.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["dropbox", "retired-app", "github", "slack", "box"]);
        let dropbox = &report.apps[0];
        assert_eq!(dropbox.name, "Dropbox");
        assert_eq!(dropbox.status, AppStatus::Unsanctioned);
        assert_eq!(dropbox.category.as_deref(), Some("file_sharing"));
        assert!(dropbox.risk_score.is_some());
        assert_eq!(dropbox.totals.users, 2);
        let retired = &report.apps[1];
        assert_eq!(
            (retired.name.as_str(), retired.category.as_deref()),
            ("retired-app", None)
        );
        assert_eq!(report.apps[3].instances, ["acme"]);
        let domains: Vec<_> = report.unknown.iter().map(|d| d.domain.as_str()).collect();
        assert_eq!(domains, ["big.test", "tie.test", "small.test"]);
    }
}
