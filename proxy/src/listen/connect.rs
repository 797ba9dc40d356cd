//! `CONNECT host:port` on the explicit and HTTPS-proxy listeners, whether
//! it arrived as an HTTP/1.1 request or as an HTTP/2 stream (RFC 9113
//! §8.5): target checks, destination lookup, the connect-time policy, then a
//! 200 and the tunnel ([`intercept::run`]) on the upgraded byte stream —
//! the whole connection on HTTP/1.1, one stream on HTTP/2.

use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::explicit::ClientConn;
use crate::auth::Identity;
use crate::intercept::{self, Connected, Decided};
use crate::pipeline::body::{empty, ProxyBody};
use crate::pipeline::headers::split_authority;
use crate::pipeline::record::PendingRecord;
use crate::pipeline::{self, refuse};
use crate::records::{AccessRecord, Mode};
use crate::state::ProxyState;
use crate::upstream::connect::connect_addrs;

/// Answers a `CONNECT`: checks the target, connects to it, and on success
/// answers 200 and hands the upgraded stream to the tunnel.
pub async fn connect(
    state: Arc<ProxyState>,
    conn: &ClientConn,
    identity: Option<Arc<Identity>>,
    device: policy::context::Device,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let client = conn.peer;
    let target = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    let parsed = split_authority(&target).and_then(|(h, p)| Some((h.to_owned(), p?)));
    let (host, port) = parsed.clone().unwrap_or_default();
    let mut record = AccessRecord::start(client, "CONNECT", "https", &host, port, "", Mode::Tunnel);
    record.user = identity.as_ref().map(|i| i.user.clone());
    record.proxy_protocol = Some(conn.protocol);
    let mut pending = PendingRecord::new(state.clone(), record);
    let html = crate::error_page::wants_html(req.headers());
    if req.extensions().get::<hyper::ext::Protocol>().is_some() {
        // Not advertised (SETTINGS_ENABLE_CONNECT_PROTOCOL), so a
        // conforming client never sends it.
        return refuse(
            pending,
            501,
            "not implemented",
            "extended CONNECT (RFC 8441, :protocol) is not supported; send a plain CONNECT host:port",
            html,
        );
    }
    if parsed.is_none()
        || !crate::hostmatch::is_valid_pattern(&host)
        || host.starts_with('*')
        || host.starts_with('.')
    {
        return refuse(
            pending,
            400,
            "bad request",
            "CONNECT needs a target of the form host:port",
            html,
        );
    }
    if !state.config.upstream.connect_ports.contains(&port) {
        let detail = format!("CONNECT to port {port} is not allowed (upstream.connect_ports)");
        return refuse(pending, 403, "port not allowed", &detail, html);
    }
    let addrs = match state.resolver.resolve(&host).await {
        Ok(addrs) => addrs,
        Err(e) => {
            let status = crate::upstream::ConnectError::from(e).status();
            let detail = format!("cannot reach {host}");
            return refuse(
                pending,
                status,
                pipeline::status_reason(status),
                &detail,
                html,
            );
        }
    };
    let context = state.inspect.connection_context(
        &host,
        identity.as_deref(),
        device,
        client.ip(),
        addrs.first().copied(),
    );
    let decided = Decided::at_connect(&state, &context);
    let upstream = if matches!(decided, Decided::Block(_)) {
        None
    } else {
        let timeout = state.config.upstream.connect_timeout;
        match connect_addrs(&host, port, &addrs, timeout).await {
            Ok((tcp, _)) => Some(tcp),
            Err(e) => {
                let status = e.status();
                return refuse(
                    pending,
                    status,
                    pipeline::status_reason(status),
                    &e.to_string(),
                    html,
                );
            }
        }
    };
    // The tunnel writes its own records.
    pending.set_status(200);
    pending.discard();
    let tunnel_state = state.clone();
    let open = conn.stream_guard();
    // The tunnel outlives this request's connection: it keeps the slot.
    let slot = conn.slot.clone();
    let proxy_protocol = Some(conn.protocol);
    state.tasks.spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let tunnel = Connected {
                    client,
                    proxy_protocol,
                    identity,
                    host,
                    port,
                    upstream,
                    context,
                    decided,
                    listener: crate::records::Listener::Explicit,
                    may_bypass: true,
                };
                intercept::run(tunnel_state, TokioIo::new(upgraded), tunnel).await;
            }
            Err(e) => tracing::debug!(client = %client, error = %e, "CONNECT upgrade failed"),
        }
        // The tunnel counts as open on its connection until here.
        drop(open);
        drop(slot);
    });
    Response::new(empty())
}
