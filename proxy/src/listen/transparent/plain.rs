//! Plain HTTP on the transparent gateway: origin-form requests whose host is
//! the `Host` header and whose destination is the original address.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::Target;
use crate::auth::Admission;
use crate::pipeline::body::ProxyBody;
use crate::pipeline::headers::split_authority;
use crate::pipeline::plain::{handle_via, Via};
use crate::pipeline::record::PendingRecord;
use crate::pipeline::refuse;
use crate::prefixed::Prefixed;
use crate::records::{AccessRecord, Listener, Mode};
use crate::state::ProxyState;

/// Serves HTTP/1.1 on a redirected connection until it closes.
pub(super) async fn serve(state: Arc<ProxyState>, client: Prefixed<TcpStream>, target: Target) {
    let target = Arc::new(target);
    let svc_state = state.clone();
    let service = service_fn(move |req| request(svc_state.clone(), target.clone(), req));
    let result = crate::http1_server::serve(&state, TokioIo::new(client), service).await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "transparent HTTP connection ended with an error");
    }
}

/// One request: the target from `Host` and the original destination, then
/// the plain-HTTP pipeline.
async fn request(
    state: Arc<ProxyState>,
    target: Arc<Target>,
    mut req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let original = target.original;
    // Looked up per request: a portal sign-in on this connection counts at once.
    let known = target
        .identity
        .clone()
        .or_else(|| state.transparent_identity.lookup(target.client.ip()).0);
    let identity = match known {
        Some(identity) => Some(identity),
        // Trusted identity headers still count; there is no proxy
        // authentication to ask for on a connection the client thinks goes
        // straight to the origin.
        None => match state.auth.admit(target.client.ip(), req.headers()).await {
            Admission::Admit(identity) => identity,
            _ => None,
        },
    };
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(split_authority)
        .map(|(h, _)| h.to_owned())
        .filter(|h| crate::hostmatch::is_valid_pattern(h) && !h.starts_with(['*', '.']));
    let Some(host) = host else {
        let mut record = AccessRecord::start(
            target.client,
            req.method().as_str(),
            "http",
            &original.ip().to_string(),
            original.port(),
            req.uri().path(),
            Mode::Plain,
        );
        record.listener = Listener::Transparent;
        let pending = PendingRecord::new(state, record);
        let html = crate::error_page::wants_html(req.headers());
        return Ok(refuse(
            pending,
            400,
            "bad request",
            "a request without a valid Host header cannot be forwarded",
            html,
        ));
    };
    if state.config.transparent.portal.enabled {
        if req.uri().path() == super::portal::LOGIN_PATH {
            let port = original.port();
            let page =
                super::portal::serve(&state, target.client, &host, port, identity.as_deref(), req);
            return Ok(page.await);
        }
        if identity.is_none() {
            let port = original.port();
            return Ok(super::portal::redirect_to_login(
                &state,
                target.client,
                &host,
                port,
                &req,
            ));
        }
    }
    if identity.is_none() && state.config.identity.require {
        let mut record = AccessRecord::start(
            target.client,
            req.method().as_str(),
            "http",
            &host,
            original.port(),
            req.uri().path(),
            Mode::Plain,
        );
        record.listener = Listener::Transparent;
        let pending = PendingRecord::new(state, record);
        let html = crate::error_page::wants_html(req.headers());
        let detail = super::IDENTITY_REQUIRED;
        return Ok(refuse(pending, 403, "identity required", detail, html));
    }
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let authority = if host.contains(':') {
        format!("[{host}]:{}", original.port())
    } else {
        format!("{host}:{}", original.port())
    };
    match format!("http://{authority}{path}").parse() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => {
            let mut record = AccessRecord::start(
                target.client,
                req.method().as_str(),
                "http",
                &host,
                original.port(),
                "",
                Mode::Plain,
            );
            record.listener = Listener::Transparent;
            let pending = PendingRecord::new(state, record);
            return Ok(refuse(
                pending,
                400,
                "bad request",
                "unparsable request target",
                false,
            ));
        }
    }
    let via = Via::Transparent(original);
    handle_via(
        state,
        target.client,
        identity,
        target.device.clone(),
        req,
        via,
    )
    .await
}
