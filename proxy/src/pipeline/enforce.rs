//! The policy stages of the pipeline: classify and decide per request,
//! inject headers, hold and scan uploads, and check downloads in
//! isolate-downloads mode.

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use policy::{ActionKind, Context, Decision, Phase};

use super::body::{boxed, CountedBody, ProxyBody};
use super::record::PendingRecord;
use crate::config::OverLimit;
use crate::inspect::context::verdict as dlp_verdict;
use crate::inspect::scan::{body_meta, hold, Held};
use crate::state::ProxyState;

/// What the request phase decided.
pub struct RequestVerdict {
    /// The request's context (the DLP verdict is added later).
    pub ctx: Context,
    /// The decision (replaced by the after-DLP decision once an upload is scanned).
    pub decision: Decision,
    /// The request phase chose a DLP profile: the response is scanned too.
    pub scan_response: bool,
}

/// Classifies the request, evaluates the policy (request phase) and copies
/// the classification and decision into the record.
pub fn decide(
    state: &ProxyState,
    connection: &Context,
    parts: &Parts,
    host: &str,
    pending: &mut PendingRecord,
) -> RequestVerdict {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let ctx = state.inspect.request_context(
        connection,
        parts.method.as_str(),
        host,
        path,
        &parts.headers,
    );
    let decision = state.inspect.policy.evaluate(&ctx, Phase::Request);
    state.metrics.decision("request", decision.action.as_str());
    let record = pending.record_mut();
    record.app = Some(ctx.app.app_id.to_string());
    record.device = ctx.device.id.clone();
    record.category = ctx.app.category.map(|c| c.as_str().to_owned());
    record.instance = ctx.app.instance.clone();
    record.registrable_domain = ctx.app.registrable_domain.clone();
    record.activity = ctx
        .request
        .as_ref()
        .and_then(|r| r.activity)
        .map(|a| a.as_str().to_owned());
    record.rule = Some(decision.rule_label().to_owned());
    record.action = Some(decision.action.as_str());
    RequestVerdict {
        ctx,
        scan_response: decision.needs_dlp(),
        decision,
    }
}

/// Adds the headers the decision injects (tenant restrictions, rule headers).
pub fn inject_headers(headers: &mut HeaderMap, decision: &Decision) {
    for h in &decision.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_str(&h.value),
        ) {
            headers.insert(name, value);
        }
    }
}

/// The outcome of the upload stage.
pub enum Upload {
    /// Forward this body.
    Forward(ProxyBody),
    /// Refuse with this status and reason; nothing reached the origin.
    Refuse {
        /// HTTP status.
        status: u16,
        /// Short reason.
        reason: String,
        /// Detail for the page.
        detail: String,
    },
}

