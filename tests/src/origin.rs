//! A real origin on loopback: TLS (or plain) HTTP/1.1 and HTTP/2 with a few
//! routes, recording what reached it so tests can check, at the origin,
//! exactly which bytes arrived.
//!
//! Routes: `GET /bytes/N` (N deterministic bytes), `POST /echo` (streams the
//! body back, chunked), `POST /reply` (reads the whole body, then sends it back
//! with a `Content-Length`, as most API servers answer), `POST /sha256` (JSON with length, hash and request trailers),
//! `GET /trailers` (a body followed by trailers), `GET /alt-svc` (advertises
//! HTTP/3 and HTTP/2 alternatives), `GET /ws` (WebSocket echo),
//! anything else: a short text naming the origin.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::server::Acceptor;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::LazyConfigAcceptor;

use crate::pki::{OriginCert, TestPki};

type Body = BoxBody<Bytes, hyper::Error>;

/// How to build an origin.
#[derive(Debug, Clone)]
pub struct OriginOptions {
    /// The name clients use (resolved to the loopback address via `upstream.resolve`).
    pub name: String,
    /// Which certificate it presents.
    pub cert: OriginCert,
    /// ALPN protocols it accepts, in preference order.
    pub alpn: Vec<Vec<u8>>,
    /// Hold every handshake after the ClientHello until [`Origin::open_gate`].
    pub gated: bool,
    /// Serve plain HTTP instead of TLS.
    pub plain: bool,
    /// Listen on `[::1]` instead of 127.0.0.1.
    pub ipv6: bool,
    /// Also serve HTTP/3 on the same port number (UDP).
    pub h3: bool,
    /// Listen on this address instead (a network namespace's own address).
    pub bind: Option<SocketAddr>,
    /// Accept only these key-exchange groups (default: the process's).
    pub kx_groups: Option<Vec<rustls::NamedGroup>>,
}

impl OriginOptions {
    /// A valid TLS origin speaking h2 and http/1.1.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            cert: OriginCert::Valid,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            gated: false,
            plain: false,
            ipv6: false,
            h3: false,
            bind: None,
            kx_groups: None,
        }
    }
}

/// One request as the origin saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// HTTP version.
    pub version: http::Version,
    /// Request headers.
    pub headers: HeaderMap,
}

/// What the origin observed.
#[derive(Debug, Default)]
pub struct OriginStats {
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// TLS handshakes completed.
    pub handshakes: AtomicU64,
    /// Request body bytes received, over all requests.
    pub body_bytes: AtomicU64,
    /// Requests received.
    pub seen: Mutex<Vec<Seen>>,
    /// WebSocket messages received.
    pub ws_messages: AtomicU64,
}

/// A running origin.
pub struct Origin {
    /// Its loopback address.
    pub addr: SocketAddr,
    /// Its name.
    pub name: String,
    /// What it observed.
    pub stats: Arc<OriginStats>,
    gate: Arc<Semaphore>,
    hellos: tokio::sync::Mutex<mpsc::UnboundedReceiver<()>>,
}

impl Origin {
    /// Starts an origin on 127.0.0.1 with an ephemeral port.
    pub async fn start(pki: &TestPki, options: OriginOptions) -> Self {
        let bind = if options.ipv6 {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        };
        let listener = match options.bind {
            Some(addr) => TcpListener::bind(addr).await,
            None => TcpListener::bind(bind).await,
        }
        .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stats = Arc::new(OriginStats::default());
        let gate = Arc::new(Semaphore::new(if options.gated {
            0
        } else {
            Semaphore::MAX_PERMITS
        }));
        let (hello_tx, hello_rx) = mpsc::unbounded_channel();
        let tls = (!options.plain).then(|| {
            let mut provider = (*certs::provider()).clone();
            if let Some(groups) = &options.kx_groups {
                provider.kx_groups = kx_groups(groups);
            }
            let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_cert_resolver(Arc::new(certs::FixedLeaf(
                    pki.origin_cert(&options.name, options.cert),
                )));
            config.alpn_protocols = options.alpn.clone();
            Arc::new(config)
        });
        if options.h3 {
            crate::h3origin::spawn(
                addr,
                pki.origin_cert(&options.name, options.cert),
                stats.clone(),
            );
        }
        let (task_stats, task_gate) = (stats.clone(), gate.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                task_stats.connections.fetch_add(1, Ordering::SeqCst);
                // As real origins do (nginx's tcp_nodelay): without it the
                // handshake's second flight waits for a delayed ACK.
                let _ = tcp.set_nodelay(true);
                let (stats, gate, hello_tx, tls) = (
                    task_stats.clone(),
                    task_gate.clone(),
                    hello_tx.clone(),
                    tls.clone(),
                );
                tokio::spawn(async move {
                    match tls {
                        None => serve(TokioIo::new(tcp), stats).await,
                        Some(config) => {
                            let Ok(start) = LazyConfigAcceptor::new(Acceptor::default(), tcp).await
                            else {
                                return;
                            };
                            let _ = hello_tx.send(());
                            let Ok(permit) = gate.acquire().await else {
                                return;
                            };
                            permit.forget();
                            let Ok(stream) = start.into_stream(config).await else {
                                return;
                            };
                            stats.handshakes.fetch_add(1, Ordering::SeqCst);
                            serve(TokioIo::new(stream), stats).await;
                        }
                    }
                });
            }
        });
        Self {
            addr,
            name: options.name,
            stats,
            gate,
            hellos: tokio::sync::Mutex::new(hello_rx),
        }
    }

    /// Waits until a ClientHello has reached the origin.
    pub async fn hello_received(&self) {
        self.hellos.lock().await.recv().await;
    }

    /// Lets held handshakes proceed (and every later one).
    pub fn open_gate(&self) {
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    /// Port of the origin.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.stats.seen.lock().expect("lock").clone()
    }
}

