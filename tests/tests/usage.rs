//! Usage rows and the shadow-IT report: traffic to catalogued apps (one
//! marked unsanctioned, one sanctioned, one never reviewed) and to unknown
//! hosts, flushed to SQLite at shutdown, then reported through the library
//! function the `portcullis report shadow-it` command prints.

use std::net::IpAddr;

use portcullis::records::usage::{ReportFormat, ShadowItReport};
use portcullis_tests::client::tls_config;
use portcullis_tests::{Origin, OriginOptions, TestPki, TestProxy};

const STATUS: &str = "status:\n  dropbox: unsanctioned\n  box: sanctioned\n";

const POLICY: &str = r#"
version: 1
default: {action: allow}
rules:
  - id: block-tinyshare-admin
    when: {host: "admin.tinyshare.test"}
    action: block
"#;

/// A client through the proxy asserting `user` in a trusted identity header
/// on its CONNECTs; trusts `root` (the proxy CA, or the test PKI for
/// bypassed hosts).
fn client_as(
    proxy: &TestProxy,
    root: rustls_pki_types::CertificateDer<'static>,
    user: &str,
) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-authenticated-user", user.parse().expect("header"));
    let tls = (*tls_config(root, &[b"http/1.1"])).clone();
    reqwest::Client::builder()
        .proxy(
            reqwest::Proxy::all(proxy.url())
                .expect("proxy")
                .headers(headers),
        )
        .use_preconfigured_tls(tls)
        .http1_only()
        .build()
        .expect("client")
}

async fn upload(client: &reqwest::Client, origin: &Origin, host: &str, len: usize) {
    let resp = client
        .post(format!("https://{host}:{}/sha256", origin.port()))
        .body(portcullis_tests::pattern(len))
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), 200, "{host}");
    let json: serde_json::Value =
        serde_json::from_slice(&resp.bytes().await.expect("body")).expect("json");
    assert_eq!(json["len"], len);
}

