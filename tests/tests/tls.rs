//! Strict TLS: verify the upstream before answering the client, mirror the
//! origin's ALPN, mint correct leaves, and refuse bad upstream certificates
//! with the proxy's own page and no origin bytes.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use portcullis_tests::client::{self, reqwest_client};
use portcullis_tests::{Origin, OriginCert, OriginOptions, TestPki, TestProxy};
use x509_parser::prelude::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_client_handshake_waits_for_the_verified_upstream() {
    let pki = TestPki::new();
    let mut options = OriginOptions::new("gated.test");
    options.gated = true;
    let origin = Origin::start(&pki, options).await;
    let proxy = TestProxy::start(TestProxy::config(&pki, &[&origin])).await;

    let addr = proxy.server.proxy_addr;
    let root = proxy.ca_der();
    let port = origin.port();
    let mut handshake = tokio::spawn(async move {
        client::tls_tunnel(addr, "gated.test", port, "gated.test", root, &[b"http/1.1"]).await
    });
    origin.hello_received().await;
    // The origin holds its ServerHello: the client's handshake must not finish.
    let early = tokio::time::timeout(Duration::from_millis(300), &mut handshake).await;
    assert!(
        early.is_err(),
        "client handshake completed before the upstream was verified"
    );
    assert_eq!(
        origin
            .stats
            .handshakes
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    origin.open_gate();
    let tls = handshake
        .await
        .expect("join")
        .expect("handshake after the gate opens");
    let (_, conn) = tls.get_ref();
    assert_eq!(conn.alpn_protocol(), Some(b"http/1.1".as_slice()));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_h1_only_origin_makes_the_client_speak_http11() {
    let pki = TestPki::new();
    let (origin, proxy) = h1_origin_and_proxy(&pki, OriginOptions::new("h1only.test")).await;
    let tls = client::tls_tunnel(
        proxy.server.proxy_addr,
        "h1only.test",
        origin.port(),
        "h1only.test",
        proxy.ca_der(),
        &[b"h2", b"http/1.1"],
    )
    .await
    .expect("tls");
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        Some(b"http/1.1".as_slice())
    );
    let resp = reqwest_client(&proxy, true)
        .get(format!("https://h1only.test:{}/", origin.port()))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.version(), http::Version::HTTP_11);
    assert_eq!(origin.seen()[0].version, http::Version::HTTP_11);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_presented_leaf_is_issued_by_the_portcullis_ca() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("leaf.test")).await;
    let proxy = TestProxy::start(TestProxy::config(&pki, &[&origin])).await;
    let tls = client::tls_tunnel(
        proxy.server.proxy_addr,
        "leaf.test",
        origin.port(),
        "leaf.test",
        proxy.ca_der(),
        &[b"h2"],
    )
    .await
    .expect("handshake verifies against the Portcullis CA only");
    let chain = tls.get_ref().1.peer_certificates().expect("certs").to_vec();
    let (_, leaf) = X509Certificate::from_der(&chain[0]).expect("leaf");
    let ca_der = proxy.ca_der();
    let (_, ca) = X509Certificate::from_der(&ca_der).expect("ca");
    assert_eq!(leaf.issuer(), ca.subject());
    assert!(ca
        .subject()
        .to_string()
        .contains("Portcullis Interception CA"));
    let san = leaf
        .subject_alternative_name()
        .expect("ext")
        .expect("san")
        .value;
    assert_eq!(san.general_names, vec![GeneralName::DNSName("leaf.test")]);
    let days =
        (leaf.validity().not_after.to_datetime() - ::time::OffsetDateTime::now_utc()).whole_days();
    assert!((29..=30).contains(&days), "{days}");
    assert!(leaf.verify_signature(Some(ca.public_key())).is_ok());

    // Serials are unique across many mints under the one shared key.
    let cache = &proxy.server.state.certs;
    let mut serials = HashSet::new();
    for i in 0..1000 {
        let key = cache.minter().mint(&format!("host{i}.test")).expect("mint");
        let (_, c) = X509Certificate::from_der(&key.cert[0]).expect("parse");
        serials.insert(c.raw_serial().to_vec());
    }
    assert_eq!(serials.len(), 1000);
    let metrics = proxy.metrics().await;
    assert!(
        metrics.contains("portcullis_leaf_mints_total 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_upstream_certificates_get_a_502_naming_the_reason() {
    let pki = TestPki::new();
    let cases = [
        ("untrusted.test", OriginCert::Untrusted, "unknown issuer"),
        ("expired.test", OriginCert::Expired, "expired"),
        ("wrongname.test", OriginCert::WrongName, "name mismatch"),
    ];
    let mut origins = Vec::new();
    for (name, kind, _) in cases {
        let mut o = OriginOptions::new(name);
        o.cert = kind;
        origins.push(Origin::start(&pki, o).await);
    }
    let refs: Vec<&Origin> = origins.iter().collect();
    let proxy = TestProxy::start(TestProxy::config(&pki, &refs)).await;
    for ((name, _, reason), origin) in cases.iter().zip(&origins) {
        for alpn in [b"h2".as_slice(), b"http/1.1"] {
            let tls = client::tls_tunnel(
                proxy.server.proxy_addr,
                name,
                origin.port(),
                name,
                proxy.ca_der(),
                &[alpn],
            )
            .await
            .expect("the client still gets a minted leaf");
            let uri = format!("https://{name}:{}/", origin.port());
            let req = Request::get(&uri)
                .header("accept", "text/html")
                .header("host", format!("{name}:{}", origin.port()))
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
            assert_eq!(resp.status(), 502, "{name}");
            assert!(
                resp.headers()["x-portcullis-error"]
                    .to_str()
                    .expect("v")
                    .contains(reason),
                "{name}: {:?}",
                resp.headers()
            );
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            let body = String::from_utf8_lossy(&body);
            assert!(body.contains(reason) && body.contains("<html>"), "{body}");
        }
        assert!(
            origin.seen().is_empty(),
            "{name}: no request may reach the origin"
        );
        assert_eq!(
            origin
                .stats
                .handshakes
                .load(std::sync::atomic::Ordering::SeqCst),
            0
        );
        let record = proxy
            .wait_record(|r| r["host"] == *name && r["method"] == "CONNECT")
            .await;
        assert_eq!(record["status"], 502);
        assert!(record["error"].as_str().expect("error").contains(reason));
    }
    let metrics = proxy.metrics().await;
    assert!(
        metrics.contains("portcullis_upstream_tls_errors_total{reason=\"expired\"} 2"),
        "{metrics}"
    );
}

/// An HTTP/1.1-only origin made from `options`, and a proxy that reaches it.
async fn h1_origin_and_proxy(pki: &TestPki, mut options: OriginOptions) -> (Origin, TestProxy) {
    options.alpn = vec![b"http/1.1".to_vec()];
    let origin = Origin::start(pki, options).await;
    let proxy = TestProxy::start(TestProxy::config(pki, &[&origin])).await;
    (origin, proxy)
}

/// `GET path` over an HTTP/1.1 tunnel to `origin`; the response status,
/// once the body is read (which also brings any TLS session tickets).
async fn get(
    tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    origin: &Origin,
    path: &str,
) -> http::StatusCode {
    let mut sender = client::h1_client(tls).await;
    let req = Request::get(path)
        .header("host", format!("{}:{}", origin.name, origin.port()))
        .body(Full::new(Bytes::new()).boxed())
        .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    let status = resp.status();
    resp.into_body().collect().await.expect("body");
    status
}

#[tokio::test(flavor = "multi_thread")]
async fn post_quantum_key_exchange_is_used_on_both_legs() {
    use rustls::NamedGroup::{X25519, X25519MLKEM768};
    let pki = TestPki::new();
    // An origin accepting only the hybrid: the proxy's upstream leg must
    // offer it for anything to get through.
    let mut options = OriginOptions::new("pq.test");
    options.kx_groups = Some(vec![X25519MLKEM768]);
    let (origin, proxy) = h1_origin_and_proxy(&pki, options).await;

    // A browser-like client offering the hybrid gets it from the proxy; a
    // classical-only client gets X25519, and the upstream stays hybrid.
    for (groups, expected) in [
        (vec![X25519MLKEM768], X25519MLKEM768),
        (vec![X25519MLKEM768, X25519], X25519MLKEM768),
        (vec![X25519], X25519),
    ] {
        let config = client::tls_config_with(
            client::provider_offering(&groups),
            proxy.ca_der(),
            &[b"http/1.1"],
        );
        let tls = client::tls_tunnel_with(
            proxy.server.proxy_addr,
            "pq.test",
            origin.port(),
            "pq.test",
            config,
        )
        .await
        .expect("handshake through the proxy");
        assert_eq!(
            tls.get_ref()
                .1
                .negotiated_key_exchange_group()
                .map(|g| g.name()),
            Some(expected),
            "client offering {groups:?}"
        );
        assert_eq!(
            get(tls, &origin, "/pq").await,
            200,
            "client offering {groups:?}"
        );
    }
    assert_eq!(origin.seen().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_returning_client_resumes_its_session_with_the_proxy() {
    let pki = TestPki::new();
    let (origin, proxy) = h1_origin_and_proxy(&pki, OriginOptions::new("resume.test")).await;
    // One client configuration (one ticket store), two connections.
    let config = client::tls_config(proxy.ca_der(), &[b"http/1.1"]);
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let tls = client::tls_tunnel_with(
            proxy.server.proxy_addr,
            "resume.test",
            origin.port(),
            "resume.test",
            config.clone(),
        )
        .await
        .expect("handshake");
        kinds.push(tls.get_ref().1.handshake_kind());
        assert_eq!(get(tls, &origin, "/resume").await, 200);
    }
    use rustls::HandshakeKind::{Full as FullHandshake, Resumed};
    assert_eq!(kinds, [Some(FullHandshake), Some(Resumed)]);
}
