//! HTTP/2 CONNECT (RFC 9113 §8.5) on the HTTPS-proxy listener: a Rust
//! HTTP/2 client (hyper over the `h2` crate) speaks TLS with ALPN `h2` to
//! the proxy and opens several tunnels as streams of that one connection;
//! each goes through the same admission, CONNECT checks, connect-time policy
//! and interception as an HTTP/1.1 CONNECT.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use portcullis_tests::h2frames::{self, next_frame_on, write_frame};
use portcullis_tests::h2proxy::{
    connect_stream, fetch_in_tunnel, h2_to_proxy, h2_to_proxy_with_settings, https_proxy, issuer,
    refusal_error, refused, tls_to_proxy,
};
use portcullis_tests::{pattern, Origin, OriginOptions, TestPki};
use tokio::io::AsyncWriteExt;

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
        origin.stats.handshakes.load(Ordering::SeqCst),
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
    assert_eq!(casino.stats.connections.load(Ordering::SeqCst), 0);
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
    assert_eq!(origin.stats.connections.load(Ordering::SeqCst), 0);
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

#[tokio::test(flavor = "multi_thread")]
async fn extended_connect_is_not_offered_and_a_protocol_stream_is_reset_alone() {
    use h2frames::{END_HEADERS, HEADERS};
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("crm.test")).await;
    let proxy = https_proxy(&pki, &[&origin], |_| {}).await;
    let (mut tls, selected) = tls_to_proxy(&proxy, &[b"h2"]).await;
    assert_eq!(selected.as_deref(), Some(b"h2".as_slice()));
    let authority = format!("crm.test:{}", origin.port());
    tls.write_all(h2frames::PREFACE).await.expect("preface");
    write_frame(&mut tls, h2frames::SETTINGS, 0, 0, &[]).await;
    // RFC 8441 extended CONNECT, which the proxy never enabled.
    let block = h2frames::hpack_literals(&[
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/chat"),
        (":authority", &authority),
    ]);
    write_frame(&mut tls, HEADERS, END_HEADERS, 1, &block).await;
    let mut settings = Vec::new();
    let deadline = Duration::from_secs(10);
    let frame = tokio::time::timeout(deadline, next_frame_on(&mut tls, 1, &mut settings))
        .await
        .expect("an answer on stream 1");
    assert_eq!(
        frame.kind,
        h2frames::RST_STREAM,
        "the :protocol stream is reset"
    );
    assert_eq!(
        frame.payload,
        h2frames::PROTOCOL_ERROR.to_be_bytes(),
        "with PROTOCOL_ERROR"
    );
    assert!(
        !settings
            .iter()
            .any(|&(id, value)| id == h2frames::ENABLE_CONNECT_PROTOCOL && value != 0),
        "extended CONNECT is not advertised: {settings:?}"
    );
    // The connection survives: a plain CONNECT on the next stream is answered.
    let block = h2frames::hpack_literals(&[(":method", "CONNECT"), (":authority", &authority)]);
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

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_answering_pings_is_disconnected() {
    let pki = TestPki::new();
    let proxy = https_proxy(&pki, &[], |c| {
        c.http2.keep_alive_interval = Duration::from_millis(200);
        c.http2.keep_alive_timeout = Duration::from_millis(300);
    })
    .await;
    let (mut tls, _) = tls_to_proxy(&proxy, &[b"h2"]).await;
    tls.write_all(h2frames::PREFACE).await.expect("preface");
    write_frame(&mut tls, h2frames::SETTINGS, 0, 0, &[]).await;
    // Acknowledge SETTINGS but never a PING: the proxy must probe, then close.
    let pinged = tokio::time::timeout(Duration::from_secs(10), async {
        let mut pinged = false;
        while let Some(frame) = h2frames::read_frame(&mut tls).await {
            match frame.kind {
                h2frames::SETTINGS if frame.flags & h2frames::ACK == 0 => {
                    write_frame(&mut tls, h2frames::SETTINGS, h2frames::ACK, 0, &[]).await;
                }
                h2frames::PING if frame.flags & h2frames::ACK == 0 => pinged = true,
                h2frames::GOAWAY => break,
                _ => {}
            }
        }
        pinged
    })
    .await
    .expect("the proxy closes a connection whose PING went unanswered");
    assert!(pinged, "the proxy sent a PING before closing");
}

/// Reads frames until GOAWAY or the end of the connection; true on GOAWAY.
async fn until_goaway<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(io: &mut S) -> bool {
    while let Some(frame) = h2frames::read_frame(io).await {
        if frame.kind == h2frames::GOAWAY {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn an_h2_connection_is_closed_once_nothing_is_open_on_it() {
    use h2frames::{END_HEADERS, HEADERS};
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("crm.test")).await;
    let idle = Duration::from_millis(300);
    let proxy = https_proxy(&pki, &[&origin], |c| c.http2.connection_idle_timeout = idle).await;
    let deadline = Duration::from_secs(10);

    // Nothing ever opened: closed after the idle limit.
    let (mut tls, _) = tls_to_proxy(&proxy, &[b"h2"]).await;
    tls.write_all(h2frames::PREFACE).await.expect("preface");
    write_frame(&mut tls, h2frames::SETTINGS, 0, 0, &[]).await;
    let opened = tokio::time::Instant::now();
    let goaway = tokio::time::timeout(deadline, until_goaway(&mut tls))
        .await
        .expect("an idle connection is closed");
    assert!(goaway, "closed with GOAWAY");
    assert!(opened.elapsed() >= idle);

    // An open tunnel keeps the connection, however quiet it is; once the
    // client cancels it, the connection is idle and closed.
    let (mut tls, _) = tls_to_proxy(&proxy, &[b"h2"]).await;
    tls.write_all(h2frames::PREFACE).await.expect("preface");
    write_frame(&mut tls, h2frames::SETTINGS, 0, 0, &[]).await;
    let authority = format!("crm.test:{}", origin.port());
    let block = h2frames::hpack_literals(&[(":method", "CONNECT"), (":authority", &authority)]);
    write_frame(&mut tls, HEADERS, END_HEADERS, 1, &block).await;
    let mut settings = Vec::new();
    let frame = tokio::time::timeout(deadline, next_frame_on(&mut tls, 1, &mut settings))
        .await
        .expect("CONNECT answered");
    assert_eq!(frame.payload.first(), Some(&0x88), ":status 200");
    assert!(
        tokio::time::timeout(idle * 4, until_goaway(&mut tls))
            .await
            .is_err(),
        "a connection with an open tunnel is not idle"
    );
    const CANCEL: u32 = 8;
    write_frame(&mut tls, h2frames::RST_STREAM, 0, 1, &CANCEL.to_be_bytes()).await;
    let goaway = tokio::time::timeout(deadline, until_goaway(&mut tls))
        .await
        .expect("closed once the tunnel is gone");
    assert!(goaway, "closed with GOAWAY");
}
