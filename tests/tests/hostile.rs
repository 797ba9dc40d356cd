//! Malformed and hostile input gets a clean error and the proxy keeps serving.

use std::time::Duration;

use portcullis_tests::client::{connect, read_head};
use portcullis_tests::{Origin, OriginOptions, TestPki, TestProxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn raw(proxy: &TestProxy, bytes: &[u8]) -> String {
    let mut tcp = TcpStream::connect(proxy.server.proxy_addr)
        .await
        .expect("tcp");
    tcp.write_all(bytes).await.expect("write");
    tokio::time::timeout(Duration::from_secs(10), read_head(&mut tcp))
        .await
        .unwrap_or_default()
}

async fn still_serves(proxy: &TestProxy, origin: &Origin) {
    let (head, _) = connect(
        proxy.server.proxy_addr,
        &format!("origin.test:{}", origin.port()),
    )
    .await;
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "proxy stopped serving: {head}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_clean_errors() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("origin.test")).await;
    let mut config = TestProxy::config(&pki, &[&origin]);
    config.limits.max_header_bytes = 16 * 1024;
    let proxy = TestProxy::start(config).await;

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"CONNECT nonsense HTTP/1.1\r\n\r\n".to_vec(),
            "HTTP/1.1 400",
        ),
        (b"CONNECT :443 HTTP/1.1\r\n\r\n".to_vec(), "HTTP/1.1 400"),
        (
            b"CONNECT origin.test:99999 HTTP/1.1\r\n\r\n".to_vec(),
            "HTTP/1.1 400",
        ),
        (b"CONNECT a b:443 HTTP/1.1\r\n\r\n".to_vec(), "HTTP/1.1 400"),
        (
            b"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            "HTTP/1.1 400",
        ),
        (
            b"GET https://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n".to_vec(),
            "HTTP/1.1 400",
        ),
        (b"\x00\x01\x02\xffgarbage\r\n\r\n".to_vec(), "HTTP/1.1 400"),
        (
            [
                b"GET http://origin.test/ HTTP/1.1\r\nX-Big: ".as_slice(),
                &vec![b'a'; 64 * 1024],
                b"\r\n\r\n",
            ]
            .concat(),
            "HTTP/1.1 431",
        ),
    ];
    for (bytes, want) in cases {
        let answer = raw(&proxy, &bytes).await;
        assert!(
            answer.starts_with(want),
            "{:?} → {answer:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
        );
        still_serves(&proxy, &origin).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_clients_are_disconnected() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("origin.test")).await;
    let mut config = TestProxy::config(&pki, &[&origin]);
    config.limits.header_read_timeout = Duration::from_millis(500);
    config.limits.client_handshake_timeout = Duration::from_millis(500);
    let proxy = TestProxy::start(config).await;

    // Slowloris: half a request head, then nothing.
    let mut tcp = TcpStream::connect(proxy.server.proxy_addr)
        .await
        .expect("tcp");
    tcp.write_all(b"GET http://origin.test/ HTTP/1.1\r\nX-Slow: ")
        .await
        .expect("write");
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "the proxy must close a stalled connection");

    // A tunnel with no ClientHello.
    let (head, mut tcp) = connect(
        proxy.server.proxy_addr,
        &format!("origin.test:{}", origin.port()),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"));
    let closed = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "the proxy must close a silent tunnel");
    let r = proxy
        .wait_record(|r| {
            r["error"]
                .as_str()
                .is_some_and(|e| e.contains("sent nothing"))
        })
        .await;
    assert_eq!(r["method"], "CONNECT");

    // A ClientHello cut short.
    let (_, mut tcp) = connect(
        proxy.server.proxy_addr,
        &format!("origin.test:{}", origin.port()),
    )
    .await;
    tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .await
        .expect("write");
    let closed = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "the proxy must close a truncated handshake");
    still_serves(&proxy, &origin).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_inside_a_tunnel_is_refused() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("origin.test")).await;
    let proxy = TestProxy::start(TestProxy::config(&pki, &[&origin])).await;
    let (_, mut tcp) = connect(
        proxy.server.proxy_addr,
        &format!("origin.test:{}", origin.port()),
    )
    .await;
    // A TLS record header followed by nonsense.
    tcp.write_all(&[0x16, 0x03, 0x01, 0x00, 0x10])
        .await
        .expect("write");
    tcp.write_all(&[0xff; 16]).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut out)).await;
    let r = proxy
        .wait_record(|r| {
            r["error"]
                .as_str()
                .is_some_and(|e| e.contains("ClientHello"))
        })
        .await;
    assert_eq!(r["host"], "origin.test");
    still_serves(&proxy, &origin).await;
    assert!(origin.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_health_and_readiness() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("origin.test")).await;
    let proxy = TestProxy::start(TestProxy::config(&pki, &[&origin])).await;
    let resp = portcullis_tests::client::reqwest_client(&proxy, true)
        .get(format!("https://origin.test:{}/bytes/10", origin.port()))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200);
    let _ = resp.bytes().await;
    let admin = proxy.server.admin_addr.expect("admin");
    let plain = reqwest::Client::builder().no_proxy().build().expect("c");
    for path in ["healthz", "readyz"] {
        let r = plain
            .get(format!("http://{admin}/{path}"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200, "{path}");
    }
    // Records are counted when the response body completes.
    proxy.wait_record(|r| r["path"] == "/bytes/10").await;
    let text = proxy.metrics().await;
    assert!(text.ends_with("# EOF\n"), "{text}");
    let mut samples = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name_labels, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = name_labels.split('{').next().expect("name");
        assert!(
            name.starts_with("portcullis_")
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{line}"
        );
        if let Some(labels) = name_labels.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        samples += 1;
    }
    assert!(samples >= 6, "{text}");
    assert!(
        text.contains("portcullis_requests_total{mode=\"intercepted\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("portcullis_leaf_mints_total 1"), "{text}");
    proxy.server.shutdown().await;
    let r = plain.get(format!("http://{admin}/readyz")).send().await;
    assert!(
        r.map(|r| r.status() != 200).unwrap_or(true),
        "not ready after shutdown"
    );
}

/// `limits.max_connections` bounds the whole process, not each worker
/// thread: with two tunnels open and a limit of two, a third client waits
/// (unserved) until one closes, however many workers there are.
#[tokio::test(flavor = "multi_thread")]
async fn the_connection_limit_holds_across_worker_threads() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("origin.test")).await;
    let mut config = TestProxy::config(&pki, &[&origin]);
    config.limits.max_connections = 2;
    config.limits.worker_threads = 4;
    let proxy = TestProxy::start(config).await;
    let target = format!("origin.test:{}", origin.port());
    let (head, first) = connect(proxy.server.proxy_addr, &target).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (head, _second) = connect(proxy.server.proxy_addr, &target).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let mut third = TcpStream::connect(proxy.server.proxy_addr)
        .await
        .expect("tcp");
    third
        .write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    // Not served while both slots are taken (a bounded check for absence).
    let early = tokio::time::timeout(Duration::from_millis(300), read_head(&mut third)).await;
    assert!(early.is_err(), "served over the limit: {early:?}");
    // A slot frees: the waiting client is served.
    drop(first);
    let head = tokio::time::timeout(Duration::from_secs(10), read_head(&mut third))
        .await
        .expect("served once a slot frees");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}
