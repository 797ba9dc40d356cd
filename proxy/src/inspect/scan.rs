//! DLP on bodies: uploads held (bounded) until the verdict, downloads scanned
//! as they stream with a small hold-back.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use dlp::decode::{BodyMeta, BodyReport, BodyScanner};
use dlp::Finding;
use http::HeaderMap;
use http_body::{Body, Frame};
use http_body_util::BodyExt;

use super::Inspector;

/// The body metadata the decoders need, from the message headers.
pub fn body_meta(headers: &HeaderMap) -> BodyMeta {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    BodyMeta {
        content_encoding: text(http::header::CONTENT_ENCODING),
        content_type: text(http::header::CONTENT_TYPE),
    }
}

impl Inspector {
    /// A scanner for one body.
    pub fn scanner(&self, meta: &BodyMeta) -> BodyScanner {
        BodyScanner::new(
            &self.engine,
            meta,
            self.limits.clone(),
            self.blocklist.clone(),
        )
    }
}

/// An upload read into memory (up to the hold limit) and scanned.
pub enum Held<B> {
    /// The whole body arrived within the limit.
    Complete {
        /// Its frames, to forward unchanged if allowed.
        frames: Vec<Frame<Bytes>>,
        /// Everything found.
        findings: Vec<Finding>,
        /// Files and decoding errors.
        report: BodyReport,
    },
    /// The body is larger than the limit: the frames read so far and the rest.
    OverLimit {
        /// Frames read so far.
        frames: Vec<Frame<Bytes>>,
        /// The unread remainder.
        rest: B,
    },
    /// The client's body failed (reset, malformed framing).
    Failed(String),
}

/// Reads `body` until its end or `limit` bytes, feeding the scanner as
/// chunks arrive; nothing is forwarded meanwhile.
pub async fn hold<B>(mut body: B, mut scanner: BodyScanner, limit: u64) -> Held<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut frames = Vec::new();
    let mut findings = Vec::new();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return Held::Failed(e.to_string()),
        };
        if let Some(data) = frame.data_ref() {
            total += data.len() as u64;
            findings.extend(scanner.feed(data));
        }
        frames.push(frame);
        if total > limit {
            return Held::OverLimit { frames, rest: body };
        }
    }
    let mut report = scanner.finish();
    findings.append(&mut report.findings);
    Held::Complete {
        frames,
        findings,
        report,
    }
}

/// Streams a body through the scanner, keeping the last `holdback` bytes
/// until more arrive, so that a secret is detected before its last bytes
/// have been relayed.
pub struct DownloadScan {
    scanner: Option<BodyScanner>,
    holdback: usize,
    held: BytesMut,
    /// Every finding so far.
    pub findings: Vec<Finding>,
}

impl DownloadScan {
    /// Starts scanning a response body with `meta`.
    pub fn new(inspector: &Inspector, meta: &BodyMeta) -> Self {
        Self {
            scanner: Some(inspector.scanner(meta)),
            holdback: (inspector.engine.window() * 2).max(32 * 1024),
            held: BytesMut::new(),
            findings: Vec::new(),
        }
    }

    /// Scans `data`; returns the new findings and queues what may be relayed.
    pub fn feed(&mut self, data: &Bytes, out: &mut VecDeque<Frame<Bytes>>) -> usize {
        let before = self.findings.len();
        if let Some(scanner) = &mut self.scanner {
            self.findings.extend(scanner.feed(data));
        }
        self.held.extend_from_slice(data);
        if self.held.len() > self.holdback {
            let ready = self.held.len() - self.holdback;
            out.push_back(Frame::data(self.held.split_to(ready).freeze()));
        }
        self.findings.len() - before
    }

    /// Releases everything held (before trailers or at the end).
    pub fn flush(&mut self, out: &mut VecDeque<Frame<Bytes>>) {
        if !self.held.is_empty() {
            out.push_back(Frame::data(self.held.split().freeze()));
        }
    }

    /// Ends the scan: the report of files and errors; its findings are added
    /// to [`DownloadScan::findings`].
    pub fn finish(&mut self) -> Option<BodyReport> {
        let mut report = self.scanner.take()?.finish();
        self.findings.append(&mut report.findings);
        Some(report)
    }
}
