//! What is and is not allowed through CONNECT: bypass, non-TLS payloads,
//! ports, private destinations, and domain fronting.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use portcullis::config::NonTls;
use portcullis_tests::client::{self, connect};
use portcullis_tests::{Origin, OriginOptions, TestPki, TestProxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use x509_parser::prelude::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_bypassed_host_is_relayed_blind_with_the_origins_own_certificate() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("bank.bypass.test")).await;
    let mut config = TestProxy::config(&pki, &[&origin]);
    config.inspection.bypass = vec!["*.bypass.test".into()];
    let proxy = TestProxy::start(config).await;
    // Trusting only the origin's root: the handshake succeeds only if the
    // origin's own certificate arrives untouched.
    let tls = client::tls_tunnel(
        proxy.server.proxy_addr,
        "bank.bypass.test",
        origin.port(),
        "bank.bypass.test",
        pki.root_der(),
        &[b"http/1.1"],
    )
    .await
    .expect("handshake with the origin itself");
    let chain = tls.get_ref().1.peer_certificates().expect("certs").to_vec();
    let (_, leaf) = X509Certificate::from_der(&chain[0]).expect("leaf");
    assert!(leaf
        .issuer()
        .to_string()
        .contains("Portcullis Test Origin Root"));
    let mut sender = client::h1_client(tls).await;
    let resp = sender
        .send_request(
            Request::get("/hello")
                .header("host", "bank.bypass.test")
                .body(Full::new(Bytes::new()).boxed())
                .expect("req"),
        )
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    drop(sender);
    let r = proxy
        .wait_record(|r| r["host"] == "bank.bypass.test" && r["mode"] == "tunnel")
        .await;
    assert_eq!(r["method"], "CONNECT");
    assert!(r["bytes_in"].as_u64().expect("n") > 0 && r["bytes_out"].as_u64().expect("n") > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn non_tls_payloads_are_refused_unless_configured() {
    let pki = TestPki::new();
    let mut plain = OriginOptions::new("plain.test");
    plain.plain = true;
    let origin = Origin::start(&pki, plain).await;
    for mode in [NonTls::Block, NonTls::Tunnel] {
        let mut config = TestProxy::config(&pki, &[&origin]);
        config.inspection.non_tls = mode;
        let proxy = TestProxy::start(config).await;
        let (head, mut tcp) = connect(
            proxy.server.proxy_addr,
            &format!("plain.test:{}", origin.port()),
        )
        .await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        tcp.write_all(b"GET /sneaky HTTP/1.1\r\nHost: plain.test\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.expect("read");
        let answer = String::from_utf8_lossy(&answer);
        match mode {
            NonTls::Block => {
                assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
                assert!(origin.seen().is_empty());
                let r = proxy.wait_record(|r| r["status"] == 403).await;
                assert!(r["error"].as_str().expect("e").contains("non-TLS"));
            }
            NonTls::Tunnel => {
                assert!(answer.contains("origin GET /sneaky"), "{answer}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn disallowed_ports_and_private_destinations_are_refused() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("private.test")).await;
    let mut config = TestProxy::config(&pki, &[&origin]);
    config.upstream.allow_private = false;
    let proxy = TestProxy::start(config).await;
    let (head, _) = connect(proxy.server.proxy_addr, "private.test:8443").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(head.contains("port not allowed"), "{head}");
    let (head, _) = connect(
        proxy.server.proxy_addr,
        &format!("private.test:{}", origin.port()),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(head.contains("destination not allowed"), "{head}");
    let (head, _) = connect(proxy.server.proxy_addr, "169.254.169.254:443").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert_eq!(origin.stats.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_for_another_host_gets_421() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("front.test")).await;
    let proxy = TestProxy::start(TestProxy::config(&pki, &[&origin])).await;
    let port = origin.port();
    for alpn in [b"h2".as_slice(), b"http/1.1"] {
        let tls = client::tls_tunnel(
            proxy.server.proxy_addr,
            "front.test",
            port,
            "front.test",
            proxy.ca_der(),
            &[alpn],
        )
        .await
        .expect("tls");
        let req = Request::get(format!("https://hidden.test:{port}/"))
            .header("host", format!("hidden.test:{port}"))
            .body(Full::new(Bytes::new()).boxed())
            .expect("req");
        let resp = if alpn == b"h2" {
            client::h2_client(tls).await.send_request(req).await
        } else {
            let mut r = req;
            *r.uri_mut() = "/".parse().expect("uri");
            client::h1_client(tls).await.send_request(r).await
        }
        .expect("response");
        assert_eq!(resp.status(), 421, "{alpn:?}");
    }
    // An SNI naming another host than the CONNECT target.
    let tls = client::tls_tunnel(
        proxy.server.proxy_addr,
        "front.test",
        port,
        "hidden.test",
        proxy.ca_der(),
        &[b"http/1.1"],
    )
    .await
    .expect("tls");
    let resp = client::h1_client(tls)
        .await
        .send_request(
            Request::get("/")
                .header("host", "hidden.test")
                .body(Full::new(Bytes::new()).boxed())
                .expect("req"),
        )
        .await
        .expect("response");
    assert_eq!(resp.status(), 421);
    assert!(origin.seen().is_empty(), "nothing reaches the origin");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_upstream_is_a_502() {
    let pki = TestPki::new();
    let mut config = TestProxy::config(&pki, &[]);
    // A port nothing listens on: bind, learn it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("a")
        .port();
    config.upstream.connect_ports.push(port);
    config
        .upstream
        .resolve
        .insert("gone.test".into(), vec!["127.0.0.1".parse().expect("ip")]);
    let proxy = TestProxy::start(config).await;
    let (head, _) = connect(proxy.server.proxy_addr, &format!("gone.test:{port}")).await;
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    let (head, _) = connect(proxy.server.proxy_addr, "nxdomain.invalid:443").await;
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
}
