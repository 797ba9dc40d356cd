//! The HTTPS-proxy listener's HTTP/2: a client that negotiated ALPN `h2`
//! sends each `CONNECT host:port` as its own stream (RFC 9113 §8.5:
//! `:method CONNECT`, `:authority`, no `:scheme` or `:path`), so many
//! tunnels share one TLS connection to the proxy. Every stream goes through
//! [`proxy_request`], exactly as an HTTP/1.1 request does; only the framing
//! and the limits (`[http2]`) differ. A connection with nothing open for
//! `http2.connection_idle_timeout` is closed, as HTTP/1.1 keep-alive
//! connections are after `limits.header_read_timeout`.

use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::explicit::{proxy_request, ClientConn};
use crate::state::ProxyState;

/// Serves the proxy protocol over HTTP/2 on one client connection until
/// the client closes it or the proxy shuts down (GOAWAY; open tunnels
/// finish within the shutdown grace).
pub async fn serve_client<IO>(state: Arc<ProxyState>, stream: IO, conn: ClientConn)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = conn.peer;
    let open_streams = conn.open_streams.clone().unwrap_or_default();
    let conn = Arc::new(conn);
    let svc_state = state.clone();
    let service = service_fn(move |req| proxy_request(svc_state.clone(), conn.clone(), req));
    let connection = crate::http2_server::builder(&state.config.http2)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = state.shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        _ = open_streams.idle_for(state.config.http2.connection_idle_timeout) => {
            tracing::debug!(client = %peer, "idle HTTP/2 client connection closed");
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(client = %peer, error = %e, "HTTP/2 client connection ended with an error");
    }
}
