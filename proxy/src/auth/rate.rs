//! A bound on failed authentication attempts per client address.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

/// Counts failures per address in a window; over the limit, further
/// attempts are refused without being verified.
#[derive(Debug, Clone)]
pub struct FailureLimiter {
    limit: u32,
    counts: Cache<IpAddr, Arc<AtomicU32>>,
}

impl FailureLimiter {
    /// At most `limit` failures per address within `window`
    /// (the window restarts with the first failure after it expires).
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            counts: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(window)
                .build(),
        }
    }

    /// True when `client` has used up its failures.
    pub fn is_throttled(&self, client: IpAddr) -> bool {
        self.counts
            .get(&client)
            .is_some_and(|c| c.load(Ordering::Relaxed) >= self.limit)
    }

    /// Records one failure by `client`.
    pub fn record(&self, client: IpAddr) {
        self.counts
            .get_with(client, || Arc::new(AtomicU32::new(0)))
            .fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_the_limit() {
        let l = FailureLimiter::new(3, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(!l.is_throttled(ip));
            l.record(ip);
        }
        assert!(l.is_throttled(ip));
        assert!(!l.is_throttled("192.0.2.2".parse().unwrap()));
    }
}
