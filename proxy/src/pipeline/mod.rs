//! The per-request pipeline, shared by every way a request reaches the
//! proxy: check the authority, rewrite headers for the next hop, forward,
//! relay the response as a stream, and record the exchange.
//!
//! The stages, in order (pingora-style phases): authority check →
//! classify and decide (`enforce::decide`) → request headers → upload DLP
//! (`enforce::upload`, held until the verdict) → forward → response filter
//! (isolate-downloads, streaming DLP with hold-back, `response_body`) →
//! record (`record`, `incident`).

pub mod alt_svc;
pub mod body;
pub mod enforce;
pub mod headers;
pub mod incident;
pub mod intercepted;
pub mod plain;
pub mod record;
pub mod response_body;
mod upgrade;
pub mod warn;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Response, StatusCode};
use http_body_util::BodyExt;
use policy::ActionKind;

use self::body::ProxyBody;
use self::enforce::RequestVerdict;
use self::headers::strip_hop_by_hop;
use self::record::PendingRecord;
use self::response_body::{DownloadCheck, ResponseBody};
use crate::auth::Identity;
use crate::error_page;
use crate::inspect::scan::{body_meta, DownloadScan};
use crate::state::ProxyState;
use crate::upstream::UpstreamSession;

/// An intercepted tunnel: the client's verified destination and the
/// upstream session its requests are forwarded on.
pub struct Tunnel {
    /// Shared proxy state.
    pub state: Arc<ProxyState>,
    /// The client's address.
    pub client: SocketAddr,
    /// What the client spoke to the proxy listener (recorded).
    pub proxy_protocol: Option<crate::records::ProxyProtocol>,
    /// Who the client is, when known.
    pub identity: Option<Arc<Identity>>,
    /// The CONNECT host (equal to the SNI).
    pub host: String,
    /// The CONNECT port.
    pub port: u16,
    /// The verified upstream connection.
    pub upstream: Upstream,
    /// What the client speaks on this connection: `http/1.1`, `h2` or `h3`.
    pub client_alpn: &'static str,
    /// The connection's policy context (who, where, which app).
    pub context: policy::Context,
    /// Which listener the connection arrived on.
    pub listener: crate::records::Listener,
}

/// Where an intercepted connection's requests go: a verified TLS session
/// (HTTP/2 or HTTP/1.1), or a verified QUIC connection (HTTP/3).
pub enum Upstream {
    /// Over TCP.
    Tcp(UpstreamSession),
    /// Over QUIC.
    H3(crate::quic::H3Upstream),
}

impl Upstream {
    /// The TLS version and ALPN protocol of the upstream connection.
    pub fn negotiated(&self) -> (&'static str, Option<String>) {
        match self {
            Upstream::Tcp(s) => (s.negotiated().version, s.negotiated().alpn_text()),
            Upstream::H3(_) => ("TLSv1.3", Some("h3".to_owned())),
        }
    }

    /// True when requests take the absolute form (`:scheme`, `:authority`):
    /// HTTP/2 and HTTP/3.
    pub fn is_multiplexed(&self) -> bool {
        match self {
            Upstream::Tcp(s) => s.is_h2(),
            Upstream::H3(_) => true,
        }
    }
}

/// Relays an origin response: hop-by-hop fields removed, isolate-downloads
/// enforced, the body streamed (and scanned when the policy asks) and
/// recorded, a `101 Switching Protocols` turned into a relayed upgrade.
async fn relay_response<B>(
    state: &Arc<ProxyState>,
    mut pending: PendingRecord,
    mut resp: Response<B>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    verdict: RequestVerdict,
    html: bool,
) -> Response<ProxyBody>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    B::Error: Into<body::BoxError> + std::fmt::Display + Send + 'static,
{
    pending.set_status(resp.status().as_u16());
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    if switching {
        if let Some(client_upgrade) = client_upgrade {
            let upstream_upgrade = hyper::upgrade::on(&mut resp);
            let idle = state.config.limits.idle_timeout;
            let (deflate, client_no_context_takeover, _) = websocket::negotiated_deflate(
                resp.headers()
                    .get(http::header::SEC_WEBSOCKET_EXTENSIONS)
                    .and_then(|v| v.to_str().ok()),
            );
            let scan = verdict.scan_response.then(|| upgrade::WsScan {
                state: state.clone(),
                ctx: verdict.ctx,
                deflate,
                client_no_context_takeover,
            });
            tokio::spawn(upgrade::relay(
                client_upgrade,
                upstream_upgrade,
                pending,
                idle,
                scan,
            ));
            let (mut parts, _) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers, true);
            return Response::from_parts(parts, body::empty());
        }
    }
    let (mut parts, mut body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    // Unless HTTP/3 is intercepted, a client told of it would leave inspection.
    if !state.config.quic.intercepts() {
        alt_svc::strip_quic(&mut parts.headers);
    }
    let mut first: Option<http_body::Frame<bytes::Bytes>> = None;
    if verdict.decision.action == ActionKind::IsolateDownloads {
        first = match body.frame().await {
            Some(Ok(frame)) => Some(frame),
            Some(Err(e)) => {
                pending.fail(format!("upstream body: {e}"));
                return Response::from_parts(parts, body::empty());
            }
            None => None,
        };
        let head = first
            .as_ref()
            .and_then(|f| f.data_ref())
            .map_or(&[][..], |d| &d[..]);
        if enforce::is_file_download(&parts.headers, head) {
            return block_page(&mut pending, &verdict.decision, html);
        }
    }
    let check = verdict.scan_response.then(|| DownloadCheck {
        scan: DownloadScan::new(&state.inspect, &body_meta(&parts.headers)),
        ctx: verdict.ctx,
        state: state.clone(),
    });
    let body = match first {
        None => body::boxed(ResponseBody::new(body, pending, check)),
        Some(frame) => {
            let head =
                http_body_util::StreamBody::new(futures_util::stream::iter([Ok::<_, B::Error>(
                    frame,
                )]));
            body::boxed(ResponseBody::new(
                enforce::Chain::new(head, body),
                pending,
                check,
            ))
        }
    };
    Response::from_parts(parts, body)
}

