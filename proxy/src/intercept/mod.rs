//! What happens inside a `CONNECT` tunnel once it is established: sniff the
//! first bytes, then refuse non-TLS, relay bypassed hosts blind, or intercept.
//!
//! Interception order (DESIGN.md): ClientHello (SNI, ALPN) → upstream TLS
//! offering only the intersection of the client's ALPN with {h2, http/1.1}
//! → upstream certificate verified → only then a per-connection
//! `ServerConfig` with the minted leaf and the ALPN the upstream selected →
//! client handshake. An upstream that fails verification sends the client
//! nothing: the client gets the proxy's own error page.

mod error_session;
mod serve;

use std::net::SocketAddr;
use std::sync::Arc;

use certs::UpstreamAlpn;
use rustls::server::Acceptor;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::LazyConfigAcceptor;

use crate::auth::Identity;
use crate::config::NonTls;
use crate::pipeline::record::PendingRecord;
use crate::prefixed::Prefixed;
use crate::records::{AccessRecord, Listener, Mode, ProxyProtocol};
use crate::relay::relay;
use crate::state::ProxyState;
use crate::upstream::tls::handshake;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// A `CONNECT` tunnel the client has been told is established.
pub struct Connected {
    /// The client's address.
    pub client: SocketAddr,
    /// What the client spoke to the proxy listener (recorded).
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Who the client is, when known.
    pub identity: Option<Arc<Identity>>,
    /// The CONNECT host.
    pub host: String,
    /// The CONNECT port.
    pub port: u16,
    /// The TCP connection to the destination, already made (none when the
    /// policy blocked the tunnel: the destination is never contacted).
    pub upstream: Option<TcpStream>,
    /// The connection's policy context.
    pub context: policy::Context,
    /// What the policy decided at CONNECT time.
    pub decided: Decided,
    /// Which listener the connection arrived on.
    pub listener: Listener,
    /// Whether a bypass may relay the connection blind. False when the
    /// destination address is not one the host resolves to (a client
    /// naming a bypassed host to escape inspection): then it is intercepted.
    pub may_bypass: bool,
}

/// The CONNECT-time policy decision.
#[derive(Debug, Clone)]
pub enum Decided {
    /// Serve the block page inside a minted TLS session.
    Block(policy::Decision),
    /// Relay bytes without interception.
    Bypass,
    /// Intercept and decide per request.
    Intercept,
    /// Serve the proxy's own page with this status and reason inside a
    /// minted TLS session (for example: sign in at the captive portal first).
    Refuse(Refusal),
}

impl Decided {
    /// The connection-level (CONNECT-time) policy decision for `context`,
    /// counted in `portcullis_decisions_total{phase="connect"}`: one place
    /// for the explicit, transparent and QUIC listeners.
    pub fn at_connect(state: &ProxyState, context: &policy::Context) -> Decided {
        let decision = state
            .inspect
            .policy
            .evaluate(context, policy::Phase::Connect);
        let (decided, label) = match decision.tunnel {
            policy::Tunnel::Block => (Decided::Block(decision), "block"),
            policy::Tunnel::Bypass => (Decided::Bypass, "bypass"),
            policy::Tunnel::Intercept => (Decided::Intercept, "intercept"),
        };
        state.metrics.decision("connect", label);
        decided
    }
}

/// A refusal that is not a policy decision.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// HTTP status of the page.
    pub status: u16,
    /// Short reason.
    pub reason: String,
    /// What the user should do.
    pub detail: String,
}

