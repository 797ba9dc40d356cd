//! HTTP/2 CONNECT (RFC 9113 §8.5) on the HTTPS-proxy listener: a Rust
//! HTTP/2 client (hyper over the `h2` crate) speaks TLS with ALPN `h2` to
//! the proxy and opens several tunnels as streams of that one connection;
//! each goes through the same admission, CONNECT checks, connect-time policy
//! and interception as an HTTP/1.1 CONNECT.

use std::future::Future;

use bytes::Bytes;
use futures_util::future::join_all;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::{http1, http2};
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis::config::Listen;
use portcullis_tests::client::{tls_config, ClientBody};
use portcullis_tests::{pattern, Origin, OriginOptions, TestPki, TestProxy};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use x509_parser::prelude::*;

/// A refused CONNECT: status, headers and body of the stream's response.
type Refusal = (StatusCode, HeaderMap, Bytes);

/// A proxy with the HTTPS-proxy listener on, changed by `adjust`.
async fn https_proxy(
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
async fn tls_to_proxy(
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
type PeerSettings = tokio::sync::watch::Receiver<(usize, bool)>;

/// One HTTP/2 connection to the HTTPS-proxy listener (ALPN must select h2).
async fn h2_to_proxy(proxy: &TestProxy) -> http2::SendRequest<ClientBody> {
    h2_to_proxy_with_settings(proxy).await.0
}

/// Like [`h2_to_proxy`], also watching the proxy's SETTINGS.
async fn h2_to_proxy_with_settings(
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
async fn connect_stream(
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
fn refused(result: Result<TokioIo<Upgraded>, Refusal>) -> Refusal {
    match result {
        Ok(_) => panic!("the CONNECT was expected to be refused"),
        Err(refusal) => refusal,
    }
}

/// What came back from a request inside a tunnel.
struct Fetched {
    status: StatusCode,
    body: Bytes,
    leaf: CertificateDer<'static>,
    alpn: Option<Vec<u8>>,
}

/// TLS inside `tunnel` (trusting only `root`, offering `alpn`), then `GET path`.
async fn fetch_in_tunnel(
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

fn issuer(der: &CertificateDer<'_>) -> String {
    let (_, cert) = X509Certificate::from_der(der).expect("leaf");
    cert.issuer().to_string()
}

fn refusal_error(body: &Bytes) -> String {
    let json: serde_json::Value = serde_json::from_slice(body).expect("JSON error body");
    json["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn several_tunnels_share_one_h2_connection_and_are_intercepted() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("crm.test")).await;
    let proxy = https_proxy(&pki, &[&origin], |c| {
        c.http2.max_concurrent_streams = 7;
    })
    .await;
    let (mut sender, settings) = h2_to_proxy_with_settings(&proxy).await;

    // Open every tunnel first, so all of them are open streams of the one
    // connection at once; then run TLS and a request in each concurrently.
    let mut tunnels = Vec::new();
    for _ in 0..3 {
        let authority = format!("crm.test:{}", origin.port());
        let tunnel = connect_stream(&mut sender, &authority, None)
            .await
            .unwrap_or_else(|(status, _, body)| panic!("CONNECT refused: {status} {body:?}"));
        tunnels.push(tunnel);
    }
    // The limits the proxy advertised are the configured ones, and extended
    // CONNECT (RFC 8441) is not offered.
    // (The SETTINGS frame arrived before the first response.)
    assert_eq!(*settings.borrow(), (7, false));

    let sizes = [150_001usize, 150_002, 150_003];
    let inner_alpn: [&[u8]; 3] = [b"h2", b"http/1.1", b"h2"];
    let fetches = tunnels.into_iter().enumerate().map(|(i, tunnel)| {
        let root = proxy.ca_der();
        let path = format!("/bytes/{}", sizes[i]);
        let port = origin.port();
        async move { fetch_in_tunnel(tunnel, "crm.test", port, root, inner_alpn[i], &path).await }
    });
    let fetched = join_all(fetches).await;
    for (i, f) in fetched.iter().enumerate() {
        assert_eq!(f.status, StatusCode::OK);
        assert!(
            f.body == pattern(sizes[i]).as_slice(),
            "tunnel {i}: the body differs from the origin's bytes"
        );
        assert!(
            issuer(&f.leaf).contains("Portcullis"),
            "tunnel {i}: the leaf is minted by the interception CA: {}",
            issuer(&f.leaf)
        );
        assert_eq!(f.alpn.as_deref(), Some(inner_alpn[i]));
    }
    for size in sizes {
        let path = format!("/bytes/{size}");
        let r = proxy.wait_record(|r| r["path"] == path.as_str()).await;
        assert_eq!(r["mode"], "intercepted", "{r}");
        assert_eq!(r["proxy_protocol"], "h2", "{r}");
        assert_eq!(r["status"], 200, "{r}");
        assert_eq!(r["bytes_out"], size as u64, "{r}");
        assert_eq!(r["method"], "GET", "{r}");
    }
    // All of it over one TCP connection to the HTTPS-proxy listener.
    let metrics = proxy.metrics().await;
    assert!(
        metrics.contains("portcullis_connections_total{listener=\"https\"} 1\n"),
        "{metrics}"
    );
    assert_eq!(
        origin
            .stats
            .handshakes
            .load(std::sync::atomic::Ordering::SeqCst),
        3,
        "one verified upstream session per tunnel"
    );
}

const POLICY: &str = r#"
version: 1
default: {action: allow}
rules:
  - id: block-casino
    when: {host: "casino.test"}
    action: block
    reason: Gambling sites are not allowed at work
"#;

#[tokio::test(flavor = "multi_thread")]
async fn refusals_answer_their_own_stream_and_the_connection_keeps_serving() {
    let pki = TestPki::new();
    let crm = Origin::start(&pki, OriginOptions::new("crm.test")).await;
    let casino = Origin::start(&pki, OriginOptions::new("casino.test")).await;
    let dir = tempfile::tempdir().expect("dir");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("write");
    let proxy = https_proxy(&pki, &[&crm, &casino], |c| c.policy.file = Some(policy)).await;
    let mut sender = h2_to_proxy(&proxy).await;

    // A bad :authority (no port) is a 400 on its stream.
    let (status, _, body) = refused(connect_stream(&mut sender, "crm.test", None).await);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refusal_error(&body), "bad request");
    let r = proxy
        .wait_record(|r| r["method"] == "CONNECT" && r["status"] == 400)
        .await;
    assert_eq!(r["proxy_protocol"], "h2", "{r}");

    // A port outside upstream.connect_ports: 403, destination never contacted.
    let (status, _, body) = refused(connect_stream(&mut sender, "crm.test:8443", None).await);
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refusal_error(&body), "port not allowed");

    // A destination the connect-time policy blocks: as on HTTP/1.1, the
    // tunnel opens and the block page is served inside a minted session;
    // the origin is never contacted.
    let tunnel = connect_stream(&mut sender, &format!("casino.test:{}", casino.port()), None)
        .await
        .unwrap_or_else(|(status, _, _)| panic!("CONNECT answered {status}"));
    let blocked = fetch_in_tunnel(
        tunnel,
        "casino.test",
        casino.port(),
        proxy.ca_der(),
        b"h2",
        "/",
    )
    .await;
    assert_eq!(blocked.status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&blocked.body).contains("Gambling sites"));
    assert_eq!(
        casino
            .stats
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    let r = proxy
        .wait_record(|r| r["host"] == "casino.test" && r["status"] == 403)
        .await;
    assert_eq!(r["action"], "block", "{r}");
    assert_eq!(r["rule"], "block-casino", "{r}");
    assert_eq!(r["proxy_protocol"], "h2", "{r}");

    // The same connection still opens working tunnels.
    let tunnel = connect_stream(&mut sender, &format!("crm.test:{}", crm.port()), None)
        .await
        .unwrap_or_else(|(status, _, _)| panic!("CONNECT answered {status}"));
    let ok = fetch_in_tunnel(
        tunnel,
        "crm.test",
        crm.port(),
        proxy.ca_der(),
        b"http/1.1",
        "/bytes/10",
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body == pattern(10).as_slice());
}

#[tokio::test(flavor = "multi_thread")]
async fn private_destinations_are_refused_on_h2_as_on_http1() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("private.test")).await;
    let proxy = https_proxy(&pki, &[&origin], |c| c.upstream.allow_private = false).await;
    let mut sender = h2_to_proxy(&proxy).await;
    for authority in [
        format!("private.test:{}", origin.port()),
        "169.254.169.254:443".to_owned(),
    ] {
        let (status, _, body) = refused(connect_stream(&mut sender, &authority, None).await);
        assert_eq!(status, StatusCode::FORBIDDEN, "{authority}");
        assert_eq!(
            refusal_error(&body),
            "destination not allowed",
            "{authority}"
        );
    }
    assert_eq!(
        origin
            .stats
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_authentication_is_asked_for_on_each_stream() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("origin.test")).await;
    let dir = tempfile::tempdir().expect("dir");
    let users = dir.path().join("users.toml");
    let hash = bcrypt::hash("correct horse", 4).expect("hash");
    std::fs::write(
        &users,
        format!("[[user]]\nname = \"alice\"\npassword = \"{hash}\"\n"),
    )
    .expect("write");
    let proxy = https_proxy(&pki, &[&origin], |c| {
        c.identity.require = true;
        c.identity.users_file = Some(users);
    })
    .await;
    let mut sender = h2_to_proxy(&proxy).await;
    let authority = format!("origin.test:{}", origin.port());

    let (status, headers, _) = refused(connect_stream(&mut sender, &authority, None).await);
    assert_eq!(status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    let challenge = headers
        .get(http::header::PROXY_AUTHENTICATE)
        .expect("challenge")
        .to_str()
        .expect("text");
    assert!(challenge.starts_with("Basic"), "{challenge}");
    let r = proxy.wait_record(|r| r["status"] == 407).await;
    assert_eq!(r["proxy_protocol"], "h2", "{r}");

    let (status, _, _) =
        refused(connect_stream(&mut sender, &authority, Some("Basic YWxpY2U6d3Jvbmc=")).await);
    assert_eq!(status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);

    // alice:correct horse
    let tunnel = connect_stream(
        &mut sender,
        &authority,
        Some("Basic YWxpY2U6Y29ycmVjdCBob3JzZQ=="),
    )
    .await
    .unwrap_or_else(|(status, _, _)| panic!("CONNECT answered {status}"));
    let f = fetch_in_tunnel(
        tunnel,
        "origin.test",
        origin.port(),
        proxy.ca_der(),
        b"h2",
        "/bytes/5",
    )
    .await;
    assert_eq!(f.status, StatusCode::OK);
    let r = proxy.wait_record(|r| r["path"] == "/bytes/5").await;
    assert_eq!(r["user"], "alice", "{r}");
    assert_eq!(r["proxy_protocol"], "h2", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_over_h2_is_relayed_and_https_urls_are_refused() {
    let pki = TestPki::new();
    let mut options = OriginOptions::new("plain.test");
    options.plain = true;
    let origin = Origin::start(&pki, options).await;
    let proxy = https_proxy(&pki, &[&origin], |_| {}).await;
    let mut sender = h2_to_proxy(&proxy).await;

    let url = format!("http://plain.test:{}/bytes/1000", origin.port());
    let resp = sender
        .send_request(
            Request::get(&url)
                .body(Empty::<Bytes>::new().boxed())
                .expect("req"),
        )
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert!(body == pattern(1000).as_slice());
    let r = proxy.wait_record(|r| r["path"] == "/bytes/1000").await;
    assert_eq!(r["mode"], "plain", "{r}");
    assert_eq!(r["proxy_protocol"], "h2", "{r}");
    let seen = origin.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].headers.get("host").map(|v| v.as_bytes()),
        Some(format!("plain.test:{}", origin.port()).as_bytes())
    );

    // :scheme https without CONNECT cannot be forwarded: a clear 400.
    let url = format!("https://plain.test:{}/", origin.port());
    let resp = sender
        .send_request(
            Request::get(&url)
                .body(Empty::<Bytes>::new().boxed())
                .expect("req"),
        )
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(origin.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn http1_clients_of_the_https_proxy_listener_are_recorded_as_such() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("crm.test")).await;
    let proxy = https_proxy(&pki, &[&origin], |_| {}).await;
    let (tls, selected) = tls_to_proxy(&proxy, &[b"http/1.1"]).await;
    assert_eq!(selected.as_deref(), Some(b"http/1.1".as_slice()));
    let (mut sender, conn) = http1::handshake(TokioIo::new(tls))
        .await
        .expect("h1 handshake");
    tokio::spawn(conn.with_upgrades());
    let authority = format!("crm.test:{}", origin.port());
    let resp = sender
        .send_request(
            Request::connect(authority.as_str())
                .header("host", authority.as_str())
                .body(Empty::<Bytes>::new().boxed())
                .expect("req"),
        )
        .await
        .expect("CONNECT answered");
    assert_eq!(resp.status(), StatusCode::OK);
    let tunnel = TokioIo::new(hyper::upgrade::on(resp).await.expect("upgrade"));
    let f = fetch_in_tunnel(
        tunnel,
        "crm.test",
        origin.port(),
        proxy.ca_der(),
        b"h2",
        "/bytes/77",
    )
    .await;
    assert_eq!(f.status, StatusCode::OK);
    assert!(f.body == pattern(77).as_slice());
    let r = proxy.wait_record(|r| r["path"] == "/bytes/77").await;
    assert_eq!(r["proxy_protocol"], "http/1.1", "{r}");
    assert_eq!(r["mode"], "intercepted", "{r}");
}

/// One HTTP/2 frame as read off the wire.
struct RawFrame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

async fn write_frame<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    kind: u8,
    flags: u8,
    stream: u32,
    payload: &[u8],
) {
    use tokio::io::AsyncWriteExt;
    let len = u32::try_from(payload.len())
        .expect("small frame")
        .to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame).await.expect("write frame");
}

async fn read_frame<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> RawFrame {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 9];
    r.read_exact(&mut head).await.expect("frame header");
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await.expect("frame payload");
    RawFrame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    }
}