async fn serve<IO>(io: TokioIo<IO>, stats: Arc<OriginStats>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| route(req, stats.clone()));
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection_with_upgrades(io, service)
        .await;
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|n| match n {}).boxed()
}

async fn route(
    mut req: Request<Incoming>,
    stats: Arc<OriginStats>,
) -> Result<Response<Body>, Infallible> {
    stats.seen.lock().expect("lock").push(Seen {
        method: req.method().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map_or("/".into(), |p| p.to_string()),
        version: req.version(),
        headers: req.headers().clone(),
    });
    let path = req.uri().path().to_owned();
    if let Some(n) = path.strip_prefix("/bytes/") {
        let n: usize = n.parse().unwrap_or(0);
        return Ok(Response::new(full(crate::pattern(n))));
    }
    if path == "/leak" {
        let query = req.uri().query().unwrap_or("");
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .and_then(|v| v.parse::<usize>().ok())
        };
        return Ok(Response::new(leak_body(
            param("size").unwrap_or(0),
            param("at").unwrap_or(0),
        )));
    }
    match path.as_str() {
        "/attachment" => {
            let mut r = Response::new(full(Bytes::from_static(
                b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
            )));
            r.headers_mut().insert(
                "content-disposition",
                "attachment; filename=\"report.pdf\""
                    .parse()
                    .expect("value"),
            );
            r.headers_mut()
                .insert("content-type", "application/pdf".parse().expect("value"));
            Ok(r)
        }
        "/page" => {
            let mut r = Response::new(full("<!doctype html><html><body>hello</body></html>"));
            r.headers_mut()
                .insert("content-type", "text/html".parse().expect("value"));
            Ok(r)
        }
        "/echo" => {
            let stats = stats.clone();
            let body = req.into_body().map_frame(move |f| {
                if let Some(d) = f.data_ref() {
                    stats.body_bytes.fetch_add(d.len() as u64, Ordering::SeqCst);
                }
                f
            });
            Ok(Response::new(body.boxed()))
        }
        "/reply" => {
            let bytes = match req.into_body().collect().await {
                Ok(c) => c.to_bytes(),
                Err(e) => return Ok(text(StatusCode::BAD_REQUEST, format!("body error: {e}"))),
            };
            stats
                .body_bytes
                .fetch_add(bytes.len() as u64, Ordering::SeqCst);
            Ok(Response::new(
                Full::new(bytes).map_err(|never| match never {}).boxed(),
            ))
        }
        "/sha256" => {
            let collected = match req.into_body().collect().await {
                Ok(c) => c,
                Err(e) => return Ok(text(StatusCode::BAD_REQUEST, format!("body error: {e}"))),
            };
            let trailers = collected.trailers().cloned();
            let bytes = collected.to_bytes();
            stats
                .body_bytes
                .fetch_add(bytes.len() as u64, Ordering::SeqCst);
            let trailers: serde_json::Map<String, serde_json::Value> = trailers
                .iter()
                .flat_map(|t| t.iter())
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
                .collect();
            let json = serde_json::json!({
                "len": bytes.len(),
                "sha256": crate::sha256_hex(&bytes),
                "trailers": trailers,
            });
            Ok(text(StatusCode::OK, json.to_string()))
        }
        "/trailers" => {
            let mut trailers = HeaderMap::new();
            trailers.insert("x-checksum", "abc123".parse().expect("value"));
            let frames: Vec<Result<Frame<Bytes>, hyper::Error>> = vec![
                Ok(Frame::data(Bytes::from_static(b"body before trailers"))),
                Ok(Frame::trailers(trailers)),
            ];
            let body = StreamBody::new(futures_util::stream::iter(frames));
            let mut r = Response::new(BodyExt::boxed(body));
            // HTTP/1.1 sends only the trailer fields the head declares.
            r.headers_mut()
                .insert("trailer", "x-checksum".parse().expect("value"));
            Ok(r)
        }
        "/alt-svc" => {
            // Advertises HTTP/3 (twice, in two fields) beside an HTTP/2 alternative.
            let mut r = text(StatusCode::OK, "alternatives advertised".into());
            r.headers_mut().append(
                "alt-svc",
                r#"h3=":443"; ma=86400, h2=":443"; ma=60"#.parse().expect("value"),
            );
            r.headers_mut()
                .append("alt-svc", r#"h3-29=":443""#.parse().expect("value"));
            Ok(r)
        }
        "/ws" => Ok(websocket(&mut req, stats.clone())),
        _ => Ok(text(
            StatusCode::OK,
            format!("origin {} {}", req.method(), path),
        )),
    }
}