async fn download(client: &reqwest::Client, origin: &Origin, host: &str, len: usize) -> u16 {
    let resp = client
        .get(format!("https://{host}:{}/bytes/{len}", origin.port()))
        .send()
        .await
        .expect("download");
    let status = resp.status().as_u16();
    let body = resp.bytes().await.expect("body");
    if status == 200 {
        assert_eq!(body.len(), len);
    }
    status
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_rows_feed_the_shadow_it_report() {
    let pki = TestPki::new();
    let names = [
        "www.dropbox.com",
        "www.box.com",
        "www.github.com",
        "up.shadowdrive.test",
        "cdn.shadowdrive.test",
        "files.tinyshare.test",
    ];
    let mut origins = Vec::new();
    for name in names {
        origins.push(Origin::start(&pki, OriginOptions::new(name)).await);
    }
    let [dropbox, boxcom, github, up, cdn, tiny] = &origins[..] else {
        unreachable!()
    };
    let dir = tempfile::tempdir().expect("dir");
    let status = dir.path().join("app-status.yaml");
    std::fs::write(&status, STATUS).expect("write");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("write");
    let refs: Vec<&Origin> = origins.iter().collect();
    let mut config = TestProxy::config(&pki, &refs);
    config.policy.app_status = Some(status.clone());
    config.policy.file = Some(policy);
    config.identity.trusted_headers.sources = vec!["127.0.0.1/32".parse().expect("net")];
    config.inspection.bypass = vec!["cdn.shadowdrive.test".into()];
    // Blocked at CONNECT time: resolvable, never contacted.
    let loopback: IpAddr = "127.0.0.1".parse().expect("ip");
    config
        .upstream
        .resolve
        .insert("admin.tinyshare.test".into(), vec![loopback]);
    let report_config = config.clone();
    let proxy = TestProxy::start(config).await;

    {
        let alice = client_as(&proxy, proxy.ca_der(), "alice");
        let bob = client_as(&proxy, proxy.ca_der(), "bob");
        let bob_blind = client_as(&proxy, pki.root_der(), "bob");
        upload(&alice, dropbox, "www.dropbox.com", 3_000).await;
        assert_eq!(
            download(&alice, dropbox, "www.dropbox.com", 5_000).await,
            200
        );
        assert_eq!(download(&bob, dropbox, "www.dropbox.com", 1_000).await, 200);
        upload(&alice, boxcom, "www.box.com", 50_000).await;
        assert_eq!(download(&bob, github, "www.github.com", 10).await, 200);
        upload(&alice, up, "up.shadowdrive.test", 20_000).await;
        upload(&bob_blind, cdn, "cdn.shadowdrive.test", 1_000).await;
        upload(&bob, tiny, "files.tinyshare.test", 500).await;
        assert_eq!(download(&bob, tiny, "admin.tinyshare.test", 10).await, 403);
    }
    // The clients are gone, so every connection ends; shutdown waits for
    // them and writes the usage rows.
    let data_dir = proxy.data_dir.clone();
    proxy.server.shutdown().await;

    let db = data_dir.join("usage.sqlite");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&db).expect("db").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the database is private");
    }

    let report = ShadowItReport::for_config(&report_config, &data_dir, None).expect("report");
    let apps: Vec<(&str, &str)> = report
        .apps
        .iter()
        .map(|a| (a.id.as_str(), a.status.as_str()))
        .collect();
    assert_eq!(
        apps,
        [
            ("dropbox", "unsanctioned"),
            ("github", "unreviewed"),
            ("box", "sanctioned"),
        ],
        "{report:#?}"
    );
    let d = &report.apps[0];
    assert_eq!(d.name, "Dropbox");
    assert_eq!(d.category.as_deref(), Some("file_sharing"));
    assert!(d.risk_score.is_some());
    assert_eq!(d.totals.users, 2);
    assert_eq!(d.totals.devices, 0);
    assert_eq!(d.totals.requests, 3);
    assert_eq!(d.totals.bytes_up, 3_000);
    assert!(d.totals.bytes_down >= 6_000, "{d:?}");
    assert_eq!((d.totals.blocked, d.totals.bypassed), (0, 0));
    assert!(d.totals.first_seen <= d.totals.last_seen);
    assert_eq!(report.apps[2].totals.bytes_up, 50_000);

    let unknown: Vec<&str> = report.unknown.iter().map(|u| u.domain.as_str()).collect();
    assert_eq!(
        unknown,
        ["shadowdrive.test", "tinyshare.test"],
        "{report:#?}"
    );
    let shadow = &report.unknown[0].totals;
    // Intercepted upload (20,000) plus a blind tunnel carrying 1,000 body
    // bytes inside TLS.
    assert!(shadow.bytes_up > 21_000, "{shadow:?}");
    assert_eq!(shadow.requests, 2);
    assert_eq!(shadow.users, 2);
    assert_eq!(shadow.bypassed, 1);
    let tiny_totals = &report.unknown[1].totals;
    assert_eq!(tiny_totals.bytes_up, 500);
    // The upload, plus the blocked CONNECT and the request answered inside
    // it (each an access record).
    assert_eq!(tiny_totals.requests, 3);
    assert_eq!(tiny_totals.blocked, 2);
    assert_eq!(tiny_totals.users, 1);

    // `--since` keeps what was seen recently.
    let recent = ShadowItReport::for_config(
        &report_config,
        &data_dir,
        Some(std::time::Duration::from_secs(3600)),
    )
    .expect("report");
    assert_eq!(recent, report);

    // What the binary prints (`portcullis report shadow-it --format json`,
    // exercised in proxy/tests/cli.rs) is this report rendered.
    let rows: serde_json::Value =
        serde_json::from_str(&report.render(ReportFormat::Json)).expect("json");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["id"], "dropbox");
    assert_eq!(rows[0]["status"], "unsanctioned");
    assert_eq!(rows[3]["kind"], "unknown");
    assert_eq!(rows[3]["id"], "shadowdrive.test");
}
