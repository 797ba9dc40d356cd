//! The explicit forward proxy listener: `CONNECT host:port` tunnels and
//! absolute-form plain-HTTP requests, over HTTP/1.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::auth::{Admission, Identity};
use crate::device::CertDevice;
use crate::intercept::{self, Connected, Decided};
use crate::metrics::ListenerLabels;
use crate::pipeline::body::{empty, ProxyBody};
use crate::pipeline::headers::split_authority;
use crate::pipeline::record::PendingRecord;
use crate::pipeline::{self, refuse};
use crate::records::{AccessRecord, Mode};
use crate::state::ProxyState;
use crate::upstream::connect::connect_addrs;
use policy::{Phase, Tunnel as PolicyTunnel};

/// Accepts clients on `listener` until shutdown, at most
/// `limits.max_connections` at once.
pub async fn serve(state: Arc<ProxyState>, listener: TcpListener) {
    serve_with(state, listener, None).await;
}

/// Like [`serve`]; with `tls`, the proxy protocol is spoken inside TLS (the
/// HTTPS-proxy listener) and a device certificate identifies the device.
pub async fn serve_with(state: Arc<ProxyState>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    let label = if tls.is_some() { "https" } else { "explicit" };
    let permits = Arc::new(Semaphore::new(state.config.limits.max_connections));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = state.shutdown.cancelled() => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = state.shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: keep serving the clients we have.
                tracing::warn!(error = %e, "accept failed");
                tokio::task::yield_now().await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let tls = tls.clone();
        state.tasks.clone().spawn(async move {
            let _permit = permit;
            state
                .metrics
                .connections
                .get_or_create(&ListenerLabels { listener: label })
                .inc();
            state.metrics.connections_open.inc();
            match tls {
                None => serve_client(state.clone(), stream, peer, None).await,
                Some(acceptor) => {
                    let timeout = state.config.limits.client_handshake_timeout;
                    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let device = tls
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|certs| certs.first())
                                .and_then(|c| crate::device::device_from_certificate(c))
                                .map(Arc::new);
                            serve_client(state.clone(), tls, peer, device).await;
                        }
                        Ok(Err(e)) => tracing::debug!(client = %peer, error = %e, "HTTPS-proxy handshake failed"),
                        Err(_) => tracing::debug!(client = %peer, "HTTPS-proxy handshake timed out"),
                    }
                }
            }
            state.metrics.connections_open.dec();
        });
    }
}

/// Serves the proxy protocol (HTTP/1.1: CONNECT and absolute-form requests)
/// on one client connection — plain TCP, or TLS on the HTTPS-proxy
/// listener, where `device` is the device its certificate names.
pub async fn serve_client<IO>(
    state: Arc<ProxyState>,
    stream: IO,
    peer: SocketAddr,
    device: Option<Arc<CertDevice>>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc_state = state.clone();
    let service =
        service_fn(move |req| proxy_request(svc_state.clone(), peer, device.clone(), req));
    let limits = &state.config.limits;
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(8192) + 8192)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = state.shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(client = %peer, error = %e, "client connection ended with an error");
    }
}

/// Dispatches one request received on the explicit listener.
async fn proxy_request(
    state: Arc<ProxyState>,
    client: SocketAddr,
    device: Option<Arc<CertDevice>>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let identity = match state.auth.admit(client.ip(), req.headers()).await {
        Admission::Admit(identity) => {
            identity.or_else(|| certificate_identity(&state, device.as_deref()))
        }
        refused => return Ok(refuse_admission(&state, client, &req, &refused)),
    };
    let device_facts =
        crate::device::device_facts(&state.posture, &state.config.devices, device.as_deref());
    if req.method() == Method::CONNECT {
        return Ok(connect(state, client, identity, device_facts, req).await);
    }
    if req.uri().scheme().is_some() {
        return pipeline::plain::handle(state, client, identity, device_facts, req).await;
    }
    let record = AccessRecord::start(
        client,
        req.method().as_str(),
        "http",
        "",
        0,
        req.uri().path(),
        Mode::Plain,
    );
    let pending = PendingRecord::new(state, record);
    let html = crate::error_page::wants_html(req.headers());
    Ok(refuse(
        pending,
        400,
        "bad request",
        "this is a forward proxy: send CONNECT host:port or an absolute-form http:// request",
        html,
    ))
}