/// The AWS secret value planted by `/leak` (the built-in pack's example).
pub const PLANTED_AWS_SECRET: &str = "sf2rcDkdfrUnW5gcF/Ha6ili8GjHEAD6+Wj9Kfzj";

/// `size` bytes of log-like text with [`PLANTED_AWS_SECRET`] at offset `at`
/// (if it fits), streamed in 64 KiB chunks.
fn leak_body(size: usize, at: usize) -> Body {
    const LINE: &[u8] = b"2026-11-23T08:00:00Z INFO request served path=/index.html status=200\n";
    let chunk = 64 * 1024;
    let stream = futures_util::stream::unfold(0usize, move |offset| async move {
        if offset >= size {
            return None;
        }
        let len = chunk.min(size - offset);
        let mut buf: Vec<u8> = (offset..offset + len)
            .map(|i| LINE[i % LINE.len()])
            .collect();
        let planted = format!("\naws_secret_access_key = {PLANTED_AWS_SECRET}\n");
        let secret = planted.as_bytes();
        for (i, b) in secret.iter().enumerate() {
            let pos = at + i;
            if pos >= offset && pos < offset + len && at + secret.len() <= size {
                buf[pos - offset] = *b;
            }
        }
        Some((
            Ok::<_, hyper::Error>(Frame::data(Bytes::from(buf))),
            offset + len,
        ))
    });
    BodyExt::boxed(StreamBody::new(stream))
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r
}

fn websocket(req: &mut Request<Incoming>, stats: Arc<OriginStats>) -> Response<Body> {
    // Agree to permessage-deflate when asked (only uncompressed messages are
    // sent to this origin by the tests; compressed ones must never arrive).
    let deflate = req
        .headers()
        .get("sec-websocket-extensions")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("permessage-deflate"));
    let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
        return text(StatusCode::BAD_REQUEST, "not a websocket request".into());
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            tokio_tungstenite::tungstenite::protocol::Role::Server,
            None,
        )
        .await;
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                break;
            }
            stats.ws_messages.fetch_add(1, Ordering::SeqCst);
            if ws.send(msg).await.is_err() {
                break;
            }
        }
    });
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert("connection", "upgrade".parse().expect("value"));
    h.insert("upgrade", "websocket".parse().expect("value"));
    h.insert("sec-websocket-accept", accept.parse().expect("value"));
    if deflate {
        h.insert(
            "sec-websocket-extensions",
            "permessage-deflate".parse().expect("value"),
        );
    }
    r
}

/// The key-exchange groups named in `groups`, in that order, from
/// everything aws-lc-rs offers (not only what the proxy's provider enables).
pub fn kx_groups(
    groups: &[rustls::NamedGroup],
) -> Vec<&'static dyn rustls::crypto::SupportedKxGroup> {
    groups
        .iter()
        .map(|name| {
            rustls::crypto::aws_lc_rs::ALL_KX_GROUPS
                .iter()
                .copied()
                .find(|g| g.name() == *name)
                .unwrap_or_else(|| panic!("aws-lc-rs has no group {name:?}"))
        })
        .collect()
}
