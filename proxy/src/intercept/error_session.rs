//! When the proxy cannot (or must not) reach the origin for an intercepted
//! tunnel, it still completes the client's handshake with a minted leaf and
//! answers every request with its own error page: the browser shows the
//! reason instead of a bare connection error, and no origin byte is relayed.

use std::convert::Infallible;
use std::sync::Arc;

use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::StartHandshake;

use crate::pipeline::body::ProxyBody;
use crate::pipeline::record::PendingRecord;
use crate::pipeline::refuse;
use crate::prefixed::Prefixed;
use crate::records::{AccessRecord, Mode};
use crate::state::ProxyState;

/// Mints a leaf for `leaf_name`, then serves the error page.
#[allow(clippy::too_many_arguments)]
pub async fn serve<IO>(
    state: &Arc<ProxyState>,
    start: StartHandshake<Prefixed<IO>>,
    leaf_name: &str,
    offered: &[Vec<u8>],
    status: u16,
    reason: &str,
    detail: &str,
    pending: PendingRecord,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match state.leaf(leaf_name).await {
        Ok(leaf) => {
            serve_with_leaf(state, start, leaf, offered, status, reason, detail, pending).await
        }
        Err(e) => {
            let mut pending = pending;
            pending.fail(format!(
                "{reason}: {detail}; cannot mint a certificate: {e}"
            ));
        }
    }
}

/// Completes the client handshake with `leaf` and answers every request on
/// the connection with `status` and the reason.
#[allow(clippy::too_many_arguments)]
pub async fn serve_with_leaf<IO>(
    state: &Arc<ProxyState>,
    start: StartHandshake<Prefixed<IO>>,
    leaf: Arc<CertifiedKey>,
    offered: &[Vec<u8>],
    status: u16,
    reason: &str,
    detail: &str,
    mut pending: PendingRecord,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    pending.set_status(status);
    let tunnel = pending.record_mut().clone();
    pending.fail(format!("{reason}: {detail}"));
    drop(pending);

    let alpn = [b"http/1.1".as_slice(), b"h2"]
        .into_iter()
        .find(|p| offered.iter().any(|o| o == p))
        .map(|p| vec![p.to_vec()])
        .unwrap_or_default();
    let config = state.server_config(leaf, alpn);
    let timeout = state.config.limits.client_handshake_timeout;
    let Ok(Ok(tls)) = tokio::time::timeout(timeout, start.into_stream(config)).await else {
        return;
    };
    let reason = reason.to_owned();
    let detail = detail.to_owned();
    let state_for_service = state.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        let mut record = AccessRecord::start(
            tunnel.client,
            req.method().as_str(),
            "https",
            &tunnel.host,
            tunnel.port,
            req.uri().path(),
            Mode::Intercepted,
        );
        record.request_id = tunnel.request_id.clone();
        record.user = tunnel.user.clone();
        record.proxy_protocol = tunnel.proxy_protocol;
        record.device = tunnel.device.clone();
        record.app = tunnel.app.clone();
        record.category = tunnel.category.clone();
        record.registrable_domain = tunnel.registrable_domain.clone();
        record.rule = tunnel.rule.clone();
        record.action = tunnel.action;
        record.listener = tunnel.listener;
        let pending = PendingRecord::new(state_for_service.clone(), record);
        let html = crate::error_page::wants_html(req.headers());
        let mut response = refuse(pending, status, &reason, &detail, html);
        if req.version() <= http::Version::HTTP_11 {
            response
                .headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        async move { Ok::<Response<ProxyBody>, Infallible>(response) }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.limits.header_read_timeout);
    let _ = builder.serve_connection(TokioIo::new(tls), service).await;
}