/// Answers 407 (credentials needed) or 429 (too many failures), recorded.
fn refuse_admission(
    state: &Arc<ProxyState>,
    client: SocketAddr,
    req: &Request<Incoming>,
    admission: &Admission,
) -> Response<ProxyBody> {
    let (host, port) = req
        .uri()
        .authority()
        .and_then(|a| split_authority(a.as_str()).map(|(h, p)| (h.to_owned(), p.unwrap_or(0))))
        .unwrap_or_default();
    let record = AccessRecord::start(
        client,
        req.method().as_str(),
        "http",
        &host,
        port,
        req.uri().path(),
        Mode::Plain,
    );
    let pending = PendingRecord::new(state.clone(), record);
    let html = crate::error_page::wants_html(req.headers());
    match admission {
        Admission::Throttled => refuse(
            pending,
            429,
            "too many failed authentications",
            "wait a minute before trying again",
            html,
        ),
        _ => {
            let mut response = refuse(
                pending,
                407,
                "proxy authentication required",
                "sign in to the proxy with your organisation account",
                html,
            );
            if let Ok(v) = http::HeaderValue::from_str(&state.auth.challenge()) {
                response
                    .headers_mut()
                    .insert(http::header::PROXY_AUTHENTICATE, v);
            }
            response
        }
    }
}

/// Answers a `CONNECT`: checks the target, connects to it, and on success
/// answers 200 and hands the upgraded connection to the tunnel.
/// The identity a device certificate names, when configured to count.
fn certificate_identity(state: &ProxyState, device: Option<&CertDevice>) -> Option<Arc<Identity>> {
    if !state.config.devices.certificate_user {
        return None;
    }
    let user = device?.user.clone()?;
    Some(Arc::new(Identity {
        user,
        groups: Vec::new(),
        method: "certificate",
    }))
}

async fn connect(
    state: Arc<ProxyState>,
    client: SocketAddr,
    identity: Option<Arc<Identity>>,
    device: policy::context::Device,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let target = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    let parsed = split_authority(&target).and_then(|(h, p)| Some((h.to_owned(), p?)));
    let (host, port) = parsed.clone().unwrap_or_default();
    let mut record = AccessRecord::start(client, "CONNECT", "https", &host, port, "", Mode::Tunnel);
    record.user = identity.as_ref().map(|i| i.user.clone());
    let mut pending = PendingRecord::new(state.clone(), record);
    let html = crate::error_page::wants_html(req.headers());
    if parsed.is_none()
        || !crate::hostmatch::is_valid_pattern(&host)
        || host.starts_with('*')
        || host.starts_with('.')
    {
        return refuse(
            pending,
            400,
            "bad request",
            "CONNECT needs a target of the form host:port",
            html,
        );
    }
    if !state.config.upstream.connect_ports.contains(&port) {
        let detail = format!("CONNECT to port {port} is not allowed (upstream.connect_ports)");
        return refuse(pending, 403, "port not allowed", &detail, html);
    }
    let addrs = match state.resolver.resolve(&host).await {
        Ok(addrs) => addrs,
        Err(e) => {
            let status = crate::upstream::ConnectError::from(e).status();
            let detail = format!("cannot reach {host}");
            return refuse(
                pending,
                status,
                pipeline::status_reason(status),
                &detail,
                html,
            );
        }
    };
    let context = state.inspect.connection_context(
        &host,
        identity.as_deref(),
        device,
        client.ip(),
        addrs.first().copied(),
    );
    let decision = state.inspect.policy.evaluate(&context, Phase::Connect);
    let tunnel_action = match decision.tunnel {
        PolicyTunnel::Block => "block",
        PolicyTunnel::Bypass => "bypass",
        PolicyTunnel::Intercept => "intercept",
    };
    state.metrics.decision("connect", tunnel_action);
    let decided = match decision.tunnel {
        PolicyTunnel::Block => Decided::Block(decision),
        PolicyTunnel::Bypass => Decided::Bypass,
        PolicyTunnel::Intercept => Decided::Intercept,
    };
    let upstream = if matches!(decided, Decided::Block(_)) {
        None
    } else {
        let timeout = state.config.upstream.connect_timeout;
        match connect_addrs(&host, port, &addrs, timeout).await {
            Ok((tcp, _)) => Some(tcp),
            Err(e) => {
                let status = e.status();
                return refuse(
                    pending,
                    status,
                    pipeline::status_reason(status),
                    &e.to_string(),
                    html,
                );
            }
        }
    };
    // The tunnel writes its own records.
    pending.set_status(200);
    pending.discard();
    let tunnel_state = state.clone();
    state.tasks.spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let tunnel = Connected {
                    client,
                    identity,
                    host,
                    port,
                    upstream,
                    context,
                    decided,
                    listener: crate::records::Listener::Explicit,
                    may_bypass: true,
                };
                intercept::run(tunnel_state, TokioIo::new(upgraded), tunnel).await;
            }
            Err(e) => tracing::debug!(client = %client, error = %e, "CONNECT upgrade failed"),
        }
    });
    Response::new(empty())
}
