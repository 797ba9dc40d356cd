//! One intercepted QUIC connection: finish the handshake with a leaf minted
//! for the SNI, decide at connection level, connect and verify the origin
//! (over HTTP/3 when it answers QUIC, else over TCP), then serve the
//! client's HTTP/3 requests through the same pipeline as HTTP/1.1 and
//! HTTP/2.
//!
//! QUIC's handshake completes inside quinn before the proxy can act on the
//! server name, so the client briefly holds a session with the proxy whose
//! origin is not yet verified. Nothing is forwarded in that window: the
//! origin's certificate is verified before the first request is read, and
//! when it fails every request gets the proxy's 502 page naming the reason —
//! zero bytes reach the origin.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use certs::UpstreamAlpn;
use http::HeaderMap;

use super::body::{send_response, H3Body, SendHalf};
use super::{H3ConnectError, H3Upstream, Origins};
use crate::auth::{Admission, Identity};
use crate::intercept::Decided;
use crate::pipeline::record::PendingRecord;
use crate::pipeline::{self, Tunnel, Upstream};
use crate::records::{AccessRecord, Listener, Mode};
use crate::state::ProxyState;
use crate::upstream::connect::connect_addrs_marked;
use crate::upstream::tls::handshake;
use crate::upstream::UpstreamSession;

/// What every request on a connection gets, decided once per connection.
#[derive(Clone)]
enum Serving {
    /// Forwarded through the pipeline on the verified upstream session.
    Intercept(Arc<Tunnel>),
    /// Answered by the proxy itself (blocked, or the origin failed).
    Refuse(Arc<Refusal>),
}

/// The proxy's own answer to every request on a connection.
struct Refusal {
    state: Arc<ProxyState>,
    client: SocketAddr,
    host: String,
    port: u16,
    page: Page,
}

/// Which page a refused connection's requests get.
enum Page {
    /// The policy's block page.
    Block(policy::Decision),
    /// The proxy's error page.
    Error {
        status: u16,
        reason: String,
        detail: String,
    },
}

/// The access record of a request (or of the connection, `CONNECT`) that
/// arrived over QUIC.
fn quic_record(
    client: SocketAddr,
    method: &str,
    host: &str,
    port: u16,
    path: &str,
) -> AccessRecord {
    let mut record =
        AccessRecord::start(client, method, "https", host, port, path, Mode::Intercepted);
    record.client_alpn = Some("h3");
    record.listener = Listener::Quic;
    record
}

/// Serves one QUIC connection until it ends.
pub async fn serve(state: Arc<ProxyState>, origins: Arc<Origins>, incoming: quinn::Incoming) {
    let client = incoming.remote_address();
    let connecting = match incoming.accept() {
        Ok(c) => c,
        Err(e) => return tracing::debug!(client = %client, error = %e, "QUIC accept failed"),
    };
    let timeout = state.config.limits.client_handshake_timeout;
    let conn = match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return tracing::debug!(client = %client, error = %e, "QUIC handshake failed"),
        Err(_) => return tracing::debug!(client = %client, "QUIC handshake timed out"),
    };
    let Some(host) = server_name(&conn) else {
        // The resolver presents no certificate without SNI, so this is not
        // reached in practice; refuse rather than guess a destination.
        conn.close(quinn::VarInt::from_u32(0x0101), b"no server name");
        return;
    };
    let port = state.config.quic.upstream_port;
    let record = quic_record(client, "CONNECT", &host, port, "");
    let mut pending = PendingRecord::new(state.clone(), record);

    let Some(peer) = admit(&state, client, &conn, &mut pending).await else {
        return;
    };
    pending.record_mut().user = peer.identity.as_ref().map(|i| i.user.clone());
    let serving = decide(&state, &origins, &peer, &host, port, &mut pending).await;
    let serving = match serving {
        Some(s) => s,
        None => {
            // Bypassed: QUIC cannot be relayed blind here, so the client is
            // sent back to TCP, where the bypass applies.
            conn.close(quinn::VarInt::from_u32(0x0100), b"use TCP");
            return;
        }
    };
    // From here on every request is recorded on its own.
    pending.discard();
    serve_requests(state, conn, serving).await;
}

/// Who a QUIC client is and where its connection goes.
struct Peer {
    client: SocketAddr,
    identity: Option<Arc<Identity>>,
    device: policy::context::Device,
}

