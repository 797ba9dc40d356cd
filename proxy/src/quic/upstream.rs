//! The origin over HTTP/3: a QUIC connection from the proxy's client
//! endpoint, verified with the same strict rustls configuration as every
//! upstream TLS connection (ALPN `h3`, TLS 1.3), reused for every request of
//! the client's connection and re-established when the origin closes it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use certs::UpstreamAlpn;
use http::{Request, Response};
use tokio::sync::Mutex;

use super::body::{send_body, H3Body};
use crate::pipeline::body::ProxyBody;
use crate::state::ProxyState;

/// The receiving half of a request the proxy sent to an origin.
pub type ClientRecv = h3::client::RequestStream<h3_quinn::RecvStream, Bytes>;
type Sender = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

/// Why an HTTP/3 connection to the origin could not be made.
#[derive(Debug, thiserror::Error)]
pub enum H3ConnectError {
    /// The origin's certificate (or the TLS handshake) failed: never fall
    /// back to another transport for this.
    #[error("upstream certificate or TLS handshake failed: {0}")]
    Tls(String),
    /// The origin does not answer QUIC (refused, unreachable, timed out).
    #[error("origin does not speak HTTP/3: {0}")]
    Unavailable(String),
}

/// An HTTP/3 session with one origin address.
pub struct H3Upstream {
    state: Arc<ProxyState>,
    endpoint: quinn::Endpoint,
    host: String,
    addr: SocketAddr,
    sender: Mutex<Sender>,
}

impl H3Upstream {
    /// Connects to `addr` as `host`, verifying its certificate.
    pub async fn connect(
        state: Arc<ProxyState>,
        endpoint: quinn::Endpoint,
        host: &str,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<Self, H3ConnectError> {
        let sender = open(&state, &endpoint, host, addr, timeout).await?;
        Ok(Self {
            state,
            endpoint,
            host: host.to_owned(),
            addr,
            sender: Mutex::new(sender),
        })
    }

    /// Sends `req`; its body is streamed on a task of its own while the
    /// response head is awaited.
    pub async fn send(
        &self,
        req: Request<ProxyBody>,
    ) -> Result<Response<H3Body<ClientRecv>>, String> {
        let (parts, body) = req.into_parts();
        let head = Request::from_parts(parts, ());
        let mut sender = self.sender.lock().await.clone();
        let stream = match sender.send_request(head.clone()).await {
            Ok(stream) => stream,
            Err(_) => {
                // The origin closed the connection: reconnect (re-verified) once.
                let timeout = self.state.config.upstream.connect_timeout;
                let fresh = open(&self.state, &self.endpoint, &self.host, self.addr, timeout)
                    .await
                    .map_err(|e| e.to_string())?;
                *self.sender.lock().await = fresh.clone();
                sender = fresh;
                sender
                    .send_request(head)
                    .await
                    .map_err(|e| format!("upstream HTTP/3: {e}"))?
            }
        };
        let (mut send, mut recv) = stream.split();
        tokio::spawn(async move {
            if let Err(e) = send_body(&mut send, body, h3::error::Code::H3_REQUEST_CANCELLED).await
            {
                tracing::debug!(error = %e, "upstream HTTP/3 request not sent whole");
            }
        });
        let head = recv
            .recv_response()
            .await
            .map_err(|e| format!("upstream HTTP/3 response: {e}"))?;
        let (parts, ()) = head.into_parts();
        Ok(Response::from_parts(parts, H3Body::new(recv)))
    }
}

/// The client endpoint the proxy opens origin QUIC connections from: one
/// dual-stack UDP socket, marked with `mark` when given.
pub fn client_endpoint(mark: Option<u32>) -> std::io::Result<quinn::Endpoint> {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV6,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_only_v6(false)?;
    if let Some(mark) = mark {
        crate::upstream::connect::set_mark(socket2::SockRef::from(&socket), mark)?;
    }
    socket.bind(&SocketAddr::from(([0u16; 8], 0)).into())?;
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        None,
        socket.into(),
        Arc::new(quinn::TokioRuntime),
    )
}

async fn open(
    state: &ProxyState,
    endpoint: &quinn::Endpoint,
    host: &str,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<Sender, H3ConnectError> {
    let mut tls = (*state.upstream_tls.config(UpstreamAlpn::H2)).clone();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    tls.enable_early_data = false;
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| H3ConnectError::Tls(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    if let Ok(idle) = quinn::IdleTimeout::try_from(state.config.quic.idle_timeout) {
        transport.max_idle_timeout(Some(idle));
    }
    config.transport_config(Arc::new(transport));
    let connecting = endpoint
        .connect_with(config, addr, host)
        .map_err(|e| H3ConnectError::Unavailable(e.to_string()))?;
    let conn = match tokio::time::timeout(timeout, connecting).await {
        Err(_) => {
            return Err(H3ConnectError::Unavailable(format!(
                "no QUIC answer within {timeout:?}"
            )))
        }
        Ok(Err(e)) => return Err(classify(e)),
        Ok(Ok(conn)) => conn,
    };
    let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(conn))
        .await
        .map_err(|e| H3ConnectError::Unavailable(format!("HTTP/3 setup: {e}")))?;
    tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    Ok(sender)
}

/// TLS failures (QUIC crypto errors, 0x100–0x1ff) are final; anything else
/// means the origin does not do QUIC.
fn classify(e: quinn::ConnectionError) -> H3ConnectError {
    match &e {
        quinn::ConnectionError::TransportError(t)
            if (0x100..0x200).contains(&u64::from(t.code)) =>
        {
            H3ConnectError::Tls(t.reason.clone())
        }
        _ => H3ConnectError::Unavailable(e.to_string()),
    }
}
