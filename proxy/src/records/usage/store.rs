//! The usage database: schema, batched upserts, and the queries the
//! shadow-IT report reads.
//!
//! Schema (version 1, recorded in `schema_version`):
//!
//! ```sql
//! CREATE TABLE usage (
//!     app        TEXT NOT NULL,   -- catalogue app id, or 'unknown:<registrable domain>'
//!     instance   TEXT,            -- tenant / workspace / org, when known
//!     user       TEXT,            -- authenticated or asserted user, when known
//!     device     TEXT,            -- device id (NULL until devices are identified)
//!     requests   INTEGER NOT NULL,
//!     bytes_up   INTEGER NOT NULL, -- client → origin
//!     bytes_down INTEGER NOT NULL, -- origin → client
//!     blocked    INTEGER NOT NULL, -- requests the proxy blocked
//!     bypassed   INTEGER NOT NULL, -- tunnels relayed blind
//!     first_seen INTEGER NOT NULL, -- unix seconds
//!     last_seen  INTEGER NOT NULL  -- unix seconds
//! );
//! -- one row per (app, instance, user, device); NULL and '' are the same key
//! CREATE UNIQUE INDEX usage_key ON usage (app, ifnull(instance, ''), ifnull(user, ''), ifnull(device, ''));
//! ```
//!
//! Never holds bodies, URLs or credentials.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::{Tally, UsageError, UsageKey};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS usage (
    app        TEXT NOT NULL,
    instance   TEXT,
    user       TEXT,
    device     TEXT,
    requests   INTEGER NOT NULL DEFAULT 0,
    bytes_up   INTEGER NOT NULL DEFAULT 0,
    bytes_down INTEGER NOT NULL DEFAULT 0,
    blocked    INTEGER NOT NULL DEFAULT 0,
    bypassed   INTEGER NOT NULL DEFAULT 0,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS usage_key
    ON usage (app, ifnull(instance, ''), ifnull(user, ''), ifnull(device, ''));
CREATE INDEX IF NOT EXISTS usage_last_seen ON usage (last_seen);
";

const UPSERT: &str = "
INSERT INTO usage (app, instance, user, device, requests, bytes_up, bytes_down,
                   blocked, bypassed, first_seen, last_seen)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
ON CONFLICT (app, ifnull(instance, ''), ifnull(user, ''), ifnull(device, '')) DO UPDATE SET
    requests   = requests + excluded.requests,
    bytes_up   = bytes_up + excluded.bytes_up,
    bytes_down = bytes_down + excluded.bytes_down,
    blocked    = blocked + excluded.blocked,
    bypassed   = bypassed + excluded.bypassed,
    first_seen = min(first_seen, excluded.first_seen),
    last_seen  = max(last_seen, excluded.last_seen)
";

/// Totals of the usage rows sharing one `app` value (a catalogue app id or
/// `unknown:<domain>`), over every instance, user and device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The `app` column.
    pub app: String,
    /// Distinct users (unauthenticated traffic counts none).
    pub users: u64,
    /// Distinct devices.
    pub devices: u64,
    /// The summed counters; `first_seen` is the earliest, `last_seen` the latest.
    pub tally: Tally,
}

