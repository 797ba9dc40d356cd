//! The transparent gateway: connections that iptables/nftables redirected to
//! the proxy (REDIRECT or TPROXY) without the client knowing.
//!
//! The target comes from the connection itself: the original destination
//! address and port from the socket, the host from the TLS ClientHello's
//! server name (SNI) or from the plain-HTTP `Host` header. The upstream
//! connection always goes to the original destination address — a name is
//! never re-resolved to choose where to connect — so a client cannot reach
//! one server while naming another. For the same reason a bypassed name is
//! relayed blind only when the destination address is one that name
//! resolves to; otherwise the connection is intercepted like any other.
//! From there on a connection takes the same path as explicit mode:
//! `intercept::run` for TLS, the plain-HTTP pipeline for HTTP.

pub mod hello;
pub mod identity;
pub mod original_dst;
mod plain;
pub mod portal;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::auth::Identity;
use crate::config::NoSni;
use crate::intercept::{self, Connected, Decided, Refusal};
use crate::pipeline::record::PendingRecord;
use crate::prefixed::Prefixed;
use crate::records::{AccessRecord, Listener, Mode};
use crate::state::ProxyState;
use crate::upstream::connect::connect_addrs_marked;
use crate::upstream::destination::restricted_reason;
use hello::Opening;

/// Accepts redirected connections on `listener` until shutdown, at most
/// `limits.max_connections` at once.
pub async fn serve(state: Arc<ProxyState>, listener: TcpListener) {
    let listen_port = listener.local_addr().map_or(0, |a| a.port());
    crate::listen::accept::accept_loop(
        state,
        listener,
        "transparent",
        // The tunnel runs inside this connection's task: the accept loop
        // holds the slot until it ends.
        move |state, stream, peer, _slot| serve_connection(state, stream, peer, listen_port),
    )
    .await;
}

/// Serves one redirected connection.
async fn serve_connection(
    state: Arc<ProxyState>,
    mut stream: TcpStream,
    peer: SocketAddr,
    listen_port: u16,
) {
    let mode = state.config.transparent.mode;
    let original = match original_dst::original_destination(&stream, mode) {
        Ok(addr) => addr,
        Err(e) => {
            tracing::debug!(client = %peer, error = %e, "no original destination");
            return;
        }
    };
    if original.port() == listen_port {
        // Made to the listener itself, not redirected (the rules send ports
        // 80 and 443 here): relaying it would connect the proxy to itself.
        tracing::debug!(client = %peer, "connection to the transparent listener was not redirected");
        return;
    }
    let (identity, device) = state.transparent_identity.lookup(peer.ip());
    let device =
        crate::device::device_facts(&state.posture, &state.config.devices, device.as_deref());
    let timeout = state.config.limits.client_handshake_timeout;
    let (opening, bytes) = match hello::read_opening(&mut stream, timeout).await {
        Ok(read) => read,
        Err(e) => {
            let record = connection_record(peer, "", original, Mode::Tunnel);
            PendingRecord::new(state, record).fail(e);
            return;
        }
    };
    let client = Prefixed::new(bytes, stream);
    let target = Target {
        client: peer,
        original,
        identity,
        device,
    };
    match opening {
        Opening::Tls { sni } => tls(state, client, target, sni).await,
        Opening::Other => plain::serve(state, client, target).await,
    }
}

/// Where a redirected connection goes and who made it.
struct Target {
    client: SocketAddr,
    original: SocketAddr,
    identity: Option<Arc<Identity>>,
    device: policy::context::Device,
}

