//! Plain HTTP in absolute form, and WebSocket on plain and intercepted HTTP/1.1.

use futures_util::{SinkExt, StreamExt};
use portcullis_tests::client::{self, read_head};
use portcullis_tests::{pattern, sha256_hex, Origin, OriginOptions, TestPki, TestProxy};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_absolute_form_is_forwarded() {
    let pki = TestPki::new();
    let mut options = OriginOptions::new("plain.test");
    options.plain = true;
    let origin = Origin::start(&pki, options).await;
    let proxy = TestProxy::start(TestProxy::config(&pki, &[&origin])).await;
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(proxy.url()).expect("proxy"))
        .build()
        .expect("client");
    let resp = client
        .get(format!("http://plain.test:{}/bytes/65536", origin.port()))
        .header("proxy-authorization", "Basic c2VjcmV0OnNlY3JldA==")
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        sha256_hex(&resp.bytes().await.expect("b")),
        sha256_hex(&pattern(65536))
    );
    let resp = client
        .get(format!("http://plain.test:{}/alt-svc", origin.port()))
        .send()
        .await
        .expect("GET alt-svc");
    let alt: Vec<_> = resp.headers().get_all("alt-svc").iter().collect();
    assert_eq!(alt, [r#"h2=":443"; ma=60"#], "QUIC alternatives stripped");
    let up = pattern(300_000);
    let resp = client
        .post(format!("http://plain.test:{}/echo", origin.port()))
        .body(up.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.bytes().await.expect("b"), up);
    let seen = origin.seen();
    assert!(
        !seen[0].headers.contains_key("proxy-authorization"),
        "proxy credentials never forwarded"
    );
    assert_eq!(seen[0].path, "/bytes/65536", "origin-form upstream");
    let r = proxy
        .wait_record(|r| r["mode"] == "plain" && r["path"] == "/echo")
        .await;
    assert_eq!(r["bytes_in"], 300_000);
    assert_eq!(r["bytes_out"], 300_000);
}

async fn echo_round_trip<S>(mut ws: tokio_tungstenite::WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.send(Message::text("hello through portcullis"))
        .await
        .expect("send");
    ws.send(Message::binary(pattern(100_000)))
        .await
        .expect("send");
    let first = ws.next().await.expect("msg").expect("ok");
    assert_eq!(
        first.into_text().expect("text").as_str(),
        "hello through portcullis"
    );
    let second = ws.next().await.expect("msg").expect("ok");
    assert_eq!(second.into_data().as_ref(), pattern(100_000).as_slice());
    ws.close(None).await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_echo_through_an_intercepted_tunnel() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("ws.test")).await;
    let proxy = TestProxy::start(TestProxy::config(&pki, &[&origin])).await;
    let tls = client::tls_tunnel(
        proxy.server.proxy_addr,
        "ws.test",
        origin.port(),
        "ws.test",
        proxy.ca_der(),
        &[b"http/1.1"],
    )
    .await
    .expect("tls");
    let url = format!("wss://ws.test:{}/ws", origin.port());
    let (ws, resp) = tokio_tungstenite::client_async(url, tls)
        .await
        .expect("upgrade");
    assert_eq!(resp.status(), 101);
    echo_round_trip(ws).await;
    let r = proxy
        .wait_record(|r| r["path"] == "/ws" && r["status"] == 101)
        .await;
    assert!(r["bytes_in"].as_u64().expect("n") > 100_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_echo_over_plain_http() {
    let pki = TestPki::new();
    let mut options = OriginOptions::new("plainws.test");
    options.plain = true;
    let origin = Origin::start(&pki, options).await;
    let proxy = TestProxy::start(TestProxy::config(&pki, &[&origin])).await;
    let mut tcp = tokio::net::TcpStream::connect(proxy.server.proxy_addr)
        .await
        .expect("tcp");
    let port = origin.port();
    tcp.write_all(
        format!(
            "GET http://plainws.test:{port}/ws HTTP/1.1\r\nHost: plainws.test:{port}\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(tcp, Role::Client, None).await;
    echo_round_trip(ws).await;
}
