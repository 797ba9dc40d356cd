//! Clients: reqwest through the proxy, the system curl, and raw tunnels
//! (CONNECT by hand, then rustls and hyper or tungstenite on top).

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::combinators::BoxBody;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::proxy::TestProxy;

/// Body type of raw hyper clients.
pub type ClientBody = BoxBody<bytes::Bytes, std::convert::Infallible>;

/// A rustls client config trusting only `root`, offering `alpn`.
pub fn tls_config(root: CertificateDer<'static>, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    tls_config_with(certs::provider(), root, alpn)
}

/// The process's crypto provider offering only `groups`, in that order
/// (a classical-only client, or a hybrid-only one).
pub fn provider_offering(groups: &[rustls::NamedGroup]) -> Arc<rustls::crypto::CryptoProvider> {
    let mut provider = (*certs::provider()).clone();
    provider.kx_groups = crate::origin::kx_groups(groups);
    Arc::new(provider)
}

/// [`tls_config`] with another crypto provider (other key-exchange groups,
/// say).
pub fn tls_config_with(
    provider: Arc<rustls::crypto::CryptoProvider>,
    root: CertificateDer<'static>,
    alpn: &[&[u8]],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(root).expect("root");
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    Arc::new(config)
}

/// reqwest through `proxy`, trusting only the proxy's CA; `h2` offers
/// [h2, http/1.1], otherwise http/1.1 only.
pub fn reqwest_client(proxy: &TestProxy, h2: bool) -> reqwest::Client {
    let alpn: &[&[u8]] = if h2 {
        &[b"h2", b"http/1.1"]
    } else {
        &[b"http/1.1"]
    };
    let tls = (*tls_config(proxy.ca_der(), alpn)).clone();
    let mut builder = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(proxy.url()).expect("proxy"))
        .use_preconfigured_tls(tls);
    if !h2 {
        builder = builder.http1_only();
    }
    builder.build().expect("client")
}

/// Sends `CONNECT host:port` to the proxy; returns the response head and the stream.
pub async fn connect(proxy: SocketAddr, target: &str) -> (String, TcpStream) {
    let mut tcp = TcpStream::connect(proxy).await.expect("connect proxy");
    tcp.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let head = read_head(&mut tcp).await;
    (head, tcp)
}

/// Reads an HTTP response head byte by byte (so nothing after it is consumed).
pub async fn read_head<S: tokio::io::AsyncRead + Unpin>(tcp: &mut S) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tcp.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Opens an intercepted tunnel to `host:port` and completes TLS with `sni`,
/// trusting `root` and offering `alpn`.
pub async fn tls_tunnel(
    proxy: SocketAddr,
    host: &str,
    port: u16,
    sni: &str,
    root: CertificateDer<'static>,
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    tls_tunnel_with(proxy, host, port, sni, tls_config(root, alpn)).await
}

/// [`tls_tunnel`] with a client configuration of the caller's (its own
/// key-exchange groups, or one ticket store shared by several tunnels).
pub async fn tls_tunnel_with(
    proxy: SocketAddr,
    host: &str,
    port: u16,
    sni: &str,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let (head, tcp) = connect(proxy, &format!("{host}:{port}")).await;
    assert!(head.starts_with("HTTP/1.1 200"), "CONNECT answered {head}");
    let name = ServerName::try_from(sni.to_owned()).expect("name");
    TlsConnector::from(config).connect(name, tcp).await
}

/// An HTTP/2 client over an established TLS stream.
pub async fn h2_client(tls: TlsStream<TcpStream>) -> http2::SendRequest<ClientBody> {
    let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
        .await
        .expect("h2 handshake");
    tokio::spawn(conn);
    sender
}

/// An HTTP/1.1 client over an established TLS stream.
pub async fn h1_client(tls: TlsStream<TcpStream>) -> http1::SendRequest<ClientBody> {
    let (sender, conn) = http1::handshake(TokioIo::new(tls))
        .await
        .expect("h1 handshake");
    tokio::spawn(conn.with_upgrades());
    sender
}

/// The system curl through `proxy`, trusting the proxy's CA; fails the test
/// with a clear message when curl is missing (`.ci/run` installs it).
pub fn curl(proxy: &TestProxy) -> std::process::Command {
    let ca = proxy.ca_pem_path();
    let mut cmd = std::process::Command::new("curl");
    cmd.arg("--silent")
        .arg("--show-error")
        .arg("--proxy")
        .arg(proxy.url())
        .arg("--cacert")
        .arg(ca)
        .arg("--max-time")
        .arg("60");
    cmd
}

/// Runs a command built by [`curl`] off the runtime and returns its output.
pub async fn run(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        cmd.output()
            .expect("the system curl is required for these tests (apt-get install curl)")
    })
    .await
    .expect("join")
}
