//! A client of the HTTPS-proxy listener speaking HTTP/2 (hyper over the
//! `h2` crate): TLS with ALPN `h2` to the proxy, each `CONNECT` a stream of
//! that one connection (RFC 9113 §8.5), TLS and a request inside a tunnel.

use std::future::Future;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::{http1, http2};
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis::config::Listen;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use x509_parser::prelude::*;

use crate::client::{tls_config, ClientBody};
use crate::{Origin, TestPki, TestProxy};

/// A refused CONNECT: status, headers and body of the stream's response.
pub type Refusal = (StatusCode, HeaderMap, Bytes);

/// A proxy with the HTTPS-proxy listener on, changed by `adjust`.
pub async fn https_proxy(
    pki: &TestPki,
    origins: &[&Origin],
    adjust: impl FnOnce(&mut portcullis::config::Config),
) -> TestProxy {
    let mut config = TestProxy::config(pki, origins);
    config.https_proxy.listen = Listen::On("127.0.0.1:0".parse().expect("addr"));
    adjust(&mut config);
    TestProxy::start(config).await
}

/// TLS to the HTTPS-proxy listener offering `alpn`; returns the stream and
/// the protocol the proxy selected.
pub async fn tls_to_proxy(
    proxy: &TestProxy,
    alpn: &[&[u8]],
) -> (tokio_rustls::client::TlsStream<TcpStream>, Option<Vec<u8>>) {
    let tcp = TcpStream::connect(proxy.server.https_addr.expect("https listener"))
        .await
        .expect("tcp");
    let tls = TlsConnector::from(tls_config(proxy.ca_der(), alpn))
        .connect(ServerName::try_from("portcullis.local").expect("name"), tcp)
        .await
        .expect("TLS to the proxy");
    let selected = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    (tls, selected)
}

/// What the proxy's SETTINGS told the client: the concurrent streams it
/// may open, and whether extended CONNECT (RFC 8441) is enabled.
pub type PeerSettings = tokio::sync::watch::Receiver<(usize, bool)>;

/// One HTTP/2 connection to the HTTPS-proxy listener (ALPN must select h2).
pub async fn h2_to_proxy(proxy: &TestProxy) -> http2::SendRequest<ClientBody> {
    h2_to_proxy_with_settings(proxy).await.0
}

/// Like [`h2_to_proxy`], also watching the proxy's SETTINGS.
pub async fn h2_to_proxy_with_settings(
    proxy: &TestProxy,
) -> (http2::SendRequest<ClientBody>, PeerSettings) {
    let (tls, selected) = tls_to_proxy(proxy, &[b"h2", b"http/1.1"]).await;
    assert_eq!(selected.as_deref(), Some(b"h2".as_slice()), "ALPN h2");
    let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
        .await
        .expect("h2 handshake with the proxy");
    let (settings_tx, settings) = tokio::sync::watch::channel((0, false));
    let mut conn = Box::pin(conn);
    tokio::spawn(std::future::poll_fn(move |cx| {
        let polled = conn.as_mut().poll(cx);
        settings_tx.send_replace((
            conn.current_max_send_streams(),
            conn.is_extended_connect_protocol_enabled(),
        ));
        polled
    }));
    (sender, settings)
}

/// Sends `CONNECT authority` as a stream; the tunnel on 200, else the refusal.
pub async fn connect_stream(
    sender: &mut http2::SendRequest<ClientBody>,
    authority: &str,
    proxy_authorization: Option<&str>,
) -> Result<TokioIo<Upgraded>, Refusal> {
    let mut req = Request::connect(authority);
    if let Some(value) = proxy_authorization {
        req = req.header(http::header::PROXY_AUTHORIZATION, value);
    }
    let req = req.body(Empty::<Bytes>::new().boxed()).expect("request");
    sender.ready().await.expect("connection usable");
    let resp = sender.send_request(req).await.expect("CONNECT answered");
    if resp.status() != StatusCode::OK {
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("refusal body").to_bytes();
        return Err((parts.status, parts.headers, body));
    }
    let upgraded = hyper::upgrade::on(resp).await.expect("tunnel stream");
    Ok(TokioIo::new(upgraded))
}

/// The refusal of a CONNECT that was expected to be refused.
pub fn refused(result: Result<TokioIo<Upgraded>, Refusal>) -> Refusal {
    match result {
        Ok(_) => panic!("the CONNECT was expected to be refused"),
        Err(refusal) => refusal,
    }
}

/// What came back from a request inside a tunnel.
pub struct Fetched {
    /// The response status.
    pub status: StatusCode,
    /// The whole response body.
    pub body: Bytes,
    /// The certificate the server inside the tunnel presented.
    pub leaf: CertificateDer<'static>,
    /// The ALPN negotiated inside the tunnel.
    pub alpn: Option<Vec<u8>>,
}

/// TLS inside `tunnel` (trusting only `root`, offering `alpn`), then `GET path`.
pub async fn fetch_in_tunnel(
    tunnel: TokioIo<Upgraded>,
    host: &str,
    port: u16,
    root: CertificateDer<'static>,
    alpn: &[u8],
    path: &str,
) -> Fetched {
    let tls = TlsConnector::from(tls_config(root, &[alpn]))
        .connect(ServerName::try_from(host.to_owned()).expect("name"), tunnel)
        .await
        .expect("TLS inside the tunnel");
    let leaf = tls.get_ref().1.peer_certificates().expect("certs")[0].clone();
    let negotiated = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let req = Request::get(path)
        .header("host", format!("{host}:{port}"))
        .body(Empty::<Bytes>::new().boxed())
        .expect("request");
    let resp = if negotiated.as_deref() == Some(b"h2".as_slice()) {
        let req = Request::get(format!("https://{host}:{port}{path}"))
            .body(Empty::<Bytes>::new().boxed())
            .expect("request");
        let (mut sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("inner h2");
        tokio::spawn(conn);
        sender.send_request(req).await.expect("inner response")
    } else {
        let (mut sender, conn) = http1::handshake(TokioIo::new(tls)).await.expect("inner h1");
        tokio::spawn(conn);
        sender.send_request(req).await.expect("inner response")
    };
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("inner body")
        .to_bytes();
    Fetched {
        status,
        body,
        leaf,
        alpn: negotiated,
    }
}

/// The issuer's distinguished name of `der`.
pub fn issuer(der: &CertificateDer<'_>) -> String {
    let (_, cert) = X509Certificate::from_der(der).expect("leaf");
    cert.issuer().to_string()
}

/// The `error` field of a proxy-made JSON error body.
pub fn refusal_error(body: &Bytes) -> String {
    let json: serde_json::Value = serde_json::from_slice(body).expect("JSON error body");
    json["error"].as_str().unwrap_or_default().to_owned()
}