/// An HPACK header block of literal fields without indexing or Huffman.
fn hpack_literals(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x00);
        block.push(u8::try_from(name.len()).expect("short name"));
        block.extend_from_slice(name.as_bytes());
        block.push(u8::try_from(value.len()).expect("short value"));
        block.extend_from_slice(value.as_bytes());
    }
    block
}

/// Reads frames (acknowledging SETTINGS) until one on `stream` arrives.
async fn next_frame_on<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    tls: &mut S,
    stream: u32,
    server_settings: &mut Vec<(u16, u32)>,
) -> RawFrame {
    loop {
        let frame = read_frame(tls).await;
        const SETTINGS: u8 = 4;
        const GOAWAY: u8 = 7;
        assert_ne!(frame.kind, GOAWAY, "the proxy closed the whole connection");
        if frame.kind == SETTINGS && frame.flags & 1 == 0 {
            for entry in frame.payload.chunks_exact(6) {
                server_settings.push((
                    u16::from_be_bytes([entry[0], entry[1]]),
                    u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]),
                ));
            }
            write_frame(tls, SETTINGS, 1, 0, &[]).await;
            continue;
        }
        if frame.stream == stream {
            return frame;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn extended_connect_is_not_offered_and_a_protocol_stream_is_reset_alone() {
    use tokio::io::AsyncWriteExt;
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("crm.test")).await;
    let proxy = https_proxy(&pki, &[&origin], |_| {}).await;
    let (mut tls, selected) = tls_to_proxy(&proxy, &[b"h2"]).await;
    assert_eq!(selected.as_deref(), Some(b"h2".as_slice()));
    let authority = format!("crm.test:{}", origin.port());
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("preface");
    const HEADERS: u8 = 1;
    const RST_STREAM: u8 = 3;
    const END_HEADERS: u8 = 4;
    write_frame(&mut tls, 4, 0, 0, &[]).await;
    // RFC 8441 extended CONNECT, which the proxy never enabled.
    let block = hpack_literals(&[
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/chat"),
        (":authority", &authority),
    ]);
    write_frame(&mut tls, HEADERS, END_HEADERS, 1, &block).await;
    let mut settings = Vec::new();
    let deadline = std::time::Duration::from_secs(10);
    let frame = tokio::time::timeout(deadline, next_frame_on(&mut tls, 1, &mut settings))
        .await
        .expect("an answer on stream 1");
    assert_eq!(frame.kind, RST_STREAM, "the :protocol stream is reset");
    assert_eq!(frame.payload, 1u32.to_be_bytes(), "with PROTOCOL_ERROR");
    const ENABLE_CONNECT_PROTOCOL: u16 = 8;
    assert!(
        !settings
            .iter()
            .any(|&(id, value)| id == ENABLE_CONNECT_PROTOCOL && value != 0),
        "extended CONNECT is not advertised: {settings:?}"
    );
    // The connection survives: a plain CONNECT on the next stream is answered.
    let block = hpack_literals(&[(":method", "CONNECT"), (":authority", &authority)]);
    write_frame(&mut tls, HEADERS, END_HEADERS, 3, &block).await;
    let frame = tokio::time::timeout(deadline, next_frame_on(&mut tls, 3, &mut settings))
        .await
        .expect("an answer on stream 3");
    assert_eq!(frame.kind, HEADERS);
    assert_eq!(
        frame.payload.first(),
        Some(&0x88),
        ":status 200 (HPACK static index 8)"
    );
}
