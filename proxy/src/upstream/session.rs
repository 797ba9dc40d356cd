//! The upstream side of one intercepted tunnel: a verified TLS connection
//! speaking HTTP/2 or HTTP/1.1, reused for every request of the tunnel and
//! re-established (and re-verified) when the origin closes it.

use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::Mutex;

use super::tls::{handshake, Negotiated, TlsFailure, UpstreamTlsStream};
use super::ConnectError;
use crate::pipeline::body::ProxyBody;
use crate::state::ProxyState;
use certs::UpstreamAlpn;

/// Why a request could not be sent upstream.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Re-connecting failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Re-verifying failed.
    #[error(transparent)]
    Tls(#[from] TlsFailure),
    /// The origin broke the exchange.
    #[error("upstream: {0}")]
    Http(#[from] hyper::Error),
    /// A reconnect negotiated a different protocol than the tunnel speaks.
    #[error("upstream changed protocol on reconnect")]
    ProtocolChanged,
}

enum Sender {
    H1(http1::SendRequest<ProxyBody>),
    H2(http2::SendRequest<ProxyBody>),
}

/// The upstream connection of an intercepted tunnel.
pub struct UpstreamSession {
    state: Arc<ProxyState>,
    host: String,
    port: u16,
    negotiated: Negotiated,
    sender: Mutex<Sender>,
}

impl UpstreamSession {
    /// Starts HTTP over an established, verified TLS connection.
    pub async fn start(
        state: Arc<ProxyState>,
        host: String,
        port: u16,
        tls: UpstreamTlsStream,
        negotiated: Negotiated,
    ) -> Result<Self, SessionError> {
        let sender = Mutex::new(open(&state, tls, negotiated.is_h2()).await?);
        Ok(Self {
            state,
            host,
            port,
            negotiated,
            sender,
        })
    }

    /// What the upstream handshake negotiated.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// True when the origin speaks HTTP/2.
    pub fn is_h2(&self) -> bool {
        self.negotiated.is_h2()
    }

    /// Sends `req` and returns the response head with a streaming body.
    pub async fn send(&self, req: Request<ProxyBody>) -> Result<Response<Incoming>, SessionError> {
        let mut guard = self.sender.lock().await;
        let usable = match &mut *guard {
            Sender::H1(s) => s.ready().await.is_ok(),
            Sender::H2(s) => s.ready().await.is_ok(),
        };
        if !usable {
            *guard = self.reconnect().await?;
        }
        match &mut *guard {
            Sender::H1(s) => {
                let pending = s.send_request(req);
                drop(guard);
                Ok(pending.await?)
            }
            Sender::H2(s) => {
                let mut s = s.clone();
                drop(guard);
                Ok(s.send_request(req).await?)
            }
        }
    }

    async fn reconnect(&self) -> Result<Sender, SessionError> {
        let (tcp, _) = super::connect_tcp(
            &self.state.resolver,
            &self.host,
            self.port,
            self.state.config.upstream.connect_timeout,
        )
        .await?;
        let alpn = if self.is_h2() {
            UpstreamAlpn::H2
        } else if self.negotiated.alpn.is_some() {
            UpstreamAlpn::Http1
        } else {
            UpstreamAlpn::None
        };
        let (tls, negotiated) = handshake(
            self.state.upstream_tls.config(alpn),
            &self.host,
            tcp,
            self.state.config.upstream.tls_handshake_timeout,
        )
        .await
        .inspect_err(|e| self.state.count_tls_failure(e))?;
        if negotiated.is_h2() != self.is_h2() {
            return Err(SessionError::ProtocolChanged);
        }
        open(&self.state, tls, self.is_h2()).await
    }
}

async fn open(
    state: &ProxyState,
    tls: UpstreamTlsStream,
    h2: bool,
) -> Result<Sender, SessionError> {
    let io = TokioIo::new(tls);
    if h2 {
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_concurrent_reset_streams(state.config.http2.max_pending_reset_streams)
            .max_header_list_size(state.config.http2.max_header_list_size)
            .handshake(io)
            .await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream h2 connection ended");
            }
        });
        Ok(Sender::H2(sender))
    } else {
        let (sender, conn) = http1::Builder::new()
            .max_buf_size(state.config.limits.max_header_bytes.max(8192) * 4)
            .handshake(io)
            .await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "upstream h1 connection ended");
            }
        });
        Ok(Sender::H1(sender))
    }
}