/// Runs the tunnel over the client's upgraded connection until it ends.
pub async fn run<IO>(state: Arc<ProxyState>, mut client: IO, tunnel: Connected)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut record = AccessRecord::start(
        tunnel.client,
        "CONNECT",
        "https",
        &tunnel.host,
        tunnel.port,
        "",
        Mode::Tunnel,
    );
    record.user = tunnel.identity.as_ref().map(|i| i.user.clone());
    record.listener = tunnel.listener;
    record.proxy_protocol = tunnel.proxy_protocol;
    record.app = Some(tunnel.context.app.app_id.to_string());
    record.device = tunnel.context.device.id.clone();
    record.category = tunnel.context.app.category.map(|c| c.as_str().to_owned());
    record.registrable_domain = tunnel.context.app.registrable_domain.clone();
    let mut pending = PendingRecord::new(state.clone(), record);
    let mut first = vec![0u8; 4096];
    let timeout = state.config.limits.client_handshake_timeout;
    let n = match tokio::time::timeout(timeout, client.read(&mut first)).await {
        Ok(Ok(0)) => {
            pending.fail("client closed the tunnel before sending anything".into());
            return;
        }
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            pending.fail(format!("client read: {e}"));
            return;
        }
        Err(_) => {
            pending.fail(format!("client sent nothing for {timeout:?}"));
            return;
        }
    };
    first.truncate(n);
    let client = Prefixed::new(first, client);
    if client.first_byte() != Some(TLS_HANDSHAKE) {
        return non_tls(&state, client, tunnel, pending).await;
    }
    let upstream = match (&tunnel.decided, tunnel.upstream) {
        (Decided::Refuse(refusal), _) => {
            let refusal = refusal.clone();
            return refused(&state, client, refusal, pending).await;
        }
        (Decided::Block(_), _) | (_, None) => {
            let decision = match &tunnel.decided {
                Decided::Block(d) => Some(d.clone()),
                _ => None,
            };
            return blocked(&state, client, decision, pending).await;
        }
        (_, Some(upstream)) => upstream,
    };
    let tunnel = Connected {
        upstream: None,
        ..tunnel
    };
    let wants_bypass = matches!(tunnel.decided, Decided::Bypass)
        || state.config.inspection.is_bypassed(&tunnel.host);
    if wants_bypass && tunnel.may_bypass {
        let record = pending.record_mut();
        record.action = Some("bypass");
        return blind(&state, client, upstream, pending).await;
    }
    intercept(state, client, tunnel, upstream, pending).await;
}

async fn non_tls<IO>(
    state: &Arc<ProxyState>,
    mut client: Prefixed<IO>,
    tunnel: Connected,
    mut pending: PendingRecord,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    match state.config.inspection.non_tls {
        NonTls::Tunnel
            if tunnel.upstream.is_some() && !matches!(tunnel.decided, Decided::Block(_)) =>
        {
            if let Some(upstream) = tunnel.upstream {
                blind(state, client, upstream, pending).await
            }
        }
        NonTls::Tunnel => {
            let _ = client.shutdown().await;
            pending.set_status(403);
            pending.fail("tunnel blocked by policy".into());
        }
        NonTls::Block => {
            if client.looks_like_http() {
                let page = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\
                            X-Portcullis-Error: non-TLS tunnel refused\r\nContent-Length: 77\r\n\r\n\
                            Portcullis: non-TLS traffic inside CONNECT is refused (inspection.non_tls)\r\n";
                let _ = client.write_all(page.as_bytes()).await;
            }
            let _ = client.shutdown().await;
            pending.set_status(403);
            pending.fail("non-TLS payload inside CONNECT refused".into());
        }
    }
}

async fn blind<IO>(
    state: &Arc<ProxyState>,
    client: IO,
    upstream: TcpStream,
    mut pending: PendingRecord,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    pending.set_status(200);
    let relayed = relay(client, upstream, state.config.limits.idle_timeout).await;
    let record = pending.record_mut();
    record.bytes_in = relayed.a_to_b;
    record.bytes_out = relayed.b_to_a;
    match relayed.error {
        Some(e) => pending.fail(e),
        None => pending.complete(),
    }
}

/// Serves the policy's block page inside a minted TLS session (browsers
/// ignore the body of a failed CONNECT): the destination is never contacted.
async fn blocked<IO>(
    state: &Arc<ProxyState>,
    client: Prefixed<IO>,
    decision: Option<policy::Decision>,
    mut pending: PendingRecord,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (reason, detail) = match &decision {
        Some(d) => {
            let record = pending.record_mut();
            record.rule = Some(d.rule_label().to_owned());
            record.action = Some("block");
            (
                d.reason
                    .as_deref()
                    .unwrap_or("blocked by your organisation's policy")
                    .to_owned(),
                format!("policy rule {}", d.rule_label()),
            )
        }
        None => ("blocked".to_owned(), "no upstream connection".to_owned()),
    };
    let refusal = Refusal {
        status: 403,
        reason,
        detail,
    };
    refused(state, client, refusal, pending).await;
}

