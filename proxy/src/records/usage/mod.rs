//! Usage records: who used which app (or unknown destination) how much.
//!
//! Every completed access record is folded into an in-memory map keyed by
//! (app or `unknown:<registrable domain>`, instance, user, device). The
//! request path only takes a short lock to add to a map entry; a background
//! thread swaps the map out every `usage.flush_interval` and upserts it into
//! SQLite in one transaction (see [`store`] for the schema), and once more
//! at shutdown. The map holds at most `usage.max_pending` distinct rows;
//! observations beyond that are dropped and counted in
//! `portcullis_usage_dropped`.
//!
//! Only classified records count: requests the proxy refused before it
//! looked at the destination (malformed requests, 407, 429, unreachable
//! hosts) are not usage of anything.

mod render;
pub mod report;
pub mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::metrics::Metrics;
use crate::records::AccessRecord;

pub use report::{AppUsage, DomainUsage, ReportError, ReportFormat, ShadowItReport, Totals};
pub use store::{Store, Summary, SCHEMA_VERSION};

/// The `app` value prefix of destinations that are in no catalogue.
pub const UNKNOWN_PREFIX: &str = "unknown:";

/// What went wrong with the usage database; names the file.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// SQLite refused an operation.
    #[error("usage database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The file or its directory could not be created.
    #[error("usage database {path}: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// There is no database to report on.
    #[error("no usage database at {path}: it is written by `portcullis run` with `[usage] enabled`; check --data-dir, --config and `usage.database`")]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The database was written by a different schema version.
    #[error("usage database {path} has schema version {found}; this portcullis handles version {supported}")]
    Version {
        /// The database file.
        path: PathBuf,
        /// The version found (0 when none is recorded).
        found: i64,
        /// The version this build handles.
        supported: i64,
    },
    /// The writer thread is gone (after shutdown).
    #[error("usage writer is not running")]
    Stopped,
}

/// The identity of a usage row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsageKey {
    /// Catalogue app id, or `unknown:<registrable domain>`.
    pub app: String,
    /// Tenant / workspace / org, when the request revealed one.
    pub instance: Option<String>,
    /// The user, when known.
    pub user: Option<String>,
    /// The device id, when known.
    pub device: Option<String>,
}

impl UsageKey {
    /// The row `record` counts towards; `None` for records that were never
    /// classified.
    pub fn of(record: &AccessRecord) -> Option<Self> {
        let app = match record.app.as_deref() {
            None => return None,
            Some(app) if app != policy::catalog::UNKNOWN_APP => app.to_owned(),
            Some(_) => {
                let domain = record
                    .registrable_domain
                    .as_deref()
                    .filter(|d| !d.is_empty())
                    .unwrap_or(&record.host);
                if domain.is_empty() {
                    return None;
                }
                format!("{UNKNOWN_PREFIX}{}", domain.to_ascii_lowercase())
            }
        };
        Some(Self {
            app,
            instance: record.instance.clone().filter(|i| !i.is_empty()),
            user: record.user.clone().filter(|u| !u.is_empty()),
            device: record.device.clone().filter(|d| !d.is_empty()),
        })
    }
}

/// The counters of a usage row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests (and tunnels).
    pub requests: u64,
    /// Bytes from the client towards the origin.
    pub bytes_up: u64,
    /// Bytes from the origin towards the client.
    pub bytes_down: u64,
    /// Requests blocked by the proxy.
    pub blocked: u64,
    /// Tunnels relayed blind (bypass).
    pub bypassed: u64,
    /// Earliest request start, unix seconds.
    pub first_seen: i64,
    /// Latest request end, unix seconds.
    pub last_seen: i64,
}

impl Tally {
    /// One request as recorded by `record`, which ended at `now` (unix seconds).
    pub fn of(record: &AccessRecord, now: i64) -> Self {
        let started = now - i64::try_from(record.duration_us / 1_000_000).unwrap_or(0);
        Self {
            requests: 1,
            bytes_up: record.bytes_in,
            bytes_down: record.bytes_out,
            blocked: u64::from(record.action == Some("block")),
            bypassed: u64::from(record.action == Some("bypass")),
            first_seen: started,
            last_seen: now,
        }
    }

    /// Adds `other` to these counters and widens the time range.
    pub fn merge(&mut self, other: &Tally) {
        self.requests = self.requests.saturating_add(other.requests);
        self.bytes_up = self.bytes_up.saturating_add(other.bytes_up);
        self.bytes_down = self.bytes_down.saturating_add(other.bytes_down);
        self.blocked = self.blocked.saturating_add(other.blocked);
        self.bypassed = self.bypassed.saturating_add(other.bypassed);
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
    }
}

/// Rows waiting for the next write, bounded.
#[derive(Debug)]
struct Pending {
    rows: Mutex<HashMap<UsageKey, Tally>>,
    max: usize,
    stopped: AtomicBool,
}

