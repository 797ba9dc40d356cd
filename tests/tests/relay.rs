//! Bodies relayed byte-identical through interception, over HTTP/1.1 and
//! HTTP/2, with reqwest, curl and raw hyper clients.

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use portcullis_tests::client::{self, curl, reqwest_client, run};
use portcullis_tests::{pattern, sha256_hex, Origin, OriginOptions, TestPki, TestProxy};

const SIZES: [usize; 3] = [0, 1024, 10 * 1024 * 1024];

async fn setup() -> (TestPki, Origin, TestProxy) {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("origin.test")).await;
    let proxy = TestProxy::start(TestProxy::config(&pki, &[&origin])).await;
    (pki, origin, proxy)
}

#[tokio::test(flavor = "multi_thread")]
async fn reqwest_get_and_post_are_byte_identical_over_h1_and_h2() {
    let (_pki, origin, proxy) = setup().await;
    for h2 in [false, true] {
        let client = reqwest_client(&proxy, h2);
        let want_version = if h2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        for size in SIZES {
            let url = format!("https://origin.test:{}/bytes/{size}", origin.port());
            let resp = client.get(&url).send().await.expect("GET");
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.version(), want_version);
            let body = resp.bytes().await.expect("body");
            assert_eq!(
                sha256_hex(&body),
                sha256_hex(&pattern(size)),
                "GET {size} h2={h2}"
            );

            let upload = pattern(size);
            let url = format!("https://origin.test:{}/echo", origin.port());
            let resp = client
                .post(&url)
                .body(upload.clone())
                .send()
                .await
                .expect("POST");
            assert_eq!(resp.status(), 200);
            let body = resp.bytes().await.expect("body");
            assert_eq!(body.len(), size);
            assert_eq!(
                sha256_hex(&body),
                sha256_hex(&upload),
                "POST {size} h2={h2}"
            );
        }
    }
    let r = proxy
        .wait_record(|r| r["path"] == "/echo" && r["alpn"] == "h2" && r["bytes_in"] == 10485760)
        .await;
    assert_eq!(r["mode"], "intercepted");
    assert_eq!(r["bytes_out"], 10485760);
    assert_eq!(r["status"], 200);
    assert_eq!(r["tls_version"], "TLSv1.3");
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_upload_arrives_whole() {
    let (_pki, origin, proxy) = setup().await;
    let data = pattern(3 * 1024 * 1024 + 17);
    let chunks: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(65_521)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let resp = reqwest_client(&proxy, false)
        .post(format!("https://origin.test:{}/sha256", origin.port()))
        .body(body)
        .send()
        .await
        .expect("POST");
    let json: serde_json::Value = resp.json_text().await;
    assert_eq!(json["len"], data.len());
    assert_eq!(json["sha256"], sha256_hex(&data));
    let seen = origin.seen();
    assert!(seen.iter().any(|s| s.path == "/sha256"));
}

trait JsonText {
    async fn json_text(self) -> serde_json::Value;
}

impl JsonText for reqwest::Response {
    async fn json_text(self) -> serde_json::Value {
        serde_json::from_str(&self.text().await.expect("text")).expect("json")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn trailers_survive_both_ways() {
    let (_pki, origin, proxy) = setup().await;
    for alpn in [b"h2".as_slice(), b"http/1.1"] {
        let tls = client::tls_tunnel(
            proxy.server.proxy_addr,
            "origin.test",
            origin.port(),
            "origin.test",
            proxy.ca_der(),
            &[alpn],
        )
        .await
        .expect("tls");
        let h2 = alpn == b"h2";
        // Response trailers.
        let uri = format!("https://origin.test:{}/trailers", origin.port());
        let req = Request::get(&uri)
            .header("host", format!("origin.test:{}", origin.port()))
            .header("te", "trailers")
            .body(Full::new(Bytes::new()).boxed())
            .expect("req");
        let req = if h2 { req } else { origin_form(req) };
        let (resp, next) = if h2 {
            let mut s = client::h2_client(tls).await;
            let resp = s.send_request(req).await.expect("send");
            (resp, Some(s))
        } else {
            let mut s = client::h1_client(tls).await;
            (s.send_request(req).await.expect("send"), None)
        };
        let collected = resp.into_body().collect().await.expect("body");
        let trailers = collected
            .trailers()
            .cloned()
            .unwrap_or_else(|| panic!("trailers relayed for {alpn:?}"));
        assert_eq!(trailers["x-checksum"], "abc123", "alpn {alpn:?}");
        assert_eq!(&collected.to_bytes()[..], b"body before trailers");

        // Request trailers (HTTP/2).
        if let Some(mut s) = next {
            let mut t = http::HeaderMap::new();
            t.insert("x-upload-digest", "d1g3st".parse().expect("v"));
            let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = vec![
                Ok(Frame::data(Bytes::from_static(b"payload"))),
                Ok(Frame::trailers(t)),
            ];
            let req = Request::post(format!("https://origin.test:{}/sha256", origin.port()))
                .body(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(
                    frames,
                ))))
                .expect("req");
            let resp = s.send_request(req).await.expect("send");
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(json["len"], 7);
            assert_eq!(json["trailers"]["x-upload-digest"], "d1g3st");
        }
    }
}

