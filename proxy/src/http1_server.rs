//! The one place HTTP/1.1 served to clients gets its limits and its
//! shutdown: the explicit listener, the transparent gateway and intercepted
//! tunnels all serve through [`serve`], from `[limits]`.

use hyper::body::Incoming;
use hyper::rt::{Read, Write};
use hyper::service::HttpService;
use hyper_util::rt::TokioTimer;

use crate::pipeline::body::ProxyBody;
use crate::state::ProxyState;

/// Serves HTTP/1.1 (with upgrades) on `io` until the client closes or the
/// proxy shuts down (then gracefully: the request in flight finishes).
/// Header read timeout, header size and buffer size come from `[limits]`.
pub async fn serve<IO, S>(state: &ProxyState, io: IO, service: S) -> Result<(), hyper::Error>
where
    IO: Read + Write + Unpin + Send + 'static,
    S: HttpService<Incoming, ResBody = ProxyBody>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limits = &state.config.limits;
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(8192) + 8192)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => result,
        _ = state.shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    }
}
