//! The explicit forward proxy listener: `CONNECT host:port` tunnels and
//! absolute-form plain-HTTP requests, over HTTP/1.1 — and, on the
//! HTTPS-proxy listener, over HTTP/2 when the client negotiates `h2`
//! (RFC 9113 §8.5: each `CONNECT` stream is its own tunnel). Both protocol
//! versions hand every request to [`proxy_request`]: one admission, one
//! CONNECT path, one plain-HTTP path.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::auth::{Admission, Identity};
use crate::device::CertDevice;
use crate::pipeline::body::ProxyBody;
use crate::pipeline::headers::split_authority;
use crate::pipeline::record::PendingRecord;
use crate::pipeline::{self, refuse};
use crate::records::{AccessRecord, Mode, ProxyProtocol};
use crate::state::ProxyState;

use super::idle::{OpenStreams, StreamGuard};

/// One client connection as each request on it sees it.
#[derive(Debug, Clone)]
pub struct ClientConn {
    /// The client's address.
    pub peer: SocketAddr,
    /// The device its TLS client certificate names (HTTPS-proxy listener).
    pub device: Option<Arc<CertDevice>>,
    /// The protocol it speaks to the proxy.
    pub protocol: ProxyProtocol,
    /// Requests and tunnels open on a multiplexed (HTTP/2) connection,
    /// counted so an idle one can be closed.
    pub open_streams: Option<OpenStreams>,
    /// Its place under `limits.max_connections`; tunnels keep a clone.
    pub slot: super::accept::ConnectionSlot,
}

impl ClientConn {
    /// Counts a request or tunnel as open on a multiplexed connection
    /// until the guard is dropped.
    pub fn stream_guard(&self) -> Option<StreamGuard> {
        self.open_streams.as_ref().map(OpenStreams::enter)
    }
}

/// Accepts clients on `listener` until shutdown, at most
/// `limits.max_connections` at once.
pub async fn serve(state: Arc<ProxyState>, listener: TcpListener) {
    serve_with(state, listener, None).await;
}

/// Like [`serve`]; with `tls`, the proxy protocol is spoken inside TLS (the
/// HTTPS-proxy listener), a device certificate identifies the device, and a
/// client that negotiates ALPN `h2` is served HTTP/2.
pub async fn serve_with(state: Arc<ProxyState>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    let label = if tls.is_some() { "https" } else { "explicit" };
    super::accept::accept_loop(state, listener, label, move |state, stream, peer, slot| {
        serve_connection(state, stream, peer, slot, tls.clone())
    })
    .await;
}

/// Serves one accepted connection: the proxy protocol in the clear, or
/// inside TLS (HTTP/1.1 or HTTP/2 by ALPN) on the HTTPS-proxy listener.
async fn serve_connection(
    state: Arc<ProxyState>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    slot: super::accept::ConnectionSlot,
    tls: Option<TlsAcceptor>,
) {
    match tls {
        None => {
            let conn = ClientConn {
                peer,
                device: None,
                protocol: ProxyProtocol::Http1,
                open_streams: None,
                slot,
            };
            serve_client(state.clone(), stream, conn).await
        }
        Some(acceptor) => {
            let timeout = state.config.limits.client_handshake_timeout;
            match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let session = tls.get_ref().1;
                    let device = session
                        .peer_certificates()
                        .and_then(|certs| certs.first())
                        .and_then(|c| crate::device::device_from_certificate(c))
                        .map(Arc::new);
                    let h2 = session.alpn_protocol() == Some(b"h2".as_slice());
                    let protocol = if h2 {
                        ProxyProtocol::Http2
                    } else {
                        ProxyProtocol::Http1
                    };
                    let conn = ClientConn {
                        peer,
                        device,
                        protocol,
                        open_streams: h2.then(OpenStreams::default),
                        slot,
                    };
                    if h2 {
                        super::h2::serve_client(state.clone(), tls, conn).await;
                    } else {
                        serve_client(state.clone(), tls, conn).await;
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!(client = %peer, error = %e, "HTTPS-proxy handshake failed")
                }
                Err(_) => tracing::debug!(client = %peer, "HTTPS-proxy handshake timed out"),
            }
        }
    }
}

/// Serves the proxy protocol over HTTP/1.1 (CONNECT and absolute-form
/// requests) on one client connection — plain TCP, or TLS on the
/// HTTPS-proxy listener.
pub async fn serve_client<IO>(state: Arc<ProxyState>, stream: IO, conn: ClientConn)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let peer = conn.peer;
    let conn = Arc::new(conn);
    let svc_state = state.clone();
    let service = service_fn(move |req| proxy_request(svc_state.clone(), conn.clone(), req));
    let result = crate::http1_server::serve(&state, TokioIo::new(stream), service).await;
    if let Err(e) = result {
        tracing::debug!(client = %peer, error = %e, "client connection ended with an error");
    }
}

/// Dispatches one request received on the explicit or HTTPS-proxy listener,
/// whichever HTTP version carried it: admission, then `CONNECT`, an
/// absolute-form plain-HTTP request, or a 400.
pub async fn proxy_request(
    state: Arc<ProxyState>,
    conn: Arc<ClientConn>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let _in_flight = conn.stream_guard();
    let client = conn.peer;
    let identity = match state.auth.admit(client.ip(), req.headers()).await {
        Admission::Admit(identity) => {
            identity.or_else(|| certificate_identity(&state, conn.device.as_deref()))
        }
        refused => return Ok(refuse_admission(&state, &conn, &req, &refused)),
    };
    let device_facts = crate::device::device_facts(
        &state.posture,
        &state.config.devices,
        conn.device.as_deref(),
    );
    if req.method() == Method::CONNECT {
        return Ok(super::connect::connect(state, &conn, identity, device_facts, req).await);
    }
    if req.uri().scheme().is_some() {
        return pipeline::plain::handle(state, client, conn.protocol, identity, device_facts, req)
            .await;
    }
    let mut record = AccessRecord::start(
        client,
        req.method().as_str(),
        "http",
        "",
        0,
        req.uri().path(),
        Mode::Plain,
    );
    record.proxy_protocol = Some(conn.protocol);
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
    conn: &ClientConn,
    req: &Request<Incoming>,
    admission: &Admission,
) -> Response<ProxyBody> {
    let (host, port) = req
        .uri()
        .authority()
        .and_then(|a| split_authority(a.as_str()).map(|(h, p)| (h.to_owned(), p.unwrap_or(0))))
        .unwrap_or_default();
    let mut record = AccessRecord::start(
        conn.peer,
        req.method().as_str(),
        "http",
        &host,
        port,
        req.uri().path(),
        Mode::Plain,
    );
    record.proxy_protocol = Some(conn.protocol);
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
