use std::net::SocketAddr;

use super::*;
use crate::records::Mode;

fn record(app: Option<&str>, host: &str, domain: Option<&str>, user: Option<&str>) -> AccessRecord {
    let client: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let mut r = AccessRecord::start(client, "GET", "https", host, 443, "/", Mode::Intercepted);
    r.app = app.map(Into::into);
    r.registrable_domain = domain.map(Into::into);
    r.user = user.map(Into::into);
    r
}

#[test]
fn keys_name_the_app_or_the_unknown_registrable_domain() {
    let cases = [
        (
            Some("dropbox"),
            "www.dropbox.com",
            Some("dropbox.com"),
            Some("dropbox"),
        ),
        (
            Some("unknown"),
            "a.shadow.test",
            Some("shadow.test"),
            Some("unknown:shadow.test"),
        ),
        (Some("unknown"), "10.0.0.1", None, Some("unknown:10.0.0.1")),
        (
            Some("unknown"),
            "A.Shadow.Test",
            Some("Shadow.Test"),
            Some("unknown:shadow.test"),
        ),
        (None, "www.dropbox.com", None, None),
        (Some("unknown"), "", None, None),
    ];
    for (app, host, domain, want) in cases {
        let key = UsageKey::of(&record(app, host, domain, Some("alice")));
        assert_eq!(key.as_ref().map(|k| k.app.as_str()), want, "{app:?} {host}");
        if let Some(key) = key {
            assert_eq!(key.user.as_deref(), Some("alice"));
            assert_eq!(key.device, None);
        }
    }
}

#[test]
fn tallies_count_bytes_blocks_and_bypasses() {
    let mut r = record(Some("dropbox"), "www.dropbox.com", None, None);
    r.bytes_in = 100;
    r.bytes_out = 7;
    r.duration_us = 3_500_000;
    r.action = Some("block");
    let blocked = Tally::of(&r, 1_000);
    assert_eq!(
        blocked,
        Tally {
            requests: 1,
            bytes_up: 100,
            bytes_down: 7,
            blocked: 1,
            bypassed: 0,
            first_seen: 997,
            last_seen: 1_000,
        }
    );
    r.action = Some("bypass");
    r.duration_us = 0;
    let mut sum = Tally::of(&r, 2_000);
    assert_eq!((sum.blocked, sum.bypassed), (0, 1));
    sum.merge(&blocked);
    assert_eq!(sum.requests, 2);
    assert_eq!((sum.bytes_up, sum.bytes_down), (200, 14));
    assert_eq!((sum.blocked, sum.bypassed), (1, 1));
    assert_eq!((sum.first_seen, sum.last_seen), (997, 2_000));
}

#[test]
fn the_recorder_aggregates_bounds_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.sqlite");
    let metrics = Arc::new(Metrics::default());
    // A long interval: only explicit flushes and finish write.
    let recorder =
        UsageRecorder::start(&path, Duration::from_secs(3600), 2, metrics.clone()).unwrap();
    for user in ["alice", "alice", "bob", "carol"] {
        let mut r = record(Some("dropbox"), "www.dropbox.com", None, Some(user));
        r.bytes_in = 10;
        recorder.observe(&r);
    }
    // carol's row did not fit (max_pending = 2).
    assert_eq!(metrics.usage_dropped.get(), 1);
    recorder.observe(&record(None, "x.test", None, None));
    recorder.flush().unwrap();
    {
        let store = Store::open_read_only(&path).unwrap();
        let rows = store.summaries(None).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].users, 2);
        assert_eq!(rows[0].tally.requests, 3);
        assert_eq!(rows[0].tally.bytes_up, 30);
    }
    // After a flush the map is empty again, so carol fits now.
    let mut r = record(
        Some("unknown"),
        "a.shadow.test",
        Some("shadow.test"),
        Some("carol"),
    );
    r.bytes_in = 5;
    recorder.observe(&r);
    recorder.finish();
    recorder.observe(&r);
    assert_eq!(
        metrics.usage_dropped.get(),
        2,
        "observations after finish are dropped"
    );
    assert!(matches!(recorder.flush(), Err(UsageError::Stopped)));
    let store = Store::open_read_only(&path).unwrap();
    let rows = store.summaries(None).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].app, "unknown:shadow.test");
    assert_eq!(rows[1].tally.bytes_up, 5);
}

#[test]
fn a_disabled_recorder_records_nothing() {
    let recorder = UsageRecorder::off(Arc::new(Metrics::default()));
    recorder.observe(&record(Some("dropbox"), "www.dropbox.com", None, None));
    recorder.flush().unwrap();
    recorder.finish();
}

#[test]
fn carried_rows_stay_bounded() {
    let key = |app: &str| UsageKey {
        app: app.into(),
        instance: None,
        user: None,
        device: None,
    };
    let one = Tally {
        requests: 1,
        ..Tally::default()
    };
    let mut carry = HashMap::new();
    assert_eq!(
        carry_over(&mut carry, HashMap::from([(key("a"), one)]), 2),
        0
    );
    let batch = HashMap::from([(key("a"), one), (key("b"), one)]);
    assert_eq!(carry_over(&mut carry, batch, 2), 0);
    assert_eq!(carry[&key("a")].requests, 2);
    assert_eq!(
        carry_over(&mut carry, HashMap::from([(key("c"), one)]), 2),
        1
    );
    assert_eq!(carry.len(), 2);
}
