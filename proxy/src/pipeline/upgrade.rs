//! Relaying a connection after `101 Switching Protocols` (WebSocket).

use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::record::PendingRecord;
use crate::relay::relay as relay_bytes;

/// Waits for both sides to finish switching, then relays bytes until either
/// closes or the connection idles out; the record is written at the end.
pub async fn relay(
    client: OnUpgrade,
    upstream: OnUpgrade,
    mut pending: PendingRecord,
    idle: Duration,
) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(pair) => pair,
        Err(e) => {
            pending.fail(format!("upgrade failed: {e}"));
            return;
        }
    };
    let relayed = relay_bytes(TokioIo::new(client), TokioIo::new(upstream), idle).await;
    let record = pending.record_mut();
    record.bytes_in += relayed.a_to_b;
    record.bytes_out += relayed.b_to_a;
    match relayed.error {
        Some(e) => pending.fail(e),
        None => pending.complete(),
    }
}
