//! Requests inside an intercepted tunnel: authority check, classification
//! and policy, upload DLP, forward on the tunnel's upstream session, and the
//! response through the response filter.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response, Uri, Version};

use super::body::ProxyBody;
use super::enforce::{self, Upload};
use super::headers::{authority_matches, is_websocket, strip_hop_by_hop};
use super::record::PendingRecord;
use super::{refuse, relay_response, Tunnel, Upstream};
use crate::error_page;
use crate::records::{AccessRecord, Mode};

/// Handles one request inside an intercepted tunnel (HTTP/1.1 and HTTP/2
/// from hyper, HTTP/3 from the QUIC listener).
pub async fn handle<B>(
    tunnel: Arc<Tunnel>,
    mut req: Request<B>,
) -> Result<Response<ProxyBody>, Infallible>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    B::Error: Into<super::body::BoxError> + std::fmt::Display,
{
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
    record.listener = tunnel.listener;
    record.proxy_protocol = tunnel.proxy_protocol;
    let (tls_version, alpn) = tunnel.upstream.negotiated();
    record.tls_version = Some(tls_version);
    record.alpn = alpn;
    record.client_alpn = Some(tunnel.client_alpn);
    let mut pending = PendingRecord::new(state.clone(), record);
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

    if parts.uri.path() == super::warn::ACK_PATH {
        let query = parts.uri.query().unwrap_or("");
        return Ok(super::acknowledge(
            state,
            &tunnel.context,
            query,
            pending,
            html,
        ));
    }
    let mut verdict = enforce::decide(state, &tunnel.context, &parts, &tunnel.host, &mut pending);
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    if let Some(page) = super::gate(state, &verdict, &path, &mut pending, html) {
        return Ok(page);
    }
    strip_hop_by_hop(&mut parts.headers, websocket);
    state.auth.strip_identity_headers(&mut parts.headers);
    parts.headers.remove(http::header::EXPECT);
    enforce::inject_headers(&mut parts.headers, &verdict.decision);
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    if tunnel.upstream.is_multiplexed() {
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
        parts.version = match tunnel.upstream {
            Upstream::H3(_) => Version::HTTP_3,
            Upstream::Tcp(_) => Version::HTTP_2,
        };
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
    let body = match enforce::upload(state, &mut verdict, &parts.headers, body, &mut pending).await
    {
        Upload::Forward(body) => body,
        Upload::Refuse {
            status,
            reason,
            detail,
        } => return Ok(refuse(pending, status, &reason, &detail, html)),
    };
    let req = Request::from_parts(parts, body);
    match &tunnel.upstream {
        Upstream::Tcp(session) => match session.send(req).await {
            Err(e) => Ok(refuse(pending, 502, "upstream error", &e.to_string(), html)),
            Ok(resp) => {
                Ok(relay_response(state, pending, resp, client_upgrade, verdict, html).await)
            }
        },
        Upstream::H3(h3) => match h3.send(req).await {
            Err(e) => Ok(refuse(pending, 502, "upstream error", &e, html)),
            Ok(resp) => Ok(relay_response(state, pending, resp, None, verdict, html).await),
        },
    }
}
