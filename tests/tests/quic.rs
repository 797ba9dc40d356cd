//! QUIC and HTTP/3: intercepted with a minted leaf and sent through the same
//! pipeline (byte-identical relay, DLP with zero bytes at the origin, the
//! proxy's 502 for an unverifiable origin, records saying `h3`), or refused
//! so clients fall back to TCP; `Alt-Svc` keeps `h3` only while HTTP/3 is
//! intercepted.
//!
//! These tests reach the QUIC listener directly on loopback (the target is
//! the TLS server name); the transparent-gateway tests route UDP 443 to it.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use portcullis::config::{Listen, QuicAction};
use portcullis_tests::h3client::H3Client;
use portcullis_tests::{
    pattern, sha256_hex, Origin, OriginCert, OriginOptions, TestPki, TestProxy,
};

const CARD: &str = "4111 1111 1111 1111";

const POLICY: &str = r#"
version: 1
default: {action: allow}
dlp_profiles:
  secrets: {detectors: [], min_count: 1, action: block, severity: critical}
rules:
  - id: scan-uploads-to-files
    when: {host: "files.test"}
    action: allow
    dlp_profile: secrets
"#;

/// One origin behind a proxy whose QUIC listener does `action`.
struct Setup {
    _pki: TestPki,
    origin: Origin,
    proxy: TestProxy,
    /// The authority the client believes it reaches (the origin's port).
    base: String,
    _dir: tempfile::TempDir,
}

async fn setup(options: OriginOptions, action: QuicAction, policy: Option<&str>) -> Setup {
    let pki = TestPki::new();
    // Probe the origin over QUIC only when it speaks it: an ephemeral UDP
    // port of a parallel test could share a TCP-only origin's port number.
    let h3 = options.h3;
    let origin = Origin::start(&pki, options).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut config = TestProxy::config(&pki, &[&origin]);
    if let Some(policy) = policy {
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, policy).expect("write");
        config.policy.file = Some(path);
    }
    config.quic.listen = Listen::On("127.0.0.1:0".parse().expect("addr"));
    config.quic.action = action;
    config.quic.upstream_port = origin.port();
    config.quic.upstream_h3 = h3;
    let proxy = TestProxy::start(config).await;
    let base = format!("https://{}:{}", origin.name, origin.port());
    Setup {
        _pki: pki,
        origin,
        proxy,
        base,
        _dir: dir,
    }
}

impl Setup {
    /// An HTTP/3 client of the QUIC listener, for the origin's name.
    async fn connect(&self) -> Result<H3Client, String> {
        let addr = self.proxy.server.quic_addr.expect("QUIC listener on");
        H3Client::connect(addr, &self.origin.name, self.proxy.ca_der()).await
    }
}

/// GETs `size` pattern bytes and POSTs as many to `/sha256` over `client`,
/// asserting both arrive byte-identical; returns what the origin said it
/// received (length, SHA-256, protocol).
async fn round_trip(client: &mut H3Client, base: &str, size: usize) -> serde_json::Value {
    let get = client
        .request("GET", &format!("{base}/bytes/{size}"), Bytes::new())
        .await
        .expect("GET");
    assert_eq!(get.status, 200);
    assert_eq!(sha256_hex(&get.body), sha256_hex(&pattern(size)));
    let upload = Bytes::from(pattern(size));
    let post = client
        .request("POST", &format!("{base}/sha256"), upload.clone())
        .await
        .expect("POST");
    assert_eq!(post.status, 200);
    let seen: serde_json::Value = serde_json::from_slice(&post.body).expect("json");
    assert_eq!(seen["len"], size);
    assert_eq!(seen["sha256"], sha256_hex(&upload));
    seen
}

/// Origin options for `name`, edited.
fn origin(name: &str, edit: impl FnOnce(&mut OriginOptions)) -> OriginOptions {
    let mut options = OriginOptions::new(name);
    edit(&mut options);
    options
}