fn origin_form<B>(mut req: Request<B>) -> Request<B> {
    let pq = req.uri().path_and_query().expect("pq").clone();
    *req.uri_mut() = pq.as_str().parse().expect("uri");
    req
}

#[tokio::test(flavor = "multi_thread")]
async fn curl_get_and_post_are_byte_identical_over_h1_and_h2() {
    let (_pki, origin, proxy) = setup().await;
    let dir = tempfile::tempdir().expect("dir");
    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        for size in SIZES {
            let out = dir.path().join(format!("get-{size}"));
            let mut cmd = curl(&proxy);
            cmd.arg(flag)
                .arg("--write-out")
                .arg("%{http_code} %{http_version}")
                .arg("--output")
                .arg(&out)
                .arg(format!(
                    "https://origin.test:{}/bytes/{size}",
                    origin.port()
                ));
            let o = run(cmd).await;
            assert!(
                o.status.success(),
                "curl: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&o.stdout), format!("200 {version}"));
            let got = std::fs::read(&out).expect("read");
            assert_eq!(sha256_hex(&got), sha256_hex(&pattern(size)));

            let upload = dir.path().join(format!("up-{size}"));
            std::fs::write(&upload, pattern(size)).expect("write");
            for chunked in [false, true] {
                let mut cmd = curl(&proxy);
                cmd.arg(flag)
                    .arg("--data-binary")
                    .arg(format!("@{}", upload.display()))
                    .arg("-H")
                    .arg("Content-Type: application/octet-stream");
                if chunked && flag == "--http1.1" {
                    cmd.arg("-H").arg("Transfer-Encoding: chunked");
                }
                cmd.arg(format!("https://origin.test:{}/sha256", origin.port()));
                let o = run(cmd).await;
                assert!(
                    o.status.success(),
                    "curl: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
                assert_eq!(json["len"], size);
                assert_eq!(json["sha256"], sha256_hex(&pattern(size)));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_upstream_connection_serves_a_tunnel_and_hop_by_hop_fields_stop_here() {
    let (_pki, origin, proxy) = setup().await;
    let port = origin.port();
    let tls = client::tls_tunnel(
        proxy.server.proxy_addr,
        "origin.test",
        port,
        "origin.test",
        proxy.ca_der(),
        &[b"http/1.1"],
    )
    .await
    .expect("tls");
    let mut sender = client::h1_client(tls).await;
    for i in 0..5 {
        sender.ready().await.expect("ready");
        let req = Request::get(format!("/n{i}"))
            .header("host", format!("origin.test:{port}"))
            .header("connection", "keep-alive, x-hop")
            .header("x-hop", "secret-hop")
            .header("keep-alive", "timeout=5")
            .header("x-end-to-end", "kept")
            .body(Full::new(Bytes::new()).boxed())
            .expect("req");
        let resp = sender.send_request(req).await.expect("send");
        assert_eq!(resp.status(), 200);
        resp.into_body().collect().await.expect("body");
    }
    assert_eq!(
        origin
            .stats
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let seen = origin.seen();
    assert_eq!(seen.len(), 5);
    for s in seen {
        assert!(
            !s.headers.contains_key("x-hop") && !s.headers.contains_key("keep-alive"),
            "{:?}",
            s.headers
        );
        assert!(!s.headers.contains_key("connection"));
        assert_eq!(s.headers["x-end-to-end"], "kept");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_origins_are_reached() {
    let pki = TestPki::new();
    let mut options = OriginOptions::new("v6.test");
    options.ipv6 = true;
    let origin = Origin::start(&pki, options).await;
    let proxy = TestProxy::start(TestProxy::config(&pki, &[&origin])).await;
    let resp = reqwest_client(&proxy, true)
        .get(format!("https://v6.test:{}/bytes/100", origin.port()))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.expect("b").len(), 100);
}

/// HTTP/3 is not intercepted, so QUIC alternatives never reach the client
/// (a browser would otherwise move to UDP, out of inspection); other
/// alternatives pass.
#[tokio::test(flavor = "multi_thread")]
async fn quic_alternatives_are_stripped_from_alt_svc() {
    let (_pki, origin, proxy) = setup().await;
    for h2 in [false, true] {
        let client = reqwest_client(&proxy, h2);
        let url = format!("https://origin.test:{}/alt-svc", origin.port());
        let resp = client.get(&url).send().await.expect("GET");
        assert_eq!(resp.status(), 200);
        let alt: Vec<_> = resp
            .headers()
            .get_all("alt-svc")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect();
        assert_eq!(alt, vec![r#"h2=":443"; ma=60"#.to_owned()], "h2={h2}");
    }
}