/// Applies the request decision before anything is forwarded: the block
/// page, or for `warn` the warn page unless this user acknowledged the app.
/// `None` means go on.
fn gate(
    state: &ProxyState,
    verdict: &RequestVerdict,
    path: &str,
    pending: &mut PendingRecord,
    html: bool,
) -> Option<Response<ProxyBody>> {
    match verdict.decision.action {
        ActionKind::Block => Some(block_page(pending, &verdict.decision, html)),
        ActionKind::Warn => {
            let key = verdict.decision.warn_key(&verdict.ctx)?;
            if state.acks.is_acknowledged(&key) {
                return None;
            }
            let ttl = verdict
                .decision
                .warn_ttl
                .unwrap_or(std::time::Duration::from_secs(8 * 3600));
            let app = key.app.clone();
            let token = state.acks.offer(key, ttl);
            let reason = verdict.decision.reason.as_deref().unwrap_or(
                "this application is not approved by your organisation; continue only if you must",
            );
            pending.set_status(403);
            let page = warn::page(reason, &app, &token, path, pending.request_id(), html);
            pending.mark_refused("acknowledgement required".into());
            Some(page)
        }
        _ => None,
    }
}

/// Answers the warn page's acknowledgement link (never forwarded).
fn acknowledge(
    state: &ProxyState,
    connection: &policy::Context,
    query: &str,
    mut pending: PendingRecord,
    html: bool,
) -> Response<ProxyBody> {
    let user = match (&connection.identity.user, connection.network.client_ip) {
        (Some(u), _) => u.clone(),
        (None, Some(ip)) => format!("ip:{ip}"),
        (None, None) => "anonymous".to_owned(),
    };
    match warn::parse_ack_query(query) {
        Some((token, next)) if state.acks.accept(&token, &user) => {
            pending.set_status(303);
            pending.record_mut().action = Some("acknowledge");
            pending.complete();
            warn::redirect(&next)
        }
        _ => refuse(
            pending,
            403,
            "invalid acknowledgement",
            "the link is invalid, expired or already used",
            html,
        ),
    }
}

/// The proxy's block page for a policy decision (403; the reference id is
/// the access record's request id).
pub(crate) fn block_page(
    pending: &mut PendingRecord,
    decision: &policy::Decision,
    html: bool,
) -> Response<ProxyBody> {
    pending.set_status(403);
    let reason = decision
        .reason
        .as_deref()
        .unwrap_or("blocked by your organisation's policy");
    let detail = format!("policy rule {}", decision.rule_label());
    let app = pending.record_mut().app.clone();
    let response = error_page::render_block(
        403,
        reason,
        &detail,
        app.as_deref(),
        pending.request_id(),
        html,
    );
    pending.mark_refused(format!("{reason}: {detail}"));
    response
}

/// The short reason shown for a status the proxy answers on its own.
pub fn status_reason(status: u16) -> &'static str {
    match status {
        403 => "destination not allowed",
        504 => "upstream timeout",
        _ => "upstream unreachable",
    }
}

/// Answers with the proxy's own error page and records why.
pub fn refuse(
    mut pending: PendingRecord,
    status: u16,
    reason: &str,
    detail: &str,
    html: bool,
) -> Response<ProxyBody> {
    pending.set_status(status);
    let response = error_page::render(status, reason, detail, pending.request_id(), html);
    pending.fail(format!("{reason}: {detail}"));
    response
}