/// Passes the request body on, or — when the decision asks for DLP — holds
/// it (up to `dlp.hold_limit`), scans it, and re-evaluates with the verdict
/// before a single byte is forwarded.
pub async fn upload<B>(
    state: &Arc<ProxyState>,
    verdict: &mut RequestVerdict,
    headers: &HeaderMap,
    body: B,
    pending: &mut PendingRecord,
) -> Upload
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<super::body::BoxError> + std::fmt::Display,
{
    // Nothing to scan (no DLP profile, or a request without a body such as
    // most GETs): pass the body on as it is.
    if !verdict.decision.needs_dlp() || http_body::Body::is_end_stream(&body) {
        return Upload::Forward(boxed(CountedBody::new(body, pending.bytes_in_counter())));
    }
    let scanner = state.inspect.scanner(&body_meta(headers));
    let limit = state.config.dlp.hold_limit;
    match hold(body, scanner, limit).await {
        Held::Failed(e) => Upload::Refuse {
            status: 400,
            reason: "request body failed".into(),
            detail: e,
        },
        Held::OverLimit { frames, rest } => match state.config.dlp.over_limit {
            OverLimit::Block => Upload::Refuse {
                status: 413,
                reason: "upload too large to inspect".into(),
                detail: format!("uploads inspected by policy are limited to {limit} bytes"),
            },
            OverLimit::AllowFlag => {
                pending.record_mut().unscanned = true;
                let counter = pending.bytes_in_counter();
                let held = data_len(&frames);
                counter.fetch_add(held, std::sync::atomic::Ordering::Relaxed);
                let head = StreamBody::new(futures_util::stream::iter(
                    frames.into_iter().map(Ok::<_, B::Error>),
                ));
                let rest = CountedBody::new(rest, counter);
                Upload::Forward(boxed(Chain::new(head, rest)))
            }
        },
        Held::Complete {
            frames,
            findings,
            report,
        } => {
            verdict.ctx.dlp = Some(dlp_verdict(&findings));
            let mut decision = state.inspect.policy.evaluate(&verdict.ctx, Phase::AfterDlp);
            if report.blocklisted() {
                decision.action = ActionKind::Block;
                decision.reason = Some("a file on the blocklist".into());
            }
            state
                .metrics
                .decision("after_dlp", decision.action.as_str());
            let record = pending.record_mut();
            record.rule = Some(decision.rule_label().to_owned());
            record.action = Some(decision.action.as_str());
            if !findings.is_empty() || report.blocklisted() {
                super::incident::report(
                    state,
                    record,
                    "upload",
                    &findings,
                    &report.parts,
                    &decision,
                );
            }
            if report.too_large() && state.config.dlp.over_limit == OverLimit::Block {
                return Upload::Refuse {
                    status: 413,
                    reason: "upload undecodable: too large".into(),
                    detail: "the body exceeds the decompression limits and cannot be inspected"
                        .into(),
                };
            }
            if decision.action == ActionKind::Block {
                let reason = decision
                    .reason
                    .as_deref()
                    .unwrap_or("sensitive data in the upload")
                    .to_owned();
                verdict.decision = decision;
                return Upload::Refuse {
                    status: 403,
                    reason,
                    detail: format!("blocked by policy rule {}", verdict.decision.rule_label()),
                };
            }
            verdict.decision = decision;
            let counter = pending.bytes_in_counter();
            let held = data_len(&frames);
            counter.fetch_add(held, std::sync::atomic::Ordering::Relaxed);
            let body = StreamBody::new(futures_util::stream::iter(
                frames
                    .into_iter()
                    .map(Ok::<Frame<Bytes>, std::convert::Infallible>),
            ));
            Upload::Forward(body.map_err(|never| match never {}).boxed_unsync())
        }
    }
}

/// A body's first frames (already read), followed by its unread rest.
pub struct Chain<H, R> {
    head: Option<H>,
    rest: R,
}

impl<H, R> Chain<H, R> {
    /// `head` then `rest`.
    pub fn new(head: H, rest: R) -> Self {
        Self {
            head: Some(head),
            rest,
        }
    }
}

impl<H, R, E> http_body::Body for Chain<H, R>
where
    H: http_body::Body<Data = Bytes, Error = E> + Unpin,
    R: http_body::Body<Data = Bytes, Error = E> + Unpin,
{
    type Data = Bytes;
    type Error = E;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, E>>> {
        if let Some(head) = self.head.as_mut() {
            match std::pin::Pin::new(head).poll_frame(cx) {
                std::task::Poll::Ready(None) => self.head = None,
                other => return other,
            }
        }
        std::pin::Pin::new(&mut self.rest).poll_frame(cx)
    }
}

/// True when an isolate-downloads decision must refuse this response: it is
/// an attachment, or (without a content coding, which would hide them) its
/// first bytes sniff as a document, archive or executable rather than a page
/// or an image.
pub fn is_file_download(headers: &HeaderMap, first_bytes: &[u8]) -> bool {
    use dlp::decode::FileType;
    let attachment = headers
        .get(http::header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("attachment")
        });
    if attachment {
        return true;
    }
    if headers.contains_key(http::header::CONTENT_ENCODING) {
        return false;
    }
    !matches!(
        dlp::decode::sniff(first_bytes),
        FileType::Text | FileType::Unknown | FileType::Png | FileType::Jpeg | FileType::Gif
    )
}

/// Data bytes in held frames.
fn data_len(frames: &[Frame<Bytes>]) -> u64 {
    frames
        .iter()
        .filter_map(|f| f.data_ref())
        .map(|d| d.len() as u64)
        .sum()
}
