//! One intercepted QUIC connection: finish the handshake with a leaf minted
//! for the SNI, decide at connection level, connect and verify the origin
//! over TCP, then serve the client's HTTP/3 requests through the same
//! pipeline as HTTP/1.1 and HTTP/2.
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
use policy::{Phase, Tunnel as PolicyTunnel};

use super::body::{send_response, H3RequestBody, SendHalf};
use crate::auth::Admission;
use crate::pipeline::record::PendingRecord;
use crate::pipeline::{self, Tunnel};
use crate::records::{AccessRecord, Mode};
use crate::state::ProxyState;
use crate::upstream::connect::connect_addrs;
use crate::upstream::tls::handshake;
use crate::upstream::UpstreamSession;

/// What every request on a connection gets, decided once per connection.
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
    status: u16,
    reason: String,
    detail: String,
    decision: Option<policy::Decision>,
}

/// Serves one QUIC connection until it ends.
pub async fn serve(state: Arc<ProxyState>, incoming: quinn::Incoming) {
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
    let mut record = AccessRecord::start(
        client,
        "CONNECT",
        "https",
        &host,
        port,
        "",
        Mode::Intercepted,
    );
    record.client_alpn = Some("h3");
    let mut pending = PendingRecord::new(state.clone(), record);

    // No proxy authentication exists on QUIC: a client that has no identity
    // without credentials is refused, and falls back to TCP where it can
    // authenticate.
    let identity = match state.auth.admit(client.ip(), &HeaderMap::new()).await {
        Admission::Admit(identity) => identity,
        _ => {
            pending.set_status(407);
            pending.fail("QUIC client without an identity: refused, it falls back to TCP".into());
            conn.close(quinn::VarInt::from_u32(0x0101), b"authentication required");
            return;
        }
    };
    pending.record_mut().user = identity.as_ref().map(|i| i.user.clone());
    let serving = decide(&state, client, &host, port, identity, &mut pending).await;
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
    client: SocketAddr,
    host: &str,
    port: u16,
    identity: Option<Arc<crate::auth::Identity>>,
    pending: &mut PendingRecord,
) -> Option<Serving> {
    let refuse = |status: u16, reason: &str, detail: String, decision| {
        Some(Serving::Refuse(Arc::new(Refusal {
            state: state.clone(),
            client,
            host: host.to_owned(),
            port,
            status,
            reason: reason.to_owned(),
            detail,
            decision,
        })))
    };
    let addrs = match state.resolver.resolve(host).await {
        Ok(addrs) => addrs,
        Err(e) => {
            let status = crate::upstream::ConnectError::from(e).status();
            return refuse(
                status,
                pipeline::status_reason(status),
                format!("cannot reach {host}"),
                None,
            );
        }
    };
    let device = crate::device::device_facts(&state.posture, &state.config.devices, None);
    let context = state.inspect.connection_context(
        host,
        identity.as_deref(),
        device,
        client.ip(),
        addrs.first().copied(),
    );
    {
        let record = pending.record_mut();
        record.app = Some(context.app.app_id.to_string());
        record.category = context.app.category.map(|c| c.as_str().to_owned());
        record.registrable_domain = context.app.registrable_domain.clone();
    }
    let decision = state.inspect.policy.evaluate(&context, Phase::Connect);
    match decision.tunnel {
        PolicyTunnel::Block => {
            state.metrics.decision("connect", "block");
            let reason = decision
                .reason
                .clone()
                .unwrap_or_else(|| "blocked by your organisation's policy".into());
            let detail = format!("policy rule {}", decision.rule_label());
            return refuse(403, &reason, detail, Some(decision));
        }
        PolicyTunnel::Bypass => {
            state.metrics.decision("connect", "bypass");
            pending.record_mut().action = Some("bypass");
            pending.fail("bypassed host over QUIC: the client is sent back to TCP".into());
            return None;
        }
        PolicyTunnel::Intercept => state.metrics.decision("connect", "intercept"),
    }
    if state.config.inspection.is_bypassed(host) {
        pending.record_mut().action = Some("bypass");
        pending.fail("bypassed host over QUIC: the client is sent back to TCP".into());
        return None;
    }
    let timeout = state.config.upstream.connect_timeout;
    let tcp = match connect_addrs(host, port, &addrs, timeout).await {
        Ok((tcp, _)) => tcp,
        Err(e) => {
            let status = e.status();
            return refuse(status, pipeline::status_reason(status), e.to_string(), None);
        }
    };
    let alpn = UpstreamAlpn::intersect([&b"h2"[..], &b"http/1.1"[..]]);
    let tls_timeout = state.config.upstream.tls_handshake_timeout;
    let (tls, negotiated) =
        match handshake(state.upstream_tls.config(alpn), host, tcp, tls_timeout).await {
            Ok(ok) => ok,
            Err(failure) => {
                state.count_tls_failure(&failure);
                let detail = failure.to_string();
                return refuse(502, &detail.clone(), detail, None);
            }
        };
    let upstream =
        match UpstreamSession::start(state.clone(), host.to_owned(), port, tls, negotiated).await {
            Ok(session) => session,
            Err(e) => {
                return refuse(
                    502,
                    "upstream error",
                    format!("upstream HTTP handshake failed: {e}"),
                    None,
                )
            }
        };
    pending.set_status(200);
    Some(Serving::Intercept(Arc::new(Tunnel {
        state: state.clone(),
        client,
        // QUIC reaches the proxy directly, not through a proxy listener.
        proxy_protocol: None,
        identity,
        host: host.to_owned(),
        port,
        upstream,
        client_alpn: "h3",
        context,
    })))
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
        let serving = match &serving {
            Serving::Intercept(t) => Serving::Intercept(t.clone()),
            Serving::Refuse(r) => Serving::Refuse(r.clone()),
        };
        state.tasks.spawn(async move {
            let (req, stream) = match resolver.resolve_request().await {
                Ok(ok) => ok,
                Err(e) => return tracing::debug!(error = %e, "HTTP/3 request head not received"),
            };
            let (mut send, recv) = stream.split();
            let result = match serving {
                Serving::Intercept(tunnel) => {
                    let req = req.map(|()| H3RequestBody::new(recv));
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
        let mut record = AccessRecord::start(
            self.client,
            req.method().as_str(),
            "https",
            &self.host,
            self.port,
            req.uri().path(),
            Mode::Intercepted,
        );
        record.client_alpn = Some("h3");
        let mut pending = PendingRecord::new(self.state.clone(), record);
        let html = crate::error_page::wants_html(req.headers());
        let response = match &self.decision {
            Some(decision) => {
                let record = pending.record_mut();
                record.rule = Some(decision.rule_label().to_owned());
                record.action = Some("block");
                pipeline::block_page(&mut pending, decision, html)
            }
            None => pipeline::refuse(pending, self.status, &self.reason, &self.detail, html),
        };
        send_response(send, response).await
    }
}
