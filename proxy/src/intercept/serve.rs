//! Serving the client side of an intercepted tunnel over HTTP/1.1 or HTTP/2,
//! whichever the origin selected, with explicit limits.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::auth::Identity;
use crate::pipeline::{self, Tunnel};
use crate::records::{AccessRecord, Listener, Mode, ProxyProtocol};
use crate::state::ProxyState;
use crate::upstream::tls::{Negotiated, UpstreamTlsStream};
use crate::upstream::UpstreamSession;

/// Serves requests on the client's TLS connection, forwarding them on the
/// verified upstream connection, until either side closes.
/// Who is on the client side of a tunnel and where it goes.
pub struct Endpoint {
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
    /// The connection's policy context.
    pub context: policy::Context,
    /// Which listener the connection arrived on.
    pub listener: Listener,
}

pub async fn tunnel<IO>(
    state: Arc<ProxyState>,
    client_tls: IO,
    endpoint: Endpoint,
    upstream_tls: UpstreamTlsStream,
    negotiated: Negotiated,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Endpoint {
        client,
        proxy_protocol,
        identity,
        host,
        port,
        context,
        listener,
    } = endpoint;
    let h2 = negotiated.is_h2();
    let upstream =
        match UpstreamSession::start(state.clone(), host.clone(), port, upstream_tls, negotiated)
            .await
        {
            Ok(session) => session,
            Err(e) => {
                let mut record = AccessRecord::start(
                    client,
                    "CONNECT",
                    "https",
                    &host,
                    port,
                    "",
                    Mode::Intercepted,
                );
                record.listener = listener;
                record.proxy_protocol = proxy_protocol;
                record.error = Some(format!("upstream HTTP handshake failed: {e}"));
                state.access.write_access(&record);
                return;
            }
        };
    let tunnel = Arc::new(Tunnel {
        state: state.clone(),
        client,
        proxy_protocol,
        identity,
        host,
        port,
        upstream: pipeline::Upstream::Tcp(upstream),
        client_alpn: if h2 { "h2" } else { "http/1.1" },
        context,
        listener,
    });
    let service = service_fn(move |req| pipeline::intercepted::handle(tunnel.clone(), req));
    let io = TokioIo::new(client_tls);
    let shutdown = state.shutdown.clone();
    if h2 {
        let conn = crate::http2_server::builder(&state.config.http2).serve_connection(io, service);
        tokio::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => log_end(result),
            _ = shutdown.cancelled() => {
                conn.as_mut().graceful_shutdown();
                log_end(conn.await);
            }
        }
    } else {
        log_end(crate::http1_server::serve(&state, io, service).await);
    }
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "intercepted connection ended with an error");
    }
}
