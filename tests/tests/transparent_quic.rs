//! QUIC at the transparent gateway: UDP 443 from the client namespace is
//! diverted by NAT REDIRECT to the proxy's QUIC listener in the gateway. In
//! `intercept` mode an HTTP/3 client (quinn + h3) that only trusts the
//! interception CA is served through the pipeline — byte-identical bodies,
//! DLP with zero bytes at the origin, records saying `h3`; in `block` mode
//! its QUIC connection is refused and it falls back to TCP, where it is
//! intercepted as usual.
//!
//! Needs root and iproute2/iptables (`.ci/run` installs them): the tests
//! fail, saying what is missing, when namespaces cannot be created.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use portcullis::config::{Listen, QuicAction};
use portcullis_tests::gateway::{gateway, is_transparent, Gateway, Rules};
use portcullis_tests::h3client::H3Client;
use portcullis_tests::netns::ORIGIN_V4;
use portcullis_tests::sha256_hex;

/// The port the QUIC listener takes diverted datagrams on.
const QUIC_PORT: u16 = 15443;

/// A Luhn-valid test card number (the DLP pack's card detector).
const CARD: &str = "4111 1111 1111 1111";

/// `len` bytes of log-like text without secrets (the gateway's policy scans
/// every upload to origin.test).
fn log_text(len: usize) -> Bytes {
    const LINE: &[u8] = b"2026-11-23T08:00:00Z INFO user=alice action=view path=/q3 status=200\n";
    Bytes::from(LINE.iter().copied().cycle().take(len).collect::<Vec<u8>>())
}

async fn quic_gateway(action: QuicAction) -> Gateway {
    let g = gateway(Rules::IptablesRedirect, |c| {
        c.quic.listen = Listen::On(format!("0.0.0.0:{QUIC_PORT}").parse().expect("addr"));
        c.quic.action = action;
        // The gateway's policy scans uploads to origin.test: hold 10 MiB.
        c.dlp.hold_limit = 16 * 1024 * 1024;
        // The namespace origins speak TCP only.
        c.quic.upstream_h3 = false;
    })
    .await;
    g.topology.redirect_udp(QUIC_PORT);
    g
}

/// Runs `f` with an HTTP/3 client made in the client namespace, addressed
/// to origin.test at ORIGIN_V4:443 (the datagrams cross the gateway).
async fn in_client<T: Send + 'static>(
    g: &Gateway,
    f: impl FnOnce(Result<H3Client, String>) -> futures_util::future::BoxFuture<'static, T>
        + Send
        + 'static,
) -> T {
    let ca = g.proxy.ca_der();
    let handle = tokio::runtime::Handle::current();
    let client_ns = g.topology.client.clone();
    let topology = &g.topology;
    let run = move || {
        handle.block_on(async move {
            let origin = SocketAddr::new(ORIGIN_V4.into(), 443);
            let client = H3Client::connect(origin, "origin.test", ca).await;
            f(client).await
        })
    };
    tokio::task::block_in_place(|| topology.run_in(&client_ns, run))
}

#[tokio::test(flavor = "multi_thread")]
async fn http3_through_the_gateway_is_intercepted_and_a_planted_card_is_blocked() {
    let g = quic_gateway(QuicAction::Intercept).await;
    const SIZE: usize = 10 * 1024 * 1024;
    let (get, post, card) = in_client(&g, |client| {
        Box::pin(async move {
            let mut client = client.expect("QUIC through the gateway");
            let get = client
                .request("GET", "https://origin.test/hello", Bytes::new())
                .await;
            let post = client
                .request("POST", "https://origin.test/sha256", log_text(SIZE))
                .await
                .expect("POST");
            let card = client
                .request(
                    "POST",
                    "https://origin.test/upload",
                    Bytes::from(format!("card {CARD} exp 12/29")),
                )
                .await
                .expect("card POST");
            client.close();
            (get, post, card)
        })
    })
    .await;
    let get = match get {
        Ok(get) => get,
        Err(e) => panic!("GET: {e}; records: {:#?}", g.proxy.records()),
    };
    assert_eq!(get.status, 200);
    assert_eq!(get.body, "origin GET /hello");
    assert_eq!(post.status, 200, "{:?}", post.body);
    let seen: serde_json::Value = serde_json::from_slice(&post.body).expect("json");
    assert_eq!(seen["len"], SIZE);
    assert_eq!(seen["sha256"], sha256_hex(&log_text(SIZE)));
    assert_eq!(card.status, 403);
    // The 10 MiB upload arrived; the card upload added nothing.
    assert_eq!(
        g.tls_v4.stats.body_bytes.load(Ordering::SeqCst),
        SIZE as u64
    );
    assert!(g.tls_v4.seen().iter().all(|s| s.path != "/upload"));

    let r = g
        .proxy
        .wait_record(|r| r["path"] == "/upload" && r["client_alpn"] == "h3")
        .await;
    assert_eq!(r["listener"], "quic");
    assert_eq!(r["status"], 403);
    assert_eq!(r["action"], "block");
    assert_eq!(r["user"], "alice", "the address map names the client");
    let r = g
        .proxy
        .wait_record(|r| r["path"] == "/sha256" && r["client_alpn"] == "h3")
        .await;
    assert_eq!(r["host"], "origin.test");
    assert_eq!(r["status"], 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn blocked_quic_falls_back_to_tcp_and_is_still_inspected() {
    let g = quic_gateway(QuicAction::Block).await;
    let refused = in_client(&g, |client| {
        Box::pin(async move { client.err().unwrap_or_default() })
    })
    .await;
    assert!(refused.contains("refused"), "QUIC refused: {refused:?}");
    // What a browser does next: the same URL over TCP, diverted to the
    // transparent listener and intercepted.
    let (status, body) = g.https_get(&ORIGIN_V4.to_string(), "/after-fallback").await;
    assert_eq!(status, "200", "{body}");
    let r = g
        .proxy
        .wait_record(|r| is_transparent(r) && r["path"] == "/after-fallback")
        .await;
    assert_eq!(r["mode"], "intercepted");
    assert_eq!(r["client_alpn"], "h2");
}