/// Establishes who the client is: the transparent address map, else no
/// identity when none is needed. QUIC has no proxy authentication and no
/// sign-in page, so a client that needs either is refused and falls back to
/// TCP, where it gets them. `None`: refused (recorded, connection closed).
async fn admit(
    state: &Arc<ProxyState>,
    client: SocketAddr,
    conn: &quinn::Connection,
    pending: &mut PendingRecord,
) -> Option<Peer> {
    let mut refuse = |status: u16, why: &str| {
        pending.set_status(status);
        pending.fail(format!("{why}: refused, the client falls back to TCP"));
        conn.close(quinn::VarInt::from_u32(0x0101), why.as_bytes());
        None
    };
    let (mapped, cert_device) = state.transparent_identity.lookup(client.ip());
    let identity = match mapped {
        Some(identity) => Some(identity),
        None => match state.auth.admit(client.ip(), &HeaderMap::new()).await {
            Admission::Admit(identity) => identity,
            _ => return refuse(407, "QUIC client without credentials"),
        },
    };
    if identity.is_none()
        && (state.config.transparent.portal.enabled || state.config.identity.require)
    {
        return refuse(511, "unidentified QUIC client");
    }
    let device = crate::device::device_facts(
        &state.posture,
        &state.config.devices,
        cert_device.as_deref(),
    );
    Some(Peer {
        client,
        identity,
        device,
    })
}

/// The server name the client's handshake carried, lower-cased.
fn server_name(conn: &quinn::Connection) -> Option<String> {
    let data = conn.handshake_data()?;
    let data = data
        .downcast::<quinn::crypto::rustls::HandshakeData>()
        .ok()?;
    data.server_name
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
}

/// Decides at connection level and, to intercept, connects and verifies the
/// origin. `None`: bypass (the client is sent back to TCP).
async fn decide(
    state: &Arc<ProxyState>,
    origins: &Origins,
    peer: &Peer,
    host: &str,
    port: u16,
    pending: &mut PendingRecord,
) -> Option<Serving> {
    let client = peer.client;
    let refuse = |page| {
        Some(Serving::Refuse(Arc::new(Refusal {
            state: state.clone(),
            client,
            host: host.to_owned(),
            port,
            page,
        })))
    };
    let error = |status: u16, reason: &str, detail: String| Page::Error {
        status,
        reason: reason.to_owned(),
        detail,
    };
    let addrs = match state.resolver.resolve(host).await {
        Ok(addrs) => addrs,
        Err(e) => {
            let status = crate::upstream::ConnectError::from(e).status();
            let detail = format!("cannot reach {host}");
            return refuse(error(status, pipeline::status_reason(status), detail));
        }
    };
    let context = state.inspect.connection_context(
        host,
        peer.identity.as_deref(),
        peer.device.clone(),
        client.ip(),
        addrs.first().copied(),
    );
    {
        let record = pending.record_mut();
        record.app = Some(context.app.app_id.to_string());
        record.category = context.app.category.map(|c| c.as_str().to_owned());
        record.registrable_domain = context.app.registrable_domain.clone();
    }
    let bypass = match Decided::at_connect(state, &context) {
        Decided::Block(decision) => return refuse(Page::Block(decision)),
        Decided::Bypass => true,
        Decided::Intercept | Decided::Refuse(_) => false,
    };
    if bypass || state.config.inspection.is_bypassed(host) {
        pending.record_mut().action = Some("bypass");
        pending.fail("bypassed host over QUIC: the client is sent back to TCP".into());
        return None;
    }
    let upstream = match connect_upstream(state, origins, host, port, &addrs).await {
        Ok(upstream) => upstream,
        Err((status, reason, detail)) => return refuse(error(status, &reason, detail)),
    };
    pending.set_status(200);
    Some(Serving::Intercept(Arc::new(Tunnel {
        state: state.clone(),
        client,
        // QUIC reaches the proxy directly, not through a proxy listener.
        proxy_protocol: None,
        identity: peer.identity.clone(),
        host: host.to_owned(),
        port,
        upstream,
        client_alpn: "h3",
        listener: Listener::Quic,
        context,
    })))
}

/// Connects and verifies the origin: over HTTP/3 when it answers QUIC, else
/// over TCP. Errors are (status, reason, detail) for the refusal page.
async fn connect_upstream(
    state: &Arc<ProxyState>,
    origins: &Origins,
    host: &str,
    port: u16,
    addrs: &[std::net::IpAddr],
) -> Result<Upstream, (u16, String, String)> {
    let failed = |status: u16, detail: String| (status, detail.clone(), detail);
    if let Some(upstream) = h3_upstream(state, origins, host, port, addrs).await {
        return upstream
            .map(Upstream::H3)
            .map_err(|detail| failed(502, detail));
    }
    let timeout = state.config.upstream.connect_timeout;
    let mark = super::upstream_mark(state);
    let tcp = match connect_addrs_marked(host, port, addrs, timeout, mark).await {
        Ok((tcp, _)) => tcp,
        Err(e) => {
            let status = e.status();
            return Err((
                status,
                pipeline::status_reason(status).to_owned(),
                e.to_string(),
            ));
        }
    };
    let alpn = UpstreamAlpn::intersect([&b"h2"[..], &b"http/1.1"[..]]);
    let tls_timeout = state.config.upstream.tls_handshake_timeout;
    let (tls, negotiated) = handshake(state.upstream_tls.config(alpn), host, tcp, tls_timeout)
        .await
        .map_err(|failure| {
            state.count_tls_failure(&failure);
            failed(502, failure.to_string())
        })?;
    UpstreamSession::start(state.clone(), host.to_owned(), port, tls, negotiated)
        .await
        .map(Upstream::Tcp)
        .map_err(|e| {
            (
                502,
                "upstream error".to_owned(),
                format!("upstream HTTP handshake failed: {e}"),
            )
        })
}

