//! The QUIC listener: UDP 443 routed to the proxy (TPROXY at a transparent
//! gateway). With `quic.action = "block"` (the default) every connection is
//! refused at once, so the client falls back to TCP and is inspected there;
//! with `"intercept"` QUIC is terminated with leaves minted by the same
//! `certs` minter and HTTP/3 requests go through the shared pipeline.
//!
//! quinn, h3 and h3-quinn are young crates: they are pinned exactly in the
//! workspace and used only inside this module.

mod body;
mod connection;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::QuicAction;
use crate::state::ProxyState;

/// Why the QUIC listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    /// The TLS or transport configuration was rejected.
    #[error("quic: {0}")]
    Config(String),
    /// The UDP socket could not be bound.
    #[error("quic: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// Binds the QUIC endpoint on `addr` (inside a tokio runtime).
pub fn endpoint(state: &ProxyState, addr: SocketAddr) -> Result<quinn::Endpoint, QuicError> {
    let config = server_config(state)?;
    let socket =
        std::net::UdpSocket::bind(addr).map_err(|source| QuicError::Bind { addr, source })?;
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(config),
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .map_err(|source| QuicError::Bind { addr, source })
}

/// TLS 1.3 only (QUIC), ALPN `h3`, no 0-RTT (replayable requests would
/// reach the pipeline before the handshake is confirmed), leaves minted per
/// server name, and explicit connection and stream limits.
fn server_config(state: &ProxyState) -> Result<quinn::ServerConfig, QuicError> {
    let quic = &state.config.quic;
    let mut tls = rustls::ServerConfig::builder_with_provider(certs::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| QuicError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(certs::MintingResolver(state.certs.clone())));
    tls.alpn_protocols = vec![b"h3".to_vec()];
    tls.max_early_data_size = 0;
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| QuicError::Config(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.max_concurrent_bidi_streams(quic.max_concurrent_streams.into());
    // HTTP/3 needs three unidirectional streams per side (control, QPACK
    // encoder and decoder); a few more tolerate extensions and GREASE.
    transport.max_concurrent_uni_streams(8u32.into());
    let idle = quinn::IdleTimeout::try_from(quic.idle_timeout)
        .map_err(|e| QuicError::Config(format!("idle_timeout: {e}")))?;
    transport.max_idle_timeout(Some(idle));
    config.transport_config(Arc::new(transport));
    config.max_incoming(quic.max_connections.max(1));
    Ok(config)
}

/// Accepts QUIC connections until shutdown: refused (block), or intercepted
/// each on its own task, up to `quic.max_connections`.
pub async fn serve(state: Arc<ProxyState>, endpoint: quinn::Endpoint) {
    let shutdown = state.shutdown.clone();
    let open = Arc::new(tokio::sync::Semaphore::new(
        state.config.quic.max_connections.max(1),
    ));
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => incoming,
            _ = shutdown.cancelled() => break,
        };
        let Some(incoming) = incoming else { break };
        if state.config.quic.action == QuicAction::Block {
            state.metrics.decision("quic", "block");
            incoming.refuse();
            continue;
        }
        let Ok(permit) = open.clone().try_acquire_owned() else {
            state.metrics.decision("quic", "over_limit");
            incoming.refuse();
            continue;
        };
        let state = state.clone();
        state.tasks.clone().spawn(async move {
            connection::serve(state, incoming).await;
            drop(permit);
        });
    }
    endpoint.close(quinn::VarInt::from_u32(0x0100), b"shutting down");
}
