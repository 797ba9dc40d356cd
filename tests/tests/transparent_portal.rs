//! The captive portal of the transparent gateway, end to end: curl in a
//! client namespace behind a gateway namespace running Portcullis (see
//! `transparent.rs` and `tests/src/gateway.rs`). Needs root and
//! iproute2/iptables/nftables; fails saying what is missing otherwise.

use std::sync::atomic::Ordering;

use portcullis_tests::gateway::{gateway, is_transparent, Rules};
use portcullis_tests::netns::ORIGIN_V4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captive_portal_binds_the_client_address_to_the_user() {
    let users = tempfile::tempdir().expect("dir");
    let users_file = users.path().join("users.toml");
    let hash = bcrypt::hash("correct horse", 4).expect("hash");
    std::fs::write(
        &users_file,
        format!("[[user]]\nname = \"alice\"\npassword = \"{hash}\"\ngroups = [\"staff\"]\n"),
    )
    .expect("write users");
    let g = gateway(Rules::IptablesRedirect, move |c| {
        c.transparent.clients.clear();
        c.transparent.portal.enabled = true;
        c.identity.users_file = Some(users_file);
    })
    .await;
    let plain = format!("origin.test:80:{ORIGIN_V4}");
    let tls = format!("origin.test:443:{ORIGIN_V4}");
    let ca = g.proxy_ca();
    let status_and_location = ["-o", "/dev/null", "-w", "%{http_code} %header{location}"];

    // Unidentified: plain HTTP is sent to the sign-in page...
    let mut args = vec!["--resolve", plain.as_str()];
    args.extend(status_and_location);
    args.push("http://origin.test/page?x=1");
    let (ok, out, err) = g.curl(&args).await;
    assert!(ok, "{err}");
    assert_eq!(out, "302 /.portcullis/login?return=%2Fpage%3Fx%3D1");
    // ...which the proxy serves itself...
    let (ok, out, err) = g
        .curl(&[
            "--resolve",
            &plain,
            "http://origin.test/.portcullis/login?return=%2Fpage",
        ])
        .await;
    assert!(ok, "{err}");
    assert!(
        out.contains("<form") && out.contains("value=\"/page\""),
        "{out}"
    );
    // ...and HTTPS is answered with a page saying so (inside a minted session).
    let (ok, out, err) = g
        .curl(&[
            "--cacert",
            &ca,
            "--resolve",
            &tls,
            "-w",
            "\n%{http_code}",
            "https://origin.test/",
        ])
        .await;
    assert!(ok, "{err}");
    assert!(out.ends_with("\n511") && out.contains("http://"), "{out}");
    assert!(g.plain_v4.seen().is_empty(), "nothing reached the origin");
    assert_eq!(g.tls_v4.stats.connections.load(Ordering::SeqCst), 0);

    // A wrong password is refused; the right one binds 10.10.1.2 to alice.
    let mut args = vec!["--resolve", plain.as_str()];
    args.extend(status_and_location);
    args.extend([
        "--data",
        "user=alice&password=wrong&return=%2Fpage",
        "http://origin.test/.portcullis/login",
    ]);
    let (ok, out, err) = g.curl(&args).await;
    assert!(ok, "{err}");
    assert_eq!(out, "401 ");
    let mut args = vec!["--resolve", plain.as_str()];
    args.extend(status_and_location);
    args.extend([
        "--data",
        "user=alice&password=correct%20horse&return=%2Fpage",
        "http://origin.test/.portcullis/login",
    ]);
    let (ok, out, err) = g.curl(&args).await;
    assert!(ok, "{err}");
    assert_eq!(out, "302 /page");
    assert!(
        g.plain_v4.seen().is_empty(),
        "the form never reached the origin"
    );
    let r = g
        .proxy
        .wait_record(|r| is_transparent(r) && r["method"] == "POST" && r["status"] == 302)
        .await;
    assert!(
        !r.to_string().contains("correct"),
        "no password in records: {r}"
    );

    // Signed in: both plain HTTP and HTTPS go through, recorded as alice.
    let (ok, out, err) = g
        .curl(&["--resolve", &plain, "http://origin.test/page"])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out, "<!doctype html><html><body>hello</body></html>");
    let (status, body) = g.https_get(&ORIGIN_V4.to_string(), "/secure").await;
    assert_eq!(status, "200", "{body}");
    for path in ["/page", "/secure"] {
        let r = g
            .proxy
            .wait_record(|r| is_transparent(r) && r["path"] == path && r["status"] == 200)
            .await;
        assert_eq!(r["user"], "alice", "{r}");
    }
}
