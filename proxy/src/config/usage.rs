//! `[usage]`: per-app usage counters persisted in SQLite (shadow-IT discovery).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// `[usage]`: usage rows per (app or unknown registrable domain, instance,
/// user, device), aggregated in memory and written to an embedded SQLite
/// database in batches, off the request path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageSection {
    /// Record usage. Default true.
    pub enabled: bool,
    /// The SQLite database. Default `<data_dir>/usage.sqlite`.
    pub database: Option<PathBuf>,
    /// How often aggregated counters are written. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Most distinct usage rows held in memory between two writes; requests
    /// for further rows are dropped and counted in
    /// `portcullis_usage_dropped`. Default 100,000.
    pub max_pending: usize,
}

impl Default for UsageSection {
    fn default() -> Self {
        Self {
            enabled: true,
            database: None,
            flush_interval: Duration::from_secs(5),
            max_pending: 100_000,
        }
    }
}

impl UsageSection {
    /// The database file: `database`, else `usage.sqlite` in `data_dir`.
    pub fn database_path(&self, data_dir: &Path) -> PathBuf {
        self.database
            .clone()
            .unwrap_or_else(|| data_dir.join("usage.sqlite"))
    }
}