/// Serves the proxy's page for `refusal` inside a minted TLS session; the
/// destination is never contacted.
async fn refused<IO>(
    state: &Arc<ProxyState>,
    client: Prefixed<IO>,
    refusal: Refusal,
    mut pending: PendingRecord,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let timeout = state.config.limits.client_handshake_timeout;
    let accept = LazyConfigAcceptor::new(Acceptor::default(), client);
    let start = match tokio::time::timeout(timeout, accept).await {
        Ok(Ok(start)) => start,
        Ok(Err(e)) => return pending.fail(format!("invalid TLS ClientHello: {e}")),
        Err(_) => return pending.fail(format!("no complete ClientHello within {timeout:?}")),
    };
    let hello = start.client_hello();
    let offered: Vec<Vec<u8>> = hello
        .alpn()
        .map(|protocols| protocols.map(<[u8]>::to_vec).collect())
        .unwrap_or_default();
    let host = pending.record_mut().host.clone();
    let name = hello.server_name().map_or(host, str::to_ascii_lowercase);
    let Refusal {
        status,
        reason,
        detail,
    } = refusal;
    error_session::serve(
        state, start, &name, &offered, status, &reason, &detail, pending,
    )
    .await;
}

async fn intercept<IO>(
    state: Arc<ProxyState>,
    client: Prefixed<IO>,
    tunnel: Connected,
    upstream_tcp: TcpStream,
    mut pending: PendingRecord,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    pending.record_mut().mode = Mode::Intercepted;
    let timeout = state.config.limits.client_handshake_timeout;
    let accept = LazyConfigAcceptor::new(Acceptor::default(), client);
    let start = match tokio::time::timeout(timeout, accept).await {
        Ok(Ok(start)) => start,
        Ok(Err(e)) => return pending.fail(format!("invalid TLS ClientHello: {e}")),
        Err(_) => return pending.fail(format!("no complete ClientHello within {timeout:?}")),
    };
    let hello = start.client_hello();
    let sni = hello.server_name().map(str::to_ascii_lowercase);
    let offered: Vec<Vec<u8>> = hello
        .alpn()
        .map(|protocols| protocols.map(<[u8]>::to_vec).collect())
        .unwrap_or_default();
    let host = tunnel.host.trim_start_matches('[').trim_end_matches(']');
    let leaf_name = sni.clone().unwrap_or_else(|| host.to_owned());

    if sni
        .as_deref()
        .is_some_and(|s| !s.trim_end_matches('.').eq_ignore_ascii_case(host))
    {
        let detail =
            format!("the TLS server name {leaf_name:?} differs from the CONNECT host {host:?}");
        return error_session::serve(
            &state,
            start,
            &leaf_name,
            &offered,
            421,
            "misdirected request",
            &detail,
            pending,
        )
        .await;
    }

    let alpn = UpstreamAlpn::intersect(offered.iter().map(Vec::as_slice));
    let upstream_handshake = handshake(
        state.upstream_tls.config(alpn),
        &tunnel.host,
        upstream_tcp,
        state.config.upstream.tls_handshake_timeout,
    );
    let (leaf, upstream) = tokio::join!(state.leaf(&leaf_name), upstream_handshake);
    let leaf = match leaf {
        Ok(leaf) => leaf,
        Err(e) => return pending.fail(format!("cannot mint a certificate: {e}")),
    };
    let (tls, negotiated) = match upstream {
        Ok(ok) => ok,
        Err(failure) => {
            state.count_tls_failure(&failure);
            let detail = failure.to_string();
            return error_session::serve_with_leaf(
                &state, start, leaf, &offered, 502, &detail, &detail, pending,
            )
            .await;
        }
    };
    let server_config = state.server_config(leaf, negotiated.alpn.iter().cloned().collect());
    let client_tls = match tokio::time::timeout(timeout, start.into_stream(server_config)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return pending.fail(format!("client TLS handshake failed: {e}")),
        Err(_) => {
            return pending.fail(format!(
                "client TLS handshake not finished within {timeout:?}"
            ))
        }
    };
    // From here on every request is recorded on its own.
    pending.discard();
    let endpoint = serve::Endpoint {
        client: tunnel.client,
        proxy_protocol: tunnel.proxy_protocol,
        identity: tunnel.identity,
        host: tunnel.host,
        port: tunnel.port,
        context: tunnel.context,
        listener: tunnel.listener,
    };
    serve::tunnel(state, client_tls, endpoint, tls, negotiated).await;
}
