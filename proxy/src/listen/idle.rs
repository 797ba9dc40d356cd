//! Idleness of a multiplexed client connection: an HTTP/2 connection to the
//! HTTPS-proxy listener is idle while no request is being answered and no
//! tunnel opened over it is still open. HTTP/1.1 connections get the same
//! bound from `limits.header_read_timeout`; HTTP/2 has no request head to
//! time, so the listener counts streams itself.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// The number of requests and tunnels open on one connection.
#[derive(Debug, Clone)]
pub struct OpenStreams(Arc<watch::Sender<usize>>);

impl Default for OpenStreams {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }
}

impl OpenStreams {
    /// Counts one more open request or tunnel until the guard is dropped.
    pub fn enter(&self) -> StreamGuard {
        self.0.send_modify(|n| *n += 1);
        StreamGuard(self.0.clone())
    }

    /// Resolves once nothing has been open for `limit` in a row.
    pub async fn idle_for(&self, limit: Duration) {
        let mut open = self.0.subscribe();
        loop {
            if *open.borrow_and_update() == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(limit) => return,
                    _ = open.changed() => {}
                }
            } else if open.changed().await.is_err() {
                // The sender lives in `self`: unreachable, but never spin.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// One open request or tunnel; dropping it closes it.
#[derive(Debug)]
pub struct StreamGuard(Arc<watch::Sender<usize>>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_only_after_the_last_stream_closed_for_the_whole_limit() {
        let streams = OpenStreams::default();
        let first = streams.enter();
        let second = streams.enter();
        let limit = Duration::from_millis(100);
        let idle = streams.idle_for(limit);
        tokio::pin!(idle);
        // Open: not idle, for several times the limit.
        let long = Duration::from_millis(400);
        assert!(tokio::time::timeout(long, idle.as_mut()).await.is_err());
        drop(first);
        assert!(tokio::time::timeout(long, idle.as_mut()).await.is_err());
        drop(second);
        let closed_at = tokio::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(10), idle)
            .await
            .expect("idle once nothing is open");
        assert!(closed_at.elapsed() >= limit);
    }
}