#[tokio::test(flavor = "multi_thread")]
async fn http3_get_and_a_10_mib_post_are_byte_identical_through_interception() {
    let t = setup(origin("origin.test", |_| {}), QuicAction::Intercept, None).await;
    let (origin, proxy, base) = (&t.origin, &t.proxy, &t.base);
    let mut client = t.connect().await.expect("connect");

    const SIZE: usize = 10 * 1024 * 1024;
    round_trip(&mut client, base, SIZE).await;
    assert_eq!(origin.stats.body_bytes.load(Ordering::SeqCst), SIZE as u64);

    let record = proxy
        .wait_record(|r| r["path"] == "/sha256" && r["client_alpn"] == "h3")
        .await;
    assert_eq!(record["status"], 200);
    assert_eq!(record["mode"], "intercepted");
    assert_eq!(record["bytes_in"], SIZE as u64);
    assert!(
        record["alpn"] == "h2" || record["alpn"] == "http/1.1",
        "upstream over TCP: {record}"
    );
    client.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_planted_card_over_http3_is_blocked_with_zero_bytes_at_the_origin() {
    let t = setup(
        origin("files.test", |_| {}),
        QuicAction::Intercept,
        Some(POLICY),
    )
    .await;
    let (files, proxy, base) = (&t.origin, &t.proxy, &t.base);
    let mut client = t.connect().await.expect("connect");

    let body = format!("{{\"note\":\"pay with {CARD} please\"}}");
    let resp = client
        .request("POST", &format!("{base}/upload"), Bytes::from(body))
        .await
        .expect("POST");
    assert_eq!(resp.status, 403);
    assert_eq!(files.stats.body_bytes.load(Ordering::SeqCst), 0);
    assert!(files.seen().is_empty(), "nothing reached the origin");

    let record = proxy
        .wait_record(|r| r["path"] == "/upload" && r["client_alpn"] == "h3")
        .await;
    assert_eq!(record["status"], 403);
    assert_eq!(record["action"], "block");
    assert!(
        !record.to_string().contains("1111 1111"),
        "no raw match logged"
    );

    // The connection keeps serving after a block.
    let ok = client
        .request("GET", &format!("{base}/hello"), Bytes::new())
        .await
        .expect("GET after block");
    assert_eq!(ok.status, 200);
    client.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unverifiable_origin_gets_the_proxys_502_over_http3() {
    let options = origin("untrusted.test", |o| o.cert = OriginCert::Untrusted);
    let t = setup(options, QuicAction::Intercept, None).await;
    let (origin, proxy) = (&t.origin, &t.proxy);
    let mut client = t.connect().await.expect("connect");
    let resp = client
        .request("GET", "https://untrusted.test/secret", Bytes::new())
        .await
        .expect("GET");
    assert_eq!(resp.status, 502);
    let text = String::from_utf8_lossy(&resp.body);
    assert!(text.contains("unknown issuer"), "{text}");
    assert!(origin.seen().is_empty(), "no request reached the origin");
    let record = proxy
        .wait_record(|r| r["path"] == "/secret" && r["client_alpn"] == "h3")
        .await;
    assert_eq!(record["status"], 502);
    client.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn blocked_quic_is_refused_so_clients_fall_back_to_tcp() {
    let t = setup(origin("origin.test", |_| {}), QuicAction::Block, None).await;
    let (origin, proxy) = (&t.origin, &t.proxy);
    let refused = t.connect().await;
    let Err(e) = refused else {
        panic!("QUIC must be refused in block mode")
    };
    assert!(e.contains("refused"), "{e}");
    assert!(proxy
        .metrics()
        .await
        .contains(r#"portcullis_decisions_total{phase="quic",action="block"} 1"#));
    // In block mode the proxy does not intercept HTTP/3, so TCP responses
    // lose their h3 advertisements.
    let client = portcullis_tests::client::reqwest_client(proxy, true);
    let resp = client
        .get(format!("https://origin.test:{}/alt-svc", origin.port()))
        .send()
        .await
        .expect("GET over TCP");
    assert_eq!(resp.status(), 200);
    let alt: Vec<_> = resp.headers().get_all("alt-svc").iter().collect();
    assert_eq!(alt, [r#"h2=":443"; ma=60"#]);
}

#[tokio::test(flavor = "multi_thread")]
async fn alt_svc_keeps_h3_while_http3_is_intercepted() {
    let t = setup(origin("origin.test", |_| {}), QuicAction::Intercept, None).await;
    let (origin, proxy) = (&t.origin, &t.proxy);
    let client = portcullis_tests::client::reqwest_client(proxy, true);
    let resp = client
        .get(format!("https://origin.test:{}/alt-svc", origin.port()))
        .send()
        .await
        .expect("GET over TCP");
    let alt: Vec<_> = resp.headers().get_all("alt-svc").iter().collect();
    assert_eq!(alt.len(), 2, "{alt:?}");
    assert!(alt[0].to_str().expect("ascii").starts_with("h3="));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_origin_that_speaks_http3_is_reached_over_http3() {
    let t = setup(
        origin("h3.test", |o| o.h3 = true),
        QuicAction::Intercept,
        None,
    )
    .await;
    let (origin, proxy, base) = (&t.origin, &t.proxy, &t.base);
    let mut client = t.connect().await.expect("connect");
    let seen = round_trip(&mut client, base, 3 * 1024 * 1024).await;
    assert_eq!(seen["protocol"], "h3");
    assert!(origin
        .seen()
        .iter()
        .all(|s| s.version == http::Version::HTTP_3));
    assert_eq!(origin.stats.connections.load(Ordering::SeqCst), 0, "no TCP");
    let record = proxy
        .wait_record(|r| r["path"] == "/sha256" && r["client_alpn"] == "h3")
        .await;
    assert_eq!(record["alpn"], "h3");
    assert_eq!(record["tls_version"], "TLSv1.3");
    client.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http3_origin_with_a_bad_certificate_gets_a_502_and_no_tcp_retry() {
    let options = origin("rogue.test", |o| {
        o.h3 = true;
        o.cert = OriginCert::Untrusted;
    });
    let t = setup(options, QuicAction::Intercept, None).await;
    let origin = &t.origin;
    let mut client = t.connect().await.expect("connect");
    let resp = client
        .request("GET", &format!("{}/x", t.base), Bytes::new())
        .await
        .expect("GET");
    assert_eq!(resp.status, 502);
    let text = String::from_utf8_lossy(&resp.body);
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert!(origin.seen().is_empty());
    assert_eq!(origin.stats.connections.load(Ordering::SeqCst), 0);
    client.close();
}
