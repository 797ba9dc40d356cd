//! The one place HTTP/2 served to clients gets its limits: intercepted
//! tunnels and the HTTPS-proxy listener build their servers here, from
//! `[http2]`, so both enforce the same bounds.

use hyper::server::conn::http2::Builder;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::Http2Section;

/// An HTTP/2 server builder with every limit set explicitly: concurrent
/// streams, header list size, frame size, rapid-reset bounds, and a PING
/// keep-alive that closes connections whose peer stopped answering.
/// Extended CONNECT (RFC 8441) is not enabled, so a `:protocol` request is
/// refused by the protocol layer.
pub fn builder(limits: &Http2Section) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_header_list_size(limits.max_header_list_size)
        .max_pending_accept_reset_streams(limits.max_pending_reset_streams)
        .max_local_error_reset_streams(limits.max_local_error_reset_streams)
        .max_frame_size(limits.max_frame_size);
    if !limits.keep_alive_interval.is_zero() {
        builder
            .keep_alive_interval(limits.keep_alive_interval)
            .keep_alive_timeout(limits.keep_alive_timeout);
    }
    builder
}
