//! Proxy authentication (users file), failure throttling and trusted
//! identity headers.

use portcullis_tests::client::{curl, run};
use portcullis_tests::{Origin, OriginOptions, TestPki, TestProxy};

fn users_file(dir: &std::path::Path) -> std::path::PathBuf {
    let hash = bcrypt::hash("correct horse", 4).expect("hash");
    let path = dir.join("users.toml");
    std::fs::write(
        &path,
        format!("[[user]]\nname = \"alice\"\npassword = \"{hash}\"\ngroups = [\"engineering\", \"ai-pilot\"]\n"),
    )
    .expect("write");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn users_file_authentication_with_407_and_throttling() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("origin.test")).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut config = TestProxy::config(&pki, &[&origin]);
    config.identity.require = true;
    config.identity.users_file = Some(users_file(dir.path()));
    config.identity.failed_limit = 3;
    let proxy = TestProxy::start(config).await;
    let url = format!("https://origin.test:{}/bytes/5", origin.port());

    let mut cmd = curl(&proxy);
    cmd.args([
        "--write-out",
        "%{http_connect}",
        "--output",
        "/dev/null",
        &url,
    ]);
    let out = run(cmd).await;
    // curl reports a failed CONNECT (407) with exit code 56 and code 407.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "407", "{out:?}");

    let mut cmd = curl(&proxy);
    cmd.args(["--proxy-user", "alice:correct horse", &url]);
    let out = run(cmd).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 5);
    let r = proxy.wait_record(|r| r["path"] == "/bytes/5").await;
    assert_eq!(r["user"], "alice");

    for expected in ["407", "407", "407", "429"] {
        let mut cmd = curl(&proxy);
        cmd.args([
            "--proxy-user",
            "alice:wrong",
            "--write-out",
            "%{http_connect}",
            "--output",
            "/dev/null",
            &url,
        ]);
        let out = run(cmd).await;
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }
    // An empty password is refused, and no log line carries a password.
    let mut cmd = curl(&proxy);
    cmd.args([
        "--proxy-user",
        "alice:",
        "--write-out",
        "%{http_connect}",
        "--output",
        "/dev/null",
        &url,
    ]);
    let out = run(cmd).await;
    assert_ne!(String::from_utf8_lossy(&out.stdout), "200");
    let log = std::fs::read_to_string(&proxy.access_log).expect("log");
    assert!(!log.contains("correct horse") && !log.contains("wrong"));
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_headers_only_from_trusted_sources_and_never_forwarded() {
    let pki = TestPki::new();
    let mut plain = OriginOptions::new("plain.test");
    plain.plain = true;
    let origin = Origin::start(&pki, plain).await;
    for (source, trusted) in [("127.0.0.0/8", true), ("10.0.0.0/8", false)] {
        let mut config = TestProxy::config(&pki, &[&origin]);
        config.identity.trusted_headers.sources = vec![source.parse().expect("net")];
        let proxy = TestProxy::start(config).await;
        let client = reqwest::Client::builder()
            .proxy(reqwest::Proxy::http(proxy.url()).expect("proxy"))
            .build()
            .expect("client");
        let resp = client
            .get(format!("http://plain.test:{}/who", origin.port()))
            .header("x-authenticated-user", "bob")
            .header("x-authenticated-groups", "finance, admins")
            .send()
            .await
            .expect("GET");
        assert_eq!(resp.status(), 200);
        let r = proxy.wait_record(|r| r["path"] == "/who").await;
        if trusted {
            assert_eq!(r["user"], "bob");
        } else {
            assert!(r["user"].is_null(), "{r}");
        }
    }
    for seen in origin.seen() {
        assert!(!seen.headers.contains_key("x-authenticated-user"));
        assert!(!seen.headers.contains_key("x-authenticated-groups"));
    }
}
