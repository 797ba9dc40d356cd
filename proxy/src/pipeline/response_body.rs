//! The response body filter: relays the origin's body as a stream, scans it
//! for DLP when the policy asks (aborting the response on a block verdict),
//! and completes the access record when the body ends or is abandoned.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use policy::{ActionKind, Context, Decision, Phase};

use super::body::BoxError;
use super::record::PendingRecord;
use crate::inspect::context::verdict;
use crate::inspect::scan::DownloadScan;
use crate::state::ProxyState;

/// DLP on a download: the scan and what is needed to decide on it.
pub struct DownloadCheck {
    /// The streaming scan.
    pub scan: DownloadScan,
    /// The request's policy context.
    pub ctx: Context,
    /// Shared state (policy, incident log).
    pub state: Arc<ProxyState>,
}

impl DownloadCheck {
    /// The after-DLP decision for what was found so far; blocklisted files
    /// in `parts` block regardless of the policy.
    fn decide(&mut self, parts: &[dlp::decode::PartInfo]) -> Decision {
        self.ctx.dlp = Some(verdict(&self.scan.findings));
        let mut d = self
            .state
            .inspect
            .policy
            .evaluate(&self.ctx, Phase::AfterDlp);
        if parts.iter().any(|p| p.blocklisted) {
            d.action = ActionKind::Block;
            d.reason = Some("a file on the blocklist".into());
        }
        d
    }
}

/// The error a blocked download ends with (RST_STREAM on HTTP/2, connection
/// close on HTTP/1.1).
#[derive(Debug, thiserror::Error)]
#[error("download blocked by data-loss prevention (policy rule {0})")]
pub struct DownloadBlocked(pub String);

/// A response body on its way to the client.
pub struct ResponseBody<B> {
    inner: B,
    record: Option<PendingRecord>,
    check: Option<DownloadCheck>,
    queue: VecDeque<Frame<Bytes>>,
    ended: bool,
}

impl<B> ResponseBody<B> {
    /// Relays `inner`, recording into `record`; scans when `check` is set.
    pub fn new(inner: B, record: PendingRecord, check: Option<DownloadCheck>) -> Self {
        Self {
            inner,
            record: Some(record),
            check,
            queue: VecDeque::new(),
            ended: false,
        }
    }

    fn block(&mut self, decision: &Decision, parts: &[dlp::decode::PartInfo]) -> BoxError {
        let label = decision.rule_label().to_owned();
        if let (Some(mut record), Some(check)) = (self.record.take(), self.check.as_ref()) {
            super::incident::report(
                &check.state,
                record.record_mut(),
                "download",
                &check.scan.findings,
                parts,
                decision,
            );
            record.fail(format!("download blocked by DLP (policy rule {label})"));
        }
        self.queue.clear();
        Box::new(DownloadBlocked(label))
    }

    fn end(&mut self) -> Result<(), BoxError> {
        self.ended = true;
        let Some(check) = self.check.as_mut() else {
            return Ok(());
        };
        let report = check.scan.finish().unwrap_or_default();
        let decision = check.decide(&report.parts);
        if decision.action == ActionKind::Block {
            return Err(self.block(&decision, &report.parts));
        }
        check.scan.flush(&mut self.queue);
        if !check.scan.findings.is_empty() || report.parts.iter().any(|p| p.blocklisted) {
            if let Some(record) = self.record.as_mut() {
                super::incident::report(
                    &check.state,
                    record.record_mut(),
                    "download",
                    &check.scan.findings,
                    &report.parts,
                    &decision,
                );
            }
        }
        Ok(())
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if let Some(frame) = this.queue.pop_front() {
                if let (Some(data), Some(record)) = (frame.data_ref(), this.record.as_mut()) {
                    record.add_out(data.len() as u64);
                }
                // Unscanned bodies that end with this frame end here, so the
                // server can send the last frame and the end of the message
                // together (hyper may not poll again after `is_end_stream`).
                if this.queue.is_empty() && this.check.is_none() && this.inner.is_end_stream() {
                    this.ended = true;
                    if let Some(record) = this.record.take() {
                        record.complete();
                    }
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            if this.ended {
                if let Some(record) = this.record.take() {
                    record.complete();
                }
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    if let Err(e) = this.end() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let e: BoxError = e.into();
                    if let Some(mut record) = this.record.take() {
                        record.fail(format!("upstream body: {e}"));
                    }
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(frame))) => match this.check.as_mut() {
                    None => this.queue.push_back(frame),
                    Some(check) => match frame.into_data() {
                        Ok(data) => {
                            if check.scan.feed(&data, &mut this.queue) > 0 {
                                let decision = check.decide(&[]);
                                if decision.action == ActionKind::Block {
                                    return Poll::Ready(Some(Err(this.block(&decision, &[]))));
                                }
                            }
                        }
                        Err(trailers) => {
                            check.scan.flush(&mut this.queue);
                            this.queue.push_back(trailers);
                        }
                    },
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.queue.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        if self.check.is_some() {
            SizeHint::default()
        } else {
            self.inner.size_hint()
        }
    }
}
