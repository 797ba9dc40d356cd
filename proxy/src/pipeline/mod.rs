//! The per-request pipeline, shared by every way a request reaches the
//! proxy: check the authority, rewrite headers for the next hop, forward,
//! relay the response as a stream, and record the exchange.
//!
//! Later stages (classification, policy, DLP) plug in here, between the
//! authority check and the forward, and on the response body.

pub mod body;
pub mod headers;
pub mod record;
mod upgrade;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;

use self::body::{boxed, CountedBody, ProxyBody, RecordedBody};
use self::headers::{authority_matches, is_websocket, split_authority, strip_hop_by_hop};
use self::record::PendingRecord;
use crate::auth::Identity;
use crate::error_page;
use crate::records::{AccessRecord, Mode};
use crate::state::ProxyState;
use crate::upstream::plain::connect_error;
use crate::upstream::UpstreamSession;

/// An intercepted tunnel: the client's verified destination and the
/// upstream session its requests are forwarded on.
pub struct Tunnel {
    /// Shared proxy state.
    pub state: Arc<ProxyState>,
    /// The client's address.
    pub client: SocketAddr,
    /// Who the client is, when known.
    pub identity: Option<Arc<Identity>>,
    /// The CONNECT host (equal to the SNI).
    pub host: String,
    /// The CONNECT port.
    pub port: u16,
    /// The verified upstream connection.
    pub upstream: UpstreamSession,
}

/// Handles one request inside an intercepted tunnel.
pub async fn intercepted(
    tunnel: Arc<Tunnel>,
    mut req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let state = &tunnel.state;
    let mut record = AccessRecord::start(
        tunnel.client,
        req.method().as_str(),
        "https",
        &tunnel.host,
        tunnel.port,
        req.uri().path(),
        Mode::Intercepted,
    );
    record.user = tunnel.identity.as_ref().map(|i| i.user.clone());
    let negotiated = tunnel.upstream.negotiated();
    record.tls_version = Some(negotiated.version);
    record.alpn = negotiated.alpn_text();
    let pending = PendingRecord::new(state.clone(), record);
    let html = error_page::wants_html(req.headers());

    if !authority_matches(&req, &tunnel.host, tunnel.port) {
        let detail = format!(
            "this connection is for {}:{}; a request for another host is refused (domain fronting)",
            tunnel.host, tunnel.port
        );
        return Ok(refuse(pending, 421, "misdirected request", &detail, html));
    }
    let websocket = is_websocket(&req);
    let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));

    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers, websocket);
    state.auth.strip_identity_headers(&mut parts.headers);
    parts.headers.remove(http::header::EXPECT);
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    if tunnel.upstream.is_h2() {
        let authority = if tunnel.port == 443 {
            tunnel.host.clone()
        } else {
            format!("{}:{}", tunnel.host, tunnel.port)
        };
        parts.uri = match Uri::builder()
            .scheme("https")
            .authority(authority)
            .path_and_query(path)
            .build()
        {
            Ok(uri) => uri,
            Err(_) => {
                return Ok(refuse(
                    pending,
                    400,
                    "bad request",
                    "invalid request target",
                    html,
                ))
            }
        };
        parts.version = Version::HTTP_2;
        parts.headers.remove(http::header::HOST);
    } else {
        parts.uri = match path.parse() {
            Ok(uri) => uri,
            Err(_) => {
                return Ok(refuse(
                    pending,
                    400,
                    "bad request",
                    "invalid request target",
                    html,
                ))
            }
        };
        parts.version = Version::HTTP_11;
        if !parts.headers.contains_key(http::header::HOST) {
            if let Ok(v) = tunnel.host.parse() {
                parts.headers.insert(http::header::HOST, v);
            }
        }
    }
    let body = boxed(CountedBody::new(body, pending.bytes_in_counter()));
    let upstream_req = Request::from_parts(parts, body);

    match tunnel.upstream.send(upstream_req).await {
        Err(e) => {
            let detail = e.to_string();
            Ok(refuse(pending, 502, "upstream error", &detail, html))
        }
        Ok(resp) => Ok(relay_response(state, pending, resp, client_upgrade)),
    }
}

/// Handles a plain-HTTP request in absolute form on the explicit listener.
pub async fn plain(
    state: Arc<ProxyState>,
    client: SocketAddr,
    identity: Option<Arc<Identity>>,
    mut req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let html = error_page::wants_html(req.headers());
    let uri = req.uri().clone();
    let (host, port) = match uri.authority().and_then(|a| split_authority(a.as_str())) {
        Some((h, p)) => (h.to_owned(), p.unwrap_or(80)),
        None => (String::new(), 0),
    };
    let mut record = AccessRecord::start(
        client,
        req.method().as_str(),
        "http",
        &host,
        port,
        uri.path(),
        Mode::Plain,
    );
    record.user = identity.as_ref().map(|i| i.user.clone());
    let pending = PendingRecord::new(state.clone(), record);
    if uri.scheme() != Some(&http::uri::Scheme::HTTP) || host.is_empty() {
        let detail = "only http:// URLs are forwarded in absolute form; use CONNECT for https";
        return Ok(refuse(pending, 400, "bad request", detail, html));
    }
    let websocket = is_websocket(&req);
    let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers, websocket);
    state.auth.strip_identity_headers(&mut parts.headers);
    parts.headers.remove(http::header::EXPECT);
    parts.version = Version::HTTP_11;
    if !parts.headers.contains_key(http::header::HOST) {
        if let Some(v) = uri.authority().and_then(|a| a.as_str().parse().ok()) {
            parts.headers.insert(http::header::HOST, v);
        }
    }
    let body = boxed(CountedBody::new(body, pending.bytes_in_counter()));
    match state.plain.request(Request::from_parts(parts, body)).await {
        Err(e) => {
            let (status, detail) = match connect_error(&e) {
                Some(c) => (c.status(), c.to_string()),
                None => (502, format!("{e}")),
            };
            Ok(refuse(
                pending,
                status,
                status_reason(status),
                &detail,
                html,
            ))
        }
        Ok(resp) => Ok(relay_response(&state, pending, resp, client_upgrade)),
    }
}

/// Relays an origin response: hop-by-hop fields removed, the body streamed
/// and recorded, a `101 Switching Protocols` turned into a relayed upgrade.
fn relay_response(
    state: &Arc<ProxyState>,
    mut pending: PendingRecord,
    mut resp: Response<Incoming>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<ProxyBody> {
    pending.set_status(resp.status().as_u16());
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    if switching {
        if let Some(client_upgrade) = client_upgrade {
            let upstream_upgrade = hyper::upgrade::on(&mut resp);
            let idle = state.config.limits.idle_timeout;
            tokio::spawn(upgrade::relay(
                client_upgrade,
                upstream_upgrade,
                pending,
                idle,
            ));
            let (mut parts, _) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers, true);
            return Response::from_parts(parts, body::empty());
        }
    }
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    Response::from_parts(parts, boxed(RecordedBody::new(body, pending)))
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