impl Pending {
    /// Folds one observation in; false when it was dropped (map full).
    fn add(&self, key: UsageKey, tally: &Tally) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return false;
        }
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(row) = rows.get_mut(&key) {
            row.merge(tally);
            return true;
        }
        if rows.len() >= self.max {
            return false;
        }
        rows.insert(key, *tally);
        true
    }

    fn take(&self) -> HashMap<UsageKey, Tally> {
        std::mem::take(&mut *self.rows.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

enum Signal {
    Flush(mpsc::SyncSender<Result<(), UsageError>>),
    Stop,
}

/// Feeds usage rows to the database. Cheap to share; one writer thread.
#[derive(Debug)]
pub struct UsageRecorder {
    pending: Option<Arc<Pending>>,
    metrics: Arc<Metrics>,
    writer: Mutex<Option<(mpsc::Sender<Signal>, std::thread::JoinHandle<()>)>>,
}

/// Now in unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl UsageRecorder {
    /// Opens (creating) the database at `path` and starts the writer thread,
    /// which writes every `flush_interval`.
    pub fn start(
        path: &std::path::Path,
        flush_interval: Duration,
        max_pending: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Self, UsageError> {
        let store = Store::create(path)?;
        let pending = Arc::new(Pending {
            rows: Mutex::new(HashMap::new()),
            max: max_pending.max(1),
            stopped: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel();
        let thread_pending = pending.clone();
        let thread_metrics = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("portcullis-usage".into())
            .spawn(move || write_loop(store, &thread_pending, &rx, flush_interval, &thread_metrics))
            .map_err(|source| UsageError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            pending: Some(pending),
            metrics,
            writer: Mutex::new(Some((tx, thread))),
        })
    }

    /// A recorder that records nothing (`usage.enabled = false`).
    pub fn off(metrics: Arc<Metrics>) -> Self {
        Self {
            pending: None,
            metrics,
            writer: Mutex::new(None),
        }
    }

    /// Counts `record` towards its usage row. Never blocks on I/O: a short
    /// lock and a map update; dropped (and counted) when the map is full.
    pub fn observe(&self, record: &AccessRecord) {
        let Some(pending) = &self.pending else { return };
        let Some(key) = UsageKey::of(record) else {
            return;
        };
        if !pending.add(key, &Tally::of(record, unix_now())) {
            self.metrics.usage_dropped.inc();
        }
    }

    /// Writes everything observed so far and waits for the write. Blocks:
    /// not for runtime threads.
    pub fn flush(&self) -> Result<(), UsageError> {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let Some((tx, _)) = writer.as_ref() else {
            return match self.pending {
                None => Ok(()),
                Some(_) => Err(UsageError::Stopped),
            };
        };
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        tx.send(Signal::Flush(ack_tx))
            .map_err(|_| UsageError::Stopped)?;
        drop(writer);
        ack_rx.recv().unwrap_or(Err(UsageError::Stopped))
    }

    /// Writes everything observed and stops the writer; later observations
    /// are dropped. Called once at shutdown.
    pub fn finish(&self) {
        if let Some(pending) = &self.pending {
            pending.stopped.store(true, Ordering::Relaxed);
        }
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((tx, thread)) = writer {
            let _ = tx.send(Signal::Stop);
            let _ = thread.join();
        }
    }
}

/// Moves `batch` into `carry` (rows a failed write left behind), keeping at
/// most `max` rows; returns how many observations were dropped.
fn carry_over(
    carry: &mut HashMap<UsageKey, Tally>,
    batch: HashMap<UsageKey, Tally>,
    max: usize,
) -> u64 {
    if carry.is_empty() {
        *carry = batch;
        return 0;
    }
    let mut dropped = 0;
    for (key, tally) in batch {
        if let Some(row) = carry.get_mut(&key) {
            row.merge(&tally);
        } else if carry.len() < max {
            carry.insert(key, tally);
        } else {
            dropped += tally.requests;
        }
    }
    dropped
}

fn write_loop(
    mut store: Store,
    pending: &Pending,
    rx: &mpsc::Receiver<Signal>,
    interval: Duration,
    metrics: &Metrics,
) {
    let mut carry = HashMap::new();
    loop {
        let signal = rx.recv_timeout(interval);
        let dropped = carry_over(&mut carry, pending.take(), pending.max);
        metrics.usage_dropped.inc_by(dropped);
        let result = if carry.is_empty() {
            Ok(())
        } else {
            store.write(&carry)
        };
        match &result {
            Ok(()) => carry.clear(),
            Err(e) => {
                // Kept for the next attempt (bounded by `max`).
                metrics.usage_write_errors.inc();
                tracing::warn!(error = %e, rows = carry.len(), "cannot write usage rows; retrying at the next flush");
            }
        }
        match signal {
            Ok(Signal::Flush(ack)) => {
                let _ = ack.send(result);
            }
            Ok(Signal::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

#[cfg(test)]
mod tests;
