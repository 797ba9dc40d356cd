//! An access record in progress: created when a request starts, written
//! exactly once when its response ends, fails, or is abandoned.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::records::AccessRecord;
use crate::state::ProxyState;

/// A record that writes itself when dropped.
pub struct PendingRecord {
    state: Arc<ProxyState>,
    record: AccessRecord,
    started: Instant,
    bytes_in: Arc<AtomicU64>,
    complete: bool,
    discarded: bool,
}

impl PendingRecord {
    /// Starts timing `record` now.
    pub fn new(state: Arc<ProxyState>, record: AccessRecord) -> Self {
        Self {
            state,
            record,
            started: Instant::now(),
            bytes_in: Arc::new(AtomicU64::new(0)),
            complete: false,
            discarded: false,
        }
    }

    /// The counter request-body bytes are added to.
    pub fn bytes_in_counter(&self) -> Arc<AtomicU64> {
        self.bytes_in.clone()
    }

    /// The request id, for error pages and headers.
    pub fn request_id(&self) -> &str {
        &self.record.request_id
    }

    /// Mutable access to the record's fields.
    pub fn record_mut(&mut self) -> &mut AccessRecord {
        &mut self.record
    }

    /// Adds response bytes relayed to the client.
    pub fn add_out(&mut self, n: u64) {
        self.record.bytes_out += n;
    }

    /// Sets the status answered.
    pub fn set_status(&mut self, status: u16) {
        self.record.status = status;
    }

    /// Marks the exchange failed with `error` and writes the record.
    pub fn fail(&mut self, error: String) {
        self.record.error.get_or_insert(error);
        self.complete = true;
    }

    /// Drops the record without writing it (its exchange is recorded
    /// elsewhere, e.g. request by request).
    pub fn discard(mut self) {
        self.discarded = true;
    }

    /// Marks the exchange as refused by the proxy (a policy or DLP block): not
    /// an error of the exchange, but the reason is kept.
    pub fn mark_refused(&mut self, reason: String) {
        self.record.error.get_or_insert(reason);
        self.complete = true;
    }

    /// Marks the exchange complete; the record is written on drop.
    pub fn complete(mut self) {
        self.complete = true;
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        if self.discarded {
            return;
        }
        if !self.complete && self.record.error.is_none() {
            self.record.error = Some("client went away before the response completed".into());
        }
        self.record.bytes_in += self.bytes_in.load(Ordering::Relaxed);
        self.record.duration_us = self.started.elapsed().as_micros() as u64;
        let metrics = &self.state.metrics;
        metrics.request(self.record.mode.label(), self.record.status);
        metrics.relayed(self.record.bytes_in, self.record.bytes_out);
        self.state.access.write_access(&self.record);
        self.state.usage.observe(&self.record);
    }
}