/// An open usage database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// SQLite stores signed 64-bit integers; counters saturate rather than wrap.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// Opens (creating when missing, mode 0600, with its parent directory)
    /// the database at `path` for writing and makes sure the schema exists.
    pub fn create(path: &Path) -> Result<Self, UsageError> {
        let io = |source| UsageError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(0o600);
            let file = options.open(path).map_err(io)?;
            // An existing file keeps its mode on open: tighten it too.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        #[cfg(not(unix))]
        options.open(path).map_err(io)?;
        let conn = Connection::open(path).map_err(|e| sql(path, e))?;
        let mut store = Self {
            conn,
            path: path.to_owned(),
        };
        store.init()?;
        Ok(store)
    }

    /// Opens an existing database read-only (the report). A missing file is
    /// [`UsageError::Missing`], never an empty database.
    pub fn open_read_only(path: &Path) -> Result<Self, UsageError> {
        if !path.is_file() {
            return Err(UsageError::Missing {
                path: path.to_owned(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sql(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| sql(path, e))?;
        let store = Self {
            conn,
            path: path.to_owned(),
        };
        let version: Option<i64> = store
            .conn
            .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
            .map_err(|e| store.err(e))?;
        store.check_version(version.unwrap_or(0))?;
        Ok(store)
    }

    fn err(&self, e: rusqlite::Error) -> UsageError {
        sql(&self.path, e)
    }

    fn check_version(&self, found: i64) -> Result<(), UsageError> {
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        Err(UsageError::Version {
            path: self.path.clone(),
            found,
            supported: SCHEMA_VERSION,
        })
    }

    fn init(&mut self) -> Result<(), UsageError> {
        let path = self.path.clone();
        let e = |e| sql(&path, e);
        self.conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(e)?;
        // WAL lets the report read while the proxy writes; its side files
        // inherit the database's mode.
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(e)?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(e)?;
        let tx = self.conn.transaction().map_err(e)?;
        tx.execute_batch(SCHEMA).map_err(e)?;
        let found: Option<i64> = tx
            .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
            .optional()
            .map_err(e)?
            .flatten();
        match found {
            None => {
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(e)?;
            }
            Some(v) if v != SCHEMA_VERSION => {
                return Err(UsageError::Version {
                    path: path.clone(),
                    found: v,
                    supported: SCHEMA_VERSION,
                })
            }
            Some(_) => {}
        }
        tx.commit().map_err(e)
    }

    /// Adds `batch` to the stored rows in one transaction: all or nothing.
    pub fn write(&mut self, batch: &HashMap<UsageKey, Tally>) -> Result<(), UsageError> {
        let path = self.path.clone();
        let e = |e| sql(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut upsert = tx.prepare_cached(UPSERT).map_err(e)?;
            for (key, t) in batch {
                upsert
                    .execute(params![
                        key.app,
                        key.instance,
                        key.user,
                        key.device,
                        int(t.requests),
                        int(t.bytes_up),
                        int(t.bytes_down),
                        int(t.blocked),
                        int(t.bypassed),
                        t.first_seen,
                        t.last_seen,
                    ])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// Totals per `app` value for rows last seen at or after `since` (unix
    /// seconds; `None` for all).
    pub fn summaries(&self, since: Option<i64>) -> Result<Vec<Summary>, UsageError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT app, count(DISTINCT user), count(DISTINCT device), sum(requests),
                        sum(bytes_up), sum(bytes_down), sum(blocked), sum(bypassed),
                        min(first_seen), max(last_seen)
                 FROM usage WHERE last_seen >= ?1 GROUP BY app ORDER BY app",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([since.unwrap_or(i64::MIN)], |r| {
                Ok(Summary {
                    app: r.get(0)?,
                    users: count(r.get(1)?),
                    devices: count(r.get(2)?),
                    tally: Tally {
                        requests: count(r.get(3)?),
                        bytes_up: count(r.get(4)?),
                        bytes_down: count(r.get(5)?),
                        blocked: count(r.get(6)?),
                        bypassed: count(r.get(7)?),
                        first_seen: r.get(8)?,
                        last_seen: r.get(9)?,
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Distinct (app, instance) pairs for rows last seen at or after `since`.
    pub fn instances(&self, since: Option<i64>) -> Result<Vec<(String, String)>, UsageError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT DISTINCT app, instance FROM usage
                 WHERE instance IS NOT NULL AND instance != '' AND last_seen >= ?1
                 ORDER BY app, instance",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([since.unwrap_or(i64::MIN)], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

fn sql(path: &Path, source: rusqlite::Error) -> UsageError {
    UsageError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(app: &str, instance: Option<&str>, user: Option<&str>) -> UsageKey {
        UsageKey {
            app: app.into(),
            instance: instance.map(Into::into),
            user: user.map(Into::into),
            device: None,
        }
    }

    fn tally(requests: u64, up: u64, down: u64, first: i64, last: i64) -> Tally {
        Tally {
            requests,
            bytes_up: up,
            bytes_down: down,
            blocked: 0,
            bypassed: 0,
            first_seen: first,
            last_seen: last,
        }
    }

    #[test]
    fn upserts_add_counters_and_widen_the_time_range() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/usage.sqlite");
        let mut store = Store::create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let a = key("dropbox", None, Some("alice"));
        let b = key("dropbox", Some("corp"), Some("bob"));
        let u = key("unknown:shadow.test", None, None);
        store
            .write(&HashMap::from([(a.clone(), tally(1, 10, 100, 50, 60))]))
            .unwrap();
        store
            .write(&HashMap::from([
                (a.clone(), tally(2, 5, 5, 40, 55)),
                (b.clone(), tally(1, 1, 1, 70, 70)),
                (u.clone(), tally(3, 300, 3, 10, 20)),
            ]))
            .unwrap();
        // NULL columns are one key: a third write to `a` updates, never inserts.
        store
            .write(&HashMap::from([(a, tally(1, 1, 1, 90, 90))]))
            .unwrap();
        let rows: i64 = store
            .conn
            .query_row("SELECT count(*) FROM usage", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3);
        drop(store);

        let store = Store::open_read_only(&path).unwrap();
        let all = store.summaries(None).unwrap();
        assert_eq!(all.len(), 2);
        let dropbox = &all[0];
        assert_eq!(dropbox.app, "dropbox");
        assert_eq!(dropbox.users, 2);
        assert_eq!(dropbox.devices, 0);
        assert_eq!(dropbox.tally, tally(5, 17, 107, 40, 90));
        assert_eq!(all[1].app, "unknown:shadow.test");
        assert_eq!(all[1].users, 0);
        assert_eq!(
            store.instances(None).unwrap(),
            vec![("dropbox".to_owned(), "corp".to_owned())]
        );
        // `since` filters rows by last_seen.
        let recent = store.summaries(Some(60)).unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].users, 2);
        assert!(store.summaries(Some(1000)).unwrap().is_empty());
    }

    #[test]
    fn the_report_reads_while_the_proxy_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.sqlite");
        let mut writer = Store::create(&path).unwrap();
        let k = key("github", None, Some("alice"));
        writer
            .write(&HashMap::from([(k.clone(), tally(1, 1, 1, 5, 5))]))
            .unwrap();
        let reader = Store::open_read_only(&path).unwrap();
        assert_eq!(reader.summaries(None).unwrap()[0].tally.requests, 1);
        writer
            .write(&HashMap::from([(k, tally(1, 1, 1, 6, 6))]))
            .unwrap();
        assert_eq!(reader.summaries(None).unwrap()[0].tally.requests, 2);
        // The read-only connection cannot change anything.
        assert!(reader.conn.execute("DELETE FROM usage", []).is_err());
    }

    #[test]
    fn the_report_side_refuses_missing_and_foreign_databases() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.sqlite");
        let err = Store::open_read_only(&missing).unwrap_err();
        assert!(matches!(err, UsageError::Missing { .. }));
        assert!(err.to_string().contains("nope.sqlite"), "{err}");

        let newer = dir.path().join("newer.sqlite");
        drop(Store::create(&newer).unwrap());
        let conn = Connection::open(&newer).unwrap();
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        drop(conn);
        let err = Store::open_read_only(&newer).unwrap_err();
        assert!(
            matches!(err, UsageError::Version { found: 99, .. }),
            "{err}"
        );
        assert!(matches!(
            Store::create(&newer).unwrap_err(),
            UsageError::Version { found: 99, .. }
        ));

        let foreign = dir.path().join("foreign.sqlite");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(Store::open_read_only(&foreign).is_err());
    }
}