/// The origin over HTTP/3 when it answers QUIC: `None` to go over TCP
/// (disabled, or the origin does not speak QUIC), `Some(Err)` when its
/// certificate failed — never retried over another transport.
async fn h3_upstream(
    state: &Arc<ProxyState>,
    origins: &Origins,
    host: &str,
    port: u16,
    addrs: &[std::net::IpAddr],
) -> Option<Result<H3Upstream, String>> {
    let endpoint = origins.endpoint.clone()?;
    let addr = SocketAddr::new(*addrs.first()?, port);
    if origins.no_h3.contains_key(&addr) {
        return None;
    }
    let timeout = state.config.quic.upstream_h3_timeout;
    match H3Upstream::connect(state.clone(), endpoint, host, addr, timeout).await {
        Ok(upstream) => Some(Ok(upstream)),
        Err(H3ConnectError::Tls(reason)) => {
            Some(Err(format!("upstream certificate or TLS failed: {reason}")))
        }
        Err(H3ConnectError::Unavailable(why)) => {
            tracing::debug!(%addr, %why, "origin without HTTP/3; using TCP");
            origins.no_h3.insert(addr, ());
            None
        }
    }
}

/// Accepts the connection's request streams until it ends or the proxy
/// shuts down, each request on its own task.
async fn serve_requests(state: Arc<ProxyState>, conn: quinn::Connection, serving: Serving) {
    let client = conn.remote_address();
    let built = h3::server::builder()
        .max_field_section_size(state.config.quic.max_field_section_size)
        .build::<_, Bytes>(h3_quinn::Connection::new(conn))
        .await;
    let mut h3 = match built {
        Ok(h3) => h3,
        Err(e) => return tracing::debug!(client = %client, error = %e, "HTTP/3 setup failed"),
    };
    let shutdown = state.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            accepted = h3.accept() => accepted,
            _ = shutdown.cancelled() => {
                let _ = h3.shutdown(0).await;
                break;
            }
        };
        let resolver = match accepted {
            Ok(Some(resolver)) => resolver,
            Ok(None) => break,
            Err(e) => {
                if !e.is_h3_no_error() {
                    tracing::debug!(client = %client, error = %e, "HTTP/3 connection ended");
                }
                break;
            }
        };
        let serving = serving.clone();
        state.tasks.spawn(async move {
            let (req, stream) = match resolver.resolve_request().await {
                Ok(ok) => ok,
                Err(e) => return tracing::debug!(error = %e, "HTTP/3 request head not received"),
            };
            let (mut send, recv) = stream.split();
            let result = match serving {
                Serving::Intercept(tunnel) => {
                    let req = req.map(|()| H3Body::new(recv));
                    match pipeline::intercepted::handle(tunnel, req).await {
                        Ok(response) => send_response(&mut send, response).await,
                        Err(never) => match never {},
                    }
                }
                Serving::Refuse(refusal) => refusal.answer(&mut send, &req).await,
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "HTTP/3 response not delivered");
            }
        });
    }
}

impl Refusal {
    /// Answers one request with the refusal's page, recorded.
    async fn answer(&self, send: &mut SendHalf, req: &http::Request<()>) -> Result<(), String> {
        let record = quic_record(
            self.client,
            req.method().as_str(),
            &self.host,
            self.port,
            req.uri().path(),
        );
        let mut pending = PendingRecord::new(self.state.clone(), record);
        let html = crate::error_page::wants_html(req.headers());
        let response = match &self.page {
            Page::Block(decision) => {
                let record = pending.record_mut();
                record.rule = Some(decision.rule_label().to_owned());
                record.action = Some("block");
                pipeline::block_page(&mut pending, decision, html)
            }
            Page::Error {
                status,
                reason,
                detail,
            } => pipeline::refuse(pending, *status, reason, detail, html),
        };
        send_response(send, response).await
    }
}
