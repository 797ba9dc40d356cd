//! Plain-HTTP requests: absolute form on the explicit listener, and
//! origin-form requests on the transparent gateway (rewritten to absolute
//! form from `Host` before they get here).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response, Version};
use hyper::body::Incoming;

use super::body::ProxyBody;
use super::enforce::{self, Upload};
use super::headers::{is_websocket, split_authority, strip_hop_by_hop};
use super::record::PendingRecord;
use super::{refuse, relay_response, status_reason};
use crate::auth::Identity;
use crate::error_page;
use crate::records::{AccessRecord, Listener, Mode, ProxyProtocol};
use crate::state::ProxyState;
use crate::upstream::plain::connect_error;

/// How a plain request reaches its origin.
#[derive(Debug, Clone, Copy)]
pub enum Via {
    /// The explicit proxy, spoken over this protocol: the URI's host is
    /// resolved.
    Explicit(ProxyProtocol),
    /// The transparent gateway: the original destination address, whatever
    /// the URI's host resolves to.
    Transparent(SocketAddr),
}

/// Handles a plain-HTTP request in absolute form.
pub async fn handle(
    state: Arc<ProxyState>,
    client: SocketAddr,
    proxy_protocol: ProxyProtocol,
    identity: Option<Arc<Identity>>,
    device: policy::context::Device,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    handle_via(
        state,
        client,
        identity,
        device,
        req,
        Via::Explicit(proxy_protocol),
    )
    .await
}

/// Handles a plain-HTTP request in absolute form, forwarded `via`.
pub async fn handle_via(
    state: Arc<ProxyState>,
    client: SocketAddr,
    identity: Option<Arc<Identity>>,
    device: policy::context::Device,
    mut req: Request<Incoming>,
    via: Via,
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
    match via {
        Via::Transparent(_) => record.listener = Listener::Transparent,
        Via::Explicit(protocol) => record.proxy_protocol = Some(protocol),
    }
    let mut pending = PendingRecord::new(state.clone(), record);
    if uri.scheme() != Some(&http::uri::Scheme::HTTP) || host.is_empty() {
        let detail = "only http:// URLs are forwarded in absolute form; use CONNECT for https";
        return Ok(refuse(pending, 400, "bad request", detail, html));
    }
    let websocket = is_websocket(&req);
    let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    let dest = match via {
        Via::Explicit(_) => None,
        Via::Transparent(original) => Some(original.ip()),
    };
    let connection =
        state
            .inspect
            .connection_context(&host, identity.as_deref(), device, client.ip(), dest);
    if parts.uri.path() == super::warn::ACK_PATH {
        let query = parts.uri.query().unwrap_or("").to_owned();
        return Ok(super::acknowledge(
            &state,
            &connection,
            &query,
            pending,
            html,
        ));
    }
    let mut verdict = enforce::decide(&state, &connection, &parts, &host, &mut pending);
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    if let Some(page) = super::gate(&state, &verdict, &path, &mut pending, html) {
        return Ok(page);
    }
    strip_hop_by_hop(&mut parts.headers, websocket);
    state.auth.strip_identity_headers(&mut parts.headers);
    parts.headers.remove(http::header::EXPECT);
    enforce::inject_headers(&mut parts.headers, &verdict.decision);
    parts.version = Version::HTTP_11;
    if !parts.headers.contains_key(http::header::HOST) {
        if let Some(v) = uri.authority().and_then(|a| a.as_str().parse().ok()) {
            parts.headers.insert(http::header::HOST, v);
        }
    }
    let body = match enforce::upload(&state, &mut verdict, &parts.headers, body, &mut pending).await
    {
        Upload::Forward(body) => body,
        Upload::Refuse {
            status,
            reason,
            detail,
        } => return Ok(refuse(pending, status, &reason, &detail, html)),
    };
    let upstream = match via {
        Via::Explicit(_) => &state.plain,
        Via::Transparent(original) => {
            // Connect to the original destination: an IP-literal authority
            // for the pool, the client's Host header kept as it was.
            match format!("http://{original}{path}").parse() {
                Ok(uri) => parts.uri = uri,
                Err(_) => {
                    return Ok(refuse(
                        pending,
                        400,
                        "bad request",
                        "unparsable request target",
                        html,
                    ))
                }
            }
            &state.transparent_plain
        }
    };
    match upstream.request(Request::from_parts(parts, body)).await {
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
        Ok(resp) => Ok(relay_response(&state, pending, resp, client_upgrade, verdict, html).await),
    }
}
