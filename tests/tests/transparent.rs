//! The transparent gateway end to end: a client namespace whose traffic to
//! an origin namespace is routed through a gateway namespace where
//! iptables/nftables hand ports 80 and 443 to Portcullis — REDIRECT and
//! TPROXY, IPv4 and IPv6 — with the system curl as the client (it has no
//! idea a proxy is there) and real origins.
//!
//! Needs root and iproute2/iptables/nftables (`.ci/run` installs them): the
//! tests fail, saying what is missing, when the machine cannot create
//! network namespaces — they never skip.

use std::sync::atomic::Ordering;

use portcullis::config::NoSni;
use portcullis_tests::gateway::{gateway, is_transparent, toml_client, Rules};
use portcullis_tests::netns::{ORIGIN2_V4, ORIGIN_V4, ORIGIN_V6};

/// A Luhn-valid test card number (the DLP pack's card detector).
const CARD: &str = "4111 1111 1111 1111";

/// Intercepts HTTPS (IPv4 and IPv6) and relays plain HTTP by `Host`, and
/// names the user from the static address map.
async fn https_and_plain_through(rules: Rules) {
    let g = gateway(rules, |_| {}).await;
    let (status, body) = g.https_get(&ORIGIN_V4.to_string(), "/hello").await;
    assert_eq!(status, "200", "{body}");
    assert_eq!(body, "origin GET /hello");
    assert_eq!(g.tls_v4.stats.handshakes.load(Ordering::SeqCst), 1);
    let r = g
        .proxy
        .wait_record(|r| is_transparent(r) && r["path"] == "/hello" && r["mode"] == "intercepted")
        .await;
    assert_eq!(r["host"], "origin.test");
    assert_eq!(r["port"], 443);
    assert_eq!(r["status"], 200);
    assert_eq!(r["user"], "alice", "the static map names 10.10.1.2");

    let (status, body) = g.https_get(&format!("[{ORIGIN_V6}]"), "/six").await;
    assert_eq!(status, "200", "{body}");
    assert_eq!(g.tls_v6.stats.handshakes.load(Ordering::SeqCst), 1);
    let r = g
        .proxy
        .wait_record(|r| is_transparent(r) && r["path"] == "/six")
        .await;
    assert_eq!(r["mode"], "intercepted");
    assert!(
        r["user"].is_null(),
        "the IPv6 client is not in the map: {r}"
    );

    let resolve = format!("origin.test:80:{ORIGIN_V4}");
    let (ok, out, err) = g
        .curl(&[
            "--resolve",
            &resolve,
            "-w",
            "\n%{http_code}",
            "http://origin.test/plain?q=1",
        ])
        .await;
    assert!(ok, "{err}");
    assert!(out.ends_with("\n200"), "{out}");
    let seen = g.plain_v4.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/plain?q=1", "origin-form kept");
    assert_eq!(seen[0].headers["host"], "origin.test");
    let r = g
        .proxy
        .wait_record(|r| is_transparent(r) && r["path"] == "/plain")
        .await;
    assert_eq!(
        (r["scheme"].as_str(), r["mode"].as_str()),
        (Some("http"), Some("plain"))
    );
    assert_eq!(
        (r["host"].as_str(), r["port"].as_u64()),
        (Some("origin.test"), Some(80))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_iptables_ipv4_ipv6_https_and_plain() {
    https_and_plain_through(Rules::IptablesRedirect).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_nftables_ipv4_ipv6_https_and_plain() {
    https_and_plain_through(Rules::NftablesRedirect).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tproxy_ipv4_ipv6_https_and_plain() {
    https_and_plain_through(Rules::Tproxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tproxy_nftables_ipv4_ipv6_https_and_plain() {
    https_and_plain_through(Rules::NftablesTproxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_server_name_is_blocked() {
    let g = gateway(Rules::IptablesRedirect, |c| {
        c.transparent.no_sni = NoSni::Block
    })
    .await;
    // An IP-literal URL: curl sends no SNI.
    let ca = g.proxy_ca();
    let (ok, _, err) = g
        .curl(&["--cacert", &ca, &format!("https://{ORIGIN_V4}/")])
        .await;
    assert!(!ok, "a ClientHello without SNI must not get through");
    let r = g
        .proxy
        .wait_record(|r| is_transparent(r) && r["action"] == "block")
        .await;
    assert_eq!(r["status"], 403, "{err}");
    assert!(
        r["error"].as_str().unwrap_or("").contains("server name"),
        "{r}"
    );
    assert_eq!(g.tls_v4.stats.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bypass_only_when_the_name_resolves_to_the_destination() {
    let g = gateway(Rules::IptablesRedirect, |_| {}).await;
    // pinned.test really is at ORIGIN2_V4: relayed blind, the client sees the
    // origin's own certificate (trusting only the origin's root).
    let root = g.pki.root_pem.display().to_string();
    let resolve = format!("pinned.test:443:{ORIGIN2_V4}");
    let (ok, out, err) = g
        .curl(&[
            "--cacert",
            &root,
            "--resolve",
            &resolve,
            "https://pinned.test/pinned",
        ])
        .await;
    assert!(ok, "blind relay to pinned.test: {err}");
    assert_eq!(out, "origin GET /pinned");
    assert_eq!(g.pinned.stats.handshakes.load(Ordering::SeqCst), 1);
    let r = g
        .proxy
        .wait_record(|r| is_transparent(r) && r["host"] == "pinned.test")
        .await;
    assert_eq!(
        (r["mode"].as_str(), r["action"].as_str()),
        (Some("tunnel"), Some("bypass"))
    );

    // bypassed.test named while connecting to ORIGIN_V4, where it does not
    // live: not relayed blind but intercepted — the client gets a leaf minted
    // by the proxy (the origin's root does not verify it)...
    let resolve = format!("bypassed.test:443:{ORIGIN_V4}");
    let (ok, _, _) = g
        .curl(&[
            "--cacert",
            &root,
            "--resolve",
            &resolve,
            "https://bypassed.test/",
        ])
        .await;
    assert!(!ok, "a faked bypassed SNI must not reach the origin blind");
    // ...and, trusting the proxy's CA, the proxy's error page: the origin's
    // certificate is not valid for bypassed.test.
    let (status, out) = g.curl_via(&resolve, &[], "https://bypassed.test/x").await;
    assert_eq!(status, "502", "{out}");
    let r = g
        .proxy
        .wait_record(|r| is_transparent(r) && r["host"] == "bypassed.test" && r["status"] == 502)
        .await;
    assert_eq!(r["mode"], "intercepted");
    assert_ne!(r["action"], "bypass");
    assert_eq!(
        g.tls_v4.stats.handshakes.load(Ordering::SeqCst),
        0,
        "the origin never completed a handshake"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_card_number_is_blocked_with_zero_bytes_at_the_origin() {
    let g = gateway(Rules::IptablesRedirect, |_| {}).await;
    let body = format!("{{\"note\": \"pay with {CARD} please\"}}");
    let resolve = format!("origin.test:443:{ORIGIN_V4}");
    let (status, out) = g
        .curl_via(
            &resolve,
            &[
                "-H",
                "content-type: application/json",
                "--data-binary",
                &body,
            ],
            "https://origin.test/sha256",
        )
        .await;
    assert_eq!(status, "403", "{out}");
    assert_eq!(g.tls_v4.stats.body_bytes.load(Ordering::SeqCst), 0);
    assert!(
        g.tls_v4.seen().is_empty(),
        "the request never reached the origin"
    );
    let r = g
        .proxy
        .wait_record(|r| is_transparent(r) && r["path"] == "/sha256")
        .await;
    assert_eq!(r["status"], 403);
    assert!(
        !r.to_string().contains("4111"),
        "records never hold the card: {r}"
    );

    // The same over plain HTTP (port 80).
    let resolve = format!("origin.test:80:{ORIGIN_V4}");
    let (ok, out, err) = g
        .curl(&[
            "--resolve",
            &resolve,
            "-w",
            "\n%{http_code}",
            "--data-binary",
            &body,
            "http://origin.test/sha256",
        ])
        .await;
    assert!(ok, "{err}");
    assert!(out.ends_with("\n403"), "{out}");
    assert_eq!(g.plain_v4.stats.body_bytes.load(Ordering::SeqCst), 0);
    assert!(g.plain_v4.seen().is_empty());

    // A clean upload goes through.
    let resolve = format!("origin.test:443:{ORIGIN_V4}");
    let (status, out) = g
        .curl_via(
            &resolve,
            &["--data-binary", "nothing to see"],
            "https://origin.test/sha256",
        )
        .await;
    assert_eq!(status, "200", "{out}");
    assert_eq!(g.tls_v4.stats.body_bytes.load(Ordering::SeqCst), 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_destinations_are_refused_with_the_reason() {
    // Without upstream.allow_private the origin's 10.10.2.2 is a private
    // address: the same SSRF rule as explicit mode.
    let g = gateway(Rules::IptablesRedirect, |c| {
        c.upstream.allow_private = false
    })
    .await;
    let resolve = format!("origin.test:443:{ORIGIN_V4}");
    let (status, out) = g.curl_via(&resolve, &[], "https://origin.test/").await;
    assert_eq!(status, "403", "{out}");
    assert!(out.contains("private address"), "{out}");
    assert_eq!(g.tls_v4.stats.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_server_name_can_be_intercepted_by_address() {
    let g = gateway(Rules::IptablesRedirect, |c| {
        c.transparent.no_sni = NoSni::InterceptByAddress;
    })
    .await;
    // The leaf is minted for the IP address (curl checks its IP SAN); the
    // origin's certificate names origin.test, not the address, so the
    // verified upstream handshake fails and the proxy says so.
    let ca = g.proxy_ca();
    let (ok, out, err) = g
        .curl(&[
            "--cacert",
            &ca,
            "-w",
            "\n%{http_code}",
            &format!("https://{ORIGIN_V4}/ip"),
        ])
        .await;
    assert!(ok, "{err}");
    assert!(out.ends_with("\n502"), "{out}");
    let r = g
        .proxy
        .wait_record(|r| {
            is_transparent(r) && r["host"] == ORIGIN_V4.to_string() && r["status"] == 502
        })
        .await;
    assert_eq!(r["mode"], "intercepted");
    assert_eq!(g.tls_v4.stats.handshakes.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_required_refuses_clients_the_map_does_not_name() {
    let g = gateway(Rules::IptablesRedirect, |c| {
        c.identity.require = true;
        c.transparent.clients = vec![toml_client("fd10:1::2", "bob")];
    })
    .await;
    // The IPv6 client is bob: served.
    let (status, _) = g.https_get(&format!("[{ORIGIN_V6}]"), "/mapped").await;
    assert_eq!(status, "200");
    let r = g
        .proxy
        .wait_record(|r| is_transparent(r) && r["path"] == "/mapped")
        .await;
    assert_eq!(r["user"], "bob");
    // The IPv4 client is in no map and there is no portal: refused, for
    // HTTPS and plain HTTP alike, and the origins never hear of it.
    let (status, body) = g.https_get(&ORIGIN_V4.to_string(), "/unmapped").await;
    assert_eq!(status, "403", "{body}");
    assert!(body.contains("identified clients only"), "{body}");
    assert_eq!(g.tls_v4.stats.connections.load(Ordering::SeqCst), 0);
    let resolve = format!("origin.test:80:{ORIGIN_V4}");
    let (ok, out, err) = g
        .curl(&[
            "--resolve",
            &resolve,
            "-w",
            "\n%{http_code}",
            "http://origin.test/plain",
        ])
        .await;
    assert!(ok, "{err}");
    assert!(out.ends_with("\n403"), "{out}");
    assert!(g.plain_v4.seen().is_empty());
}