/// A TLS connection: decide on its server name, connect to the original
/// destination, and hand it to the same tunnel code explicit CONNECT uses.
async fn tls(
    state: Arc<ProxyState>,
    mut client: Prefixed<TcpStream>,
    target: Target,
    sni: Option<String>,
) {
    let original = target.original;
    let host = match (sni, state.config.transparent.no_sni) {
        (Some(name), _) => name,
        (None, NoSni::InterceptByAddress) => original.ip().to_string(),
        (None, NoSni::Block) => {
            let mut record = connection_record(target.client, "", original, Mode::Tunnel);
            record.user = target.identity.as_ref().map(|i| i.user.clone());
            record.action = Some("block");
            let mut pending = PendingRecord::new(state, record);
            pending.set_status(403);
            pending.fail("TLS without a server name refused (transparent.no_sni = block)".into());
            let _ = client.shutdown().await;
            return;
        }
    };
    let context = state.inspect.connection_context(
        &host,
        target.identity.as_deref(),
        target.device,
        target.client.ip(),
        Some(original.ip()),
    );
    let decided = Decided::at_connect(&state, &context);
    let decided = match unidentified(&state, target.identity.as_deref()) {
        Some(refusal) => Decided::Refuse(refusal),
        None => decided,
    };
    let wants_bypass =
        matches!(decided, Decided::Bypass) || state.config.inspection.is_bypassed(&host);
    let may_bypass = !wants_bypass || resolves_to(&state, &host, original.ip()).await;
    if !may_bypass {
        tracing::warn!(
            client = %target.client,
            sni = %host,
            destination = %original,
            "bypassed server name does not resolve to the destination address; intercepting"
        );
    }
    let (upstream, decided) = match decided {
        Decided::Block(_) | Decided::Refuse(_) => (None, decided),
        _ => match connect_original(&state, &host, original).await {
            Ok(tcp) => (Some(tcp), decided),
            // The client is told why, inside a minted session.
            Err(refusal) => (None, Decided::Refuse(refusal)),
        },
    };
    let tunnel = Connected {
        client: target.client,
        // Redirected connections speak no proxy protocol.
        proxy_protocol: None,
        identity: target.identity,
        host,
        port: original.port(),
        upstream,
        context,
        decided,
        listener: Listener::Transparent,
        may_bypass,
    };
    intercept::run(state, client, tunnel).await;
}

/// Connects to the original destination, unless it is a restricted address
/// (the same SSRF rules as explicit mode: 403) or unreachable (502, or 504
/// on a timeout).
async fn connect_original(
    state: &ProxyState,
    host: &str,
    original: SocketAddr,
) -> Result<TcpStream, Refusal> {
    if !state.config.upstream.allow_private {
        if let Some(reason) = restricted_reason(original.ip()) {
            return Err(Refusal {
                status: 403,
                reason: "destination not allowed".into(),
                detail: format!(
                    "{original} is a {reason} address; set upstream.allow_private to permit it"
                ),
            });
        }
    }
    let timeout = state.config.upstream.connect_timeout;
    let mark = state.config.transparent.upstream_mark;
    connect_addrs_marked(host, original.port(), &[original.ip()], timeout, mark)
        .await
        .map(|(tcp, _)| tcp)
        .map_err(|e| {
            let status = e.status();
            Refusal {
                status,
                reason: crate::pipeline::status_reason(status).to_owned(),
                detail: e.to_string(),
            }
        })
}

/// Why an unidentified client is refused: it must sign in at the captive
/// portal first, or (`identity.require` without a portal) it cannot be
/// served at all. None when it may go on.
fn unidentified(state: &ProxyState, identity: Option<&Identity>) -> Option<Refusal> {
    if identity.is_some() {
        return None;
    }
    if state.config.transparent.portal.enabled {
        return Some(Refusal {
            status: 511,
            reason: "sign in to the network first".into(),
            detail:
                "open any http:// page in your browser to reach the sign-in page, then try again"
                    .into(),
        });
    }
    state.config.identity.require.then(|| Refusal {
        status: 403,
        reason: "identity required".into(),
        detail: IDENTITY_REQUIRED.into(),
    })
}

/// What an unidentified client is told when `identity.require` is set and
/// there is no portal.
const IDENTITY_REQUIRED: &str = "this network serves identified clients only; ask your \
                                 administrator to register this device's address";

/// True when `host` resolves to `addr` (IPv4-mapped IPv6 compared as IPv4).
async fn resolves_to(state: &ProxyState, host: &str, addr: IpAddr) -> bool {
    let addr = addr.to_canonical();
    match state.resolver.resolve(host).await {
        Ok(addrs) => addrs.iter().any(|a| a.to_canonical() == addr),
        Err(_) => false,
    }
}

/// A connection-level record of the transparent listener.
fn connection_record(
    client: SocketAddr,
    host: &str,
    original: SocketAddr,
    mode: Mode,
) -> AccessRecord {
    let host = if host.is_empty() {
        original.ip().to_string()
    } else {
        host.to_owned()
    };
    let mut record =
        AccessRecord::start(client, "CONNECT", "https", &host, original.port(), "", mode);
    record.listener = Listener::Transparent;
    record
}
