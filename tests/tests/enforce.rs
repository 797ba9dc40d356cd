//! Inline enforcement on live traffic: CONNECT-time blocks, per-request
//! policy, upload DLP with zero bytes at the origin, streaming download
//! abort, tenant headers, isolate-downloads, and records that never hold a
//! secret.

use std::io::Write;
use std::sync::atomic::Ordering;

use portcullis_tests::client::{curl, reqwest_client, run};
use portcullis_tests::origin::PLANTED_AWS_SECRET;
use portcullis_tests::{Origin, OriginOptions, TestPki, TestProxy};

const CARD: &str = "4111 1111 1111 1111";
const SSN: &str = "536-22-8726";

const POLICY: &str = r#"
version: 1
default: {action: allow}
dlp_profiles:
  secrets: {detectors: [], min_count: 1, action: block, severity: critical}
rules:
  - id: block-gambling
    when: {host: "casino.test"}
    action: block
    reason: Gambling sites are not allowed at work
  - id: scan-uploads-to-files
    when: {host: "files.test"}
    action: allow
    dlp_profile: secrets
  - id: isolate-downloads-docs
    when: {host: "docs.test"}
    action: isolate_downloads
  - id: warn-shadow-ai
    when: {host: "warn.test"}
    action: warn
    reason: This AI tool is not approved; do not paste company data
    warn_ttl: 1h
  - id: tenant-google
    when: {host: "mail.google.com"}
    action: allow
    tenant_restrictions: [{google: {domains: [corp.example]}}]
"#;

struct Setup {
    _pki: TestPki,
    origins: Vec<Origin>,
    proxy: TestProxy,
    _dir: tempfile::TempDir,
}

async fn setup(names: &[&str]) -> Setup {
    let pki = TestPki::new();
    let mut origins = Vec::new();
    for name in names {
        origins.push(Origin::start(&pki, OriginOptions::new(name)).await);
    }
    let dir = tempfile::tempdir().expect("dir");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("write");
    let refs: Vec<&Origin> = origins.iter().collect();
    let mut config = TestProxy::config(&pki, &refs);
    config.policy.file = Some(policy);
    config.log.incidents = portcullis::config::LogTarget::File(dir.path().join("incidents.log"));
    let proxy = TestProxy::start(config).await;
    Setup {
        _pki: pki,
        origins,
        proxy,
        _dir: dir,
    }
}

fn incidents(s: &Setup) -> Vec<serde_json::Value> {
    std::fs::read_to_string(s._dir.path().join("incidents.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// POSTs `body` to an origin's `/sha256` and asserts it arrived byte-identical.
async fn arrives_intact(client: &reqwest::Client, url: &str, body: String) {
    let expected = portcullis_tests::sha256_hex(body.as_bytes());
    let resp = client.post(url).body(body).send().await.expect("POST");
    assert_eq!(resp.status(), 200);
    let json: serde_json::Value =
        serde_json::from_str(&resp.text().await.expect("t")).expect("json");
    assert_eq!(json["sha256"], expected);
}

/// Waits (up to 10 s) for an incident satisfying `pred`: the incident log
/// is written by its own background writer, after the access record.
async fn wait_incident(s: &Setup, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(i) = incidents(s).into_iter().find(|i| pred(i)) {
            return i;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no matching incident; have: {:#?}",
            incidents(s)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connect_time_block_is_served_inside_tls_with_the_reference_id() {
    let s = setup(&["casino.test"]).await;
    let origin = &s.origins[0];
    let mut cmd = curl(&s.proxy);
    cmd.args(["-H", "Accept: text/html", "--write-out", "\n%{http_code}"])
        .arg(format!("https://casino.test:{}/", origin.port()));
    let out = run(cmd).await;
    assert!(
        out.status.success(),
        "curl exits 0: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n403"), "{text}");
    assert!(
        text.contains("Gambling sites are not allowed at work"),
        "{text}"
    );
    let record = s
        .proxy
        .wait_record(|r| r["host"] == "casino.test" && r["method"] == "GET")
        .await;
    let reference = record["request_id"].as_str().expect("id");
    assert!(
        text.contains(reference),
        "the page carries the record's request id"
    );
    assert_eq!(record["rule"], "block-gambling");
    assert_eq!(record["action"], "block");
    assert_eq!(
        origin.stats.connections.load(Ordering::SeqCst),
        0,
        "the destination is never contacted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_card_number_upload_is_blocked_with_zero_bytes_at_the_origin() {
    let s = setup(&["files.test", "other.test"]).await;
    let (files, other) = (&s.origins[0], &s.origins[1]);
    let client = reqwest_client(&s.proxy, true);
    let body = format!("{{\"note\": \"pay with {CARD} please\"}}");
    let resp = client
        .post(format!("https://files.test:{}/sha256", files.port()))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 403);
    let json: serde_json::Value =
        serde_json::from_str(&resp.text().await.expect("t")).expect("json page");
    assert!(json["reference"].is_string());
    assert_eq!(files.stats.body_bytes.load(Ordering::SeqCst), 0);
    assert!(
        files.seen().is_empty(),
        "the request never reached the origin"
    );

    // The same upload where the policy does not scan goes through intact.
    let url = format!("https://other.test:{}/sha256", other.port());
    arrives_intact(&client, &url, body).await;

    // A clean upload to the scanned app is forwarded byte-identical.
    let url = format!("https://files.test:{}/sha256", files.port());
    arrives_intact(&client, &url, "nothing to see here".repeat(1000)).await;

    let record = s
        .proxy
        .wait_record(|r| r["host"] == "files.test" && r["status"] == 403)
        .await;
    assert_eq!(record["action"], "block");
    assert_eq!(record["dlp"][0], "card-visa");
    let incident = wait_incident(&s, |i| i["direction"] == "upload").await;
    assert_eq!(incident["request_id"], record["request_id"]);
    assert_eq!(incident["rules"][0]["rule"], "card-visa");
    assert_eq!(incident["excerpts"][0]["excerpt"], "4111***********1111");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gzip_json_upload_with_an_ssn_is_found() {
    let s = setup(&["files.test"]).await;
    let files = &s.origins[0];
    let json = format!("{{\"employee\": {{\"name\": \"Kim\", \"ssn\": \"SSN {SSN}\"}}}}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json.as_bytes()).expect("gz");
    let resp = reqwest_client(&s.proxy, false)
        .post(format!("https://files.test:{}/sha256", files.port()))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().expect("gz"))
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 403);
    assert_eq!(files.stats.body_bytes.load(Ordering::SeqCst), 0);
    let record = s.proxy.wait_record(|r| r["status"] == 403).await;
    assert_eq!(record["dlp"][0], "us-ssn");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_deep_in_a_download_aborts_the_stream() {
    let s = setup(&["files.test"]).await;
    let files = &s.origins[0];
    let size = 50 * 1024 * 1024;
    let at = 40 * 1024 * 1024;
    for h2 in [true, false] {
        let resp = reqwest_client(&s.proxy, h2)
            .get(format!(
                "https://files.test:{}/leak?size={size}&at={at}",
                files.port()
            ))
            .send()
            .await
            .expect("GET");
        assert_eq!(resp.status(), 200);
        let mut received = 0usize;
        let mut resp = resp;
        let outcome = loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => received += chunk.len(),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        assert!(
            outcome.is_err(),
            "the response must be aborted (h2={h2}): received {received}, records {:#?}",
            s.proxy.records()
        );
        assert!(received >= 30 * 1024 * 1024, "received {received}");
        assert!(
            received < at + 100,
            "the secret was not delivered: received {received}"
        );
    }
    let record = s
        .proxy
        .wait_record(|r| r["path"] == "/leak" && r["action"] == "block")
        .await;
    assert_eq!(record["dlp"][0], "aws-secret-access-key");
    wait_incident(&s, |i| i["direction"] == "download").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_headers_arrive_and_isolate_downloads_blocks_files() {
    let s = setup(&["mail.google.com", "docs.test"]).await;
    let (mail, docs) = (&s.origins[0], &s.origins[1]);
    let client = reqwest_client(&s.proxy, true);
    let resp = client
        .get(format!("https://mail.google.com:{}/inbox", mail.port()))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200);
    let seen = mail.seen();
    assert_eq!(
        seen[0].headers["x-googapps-allowed-domains"],
        "corp.example"
    );

    let page = client
        .get(format!("https://docs.test:{}/page", docs.port()))
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("t").contains("hello"));
    let file = client
        .get(format!("https://docs.test:{}/attachment", docs.port()))
        .send()
        .await
        .expect("GET");
    assert_eq!(file.status(), 403);
    let record = s.proxy.wait_record(|r| r["path"] == "/attachment").await;
    assert_eq!(record["rule"], "isolate-downloads-docs");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_log_holds_a_planted_secret() {
    let s = setup(&["files.test"]).await;
    let files = &s.origins[0];
    let client = reqwest_client(&s.proxy, true);
    for body in [format!("card {CARD}"), format!("SSN {SSN}")] {
        let resp = client
            .post(format!("https://files.test:{}/sha256", files.port()))
            .body(body)
            .send()
            .await
            .expect("POST");
        assert_eq!(resp.status(), 403);
    }
    // The download is aborted by DLP; depending on timing the abort reaches
    // the client before or after the response head.
    if let Ok(resp) = client
        .get(format!(
            "https://files.test:{}/leak?size=200000&at=100000",
            files.port()
        ))
        .send()
        .await
    {
        let _ = resp.bytes().await;
    }
    s.proxy.wait_record(|r| r["path"] == "/leak").await;
    s.proxy.server.shutdown().await;
    // Every file the proxy wrote: logs, the usage database, the CA directory.
    let mut logs = String::new();
    let mut files = 0;
    let mut dirs = vec![
        s._dir.path().to_path_buf(),
        s.proxy.access_log.parent().expect("p").to_path_buf(),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files += 1;
                logs.push_str(&String::from_utf8_lossy(
                    &std::fs::read(&path).expect("read"),
                ));
            }
        }
    }
    assert!(
        files >= 4,
        "access log, incident log, usage database, CA files"
    );
    assert!(
        logs.contains("SQLite format 3"),
        "the usage database was scanned"
    );
    assert!(logs.contains("incident"), "incidents were written");
    for secret in [CARD, "4111111111111111", SSN, PLANTED_AWS_SECRET] {
        assert!(!logs.contains(secret), "a log holds {secret}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn warn_pages_need_an_acknowledgement_remembered_per_user_and_app() {
    let s = setup(&["warn.test"]).await;
    let origin = &s.origins[0];
    let base = format!("https://warn.test:{}", origin.port());
    let client = reqwest_client(&s.proxy, true);
    let resp = client
        .get(format!("{base}/chat?x=1"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 403);
    let page: serde_json::Value =
        serde_json::from_str(&resp.text().await.expect("t")).expect("json");
    assert_eq!(page["app"], "warn.test");
    let ack = page["acknowledge_url"].as_str().expect("url").to_owned();
    assert!(ack.contains("next=/chat%3Fx%3D1"), "{ack}");
    assert!(origin.seen().is_empty());

    // A forged token is refused.
    let forged = client
        .get(format!(
            "{base}/.portcullis/acknowledge?token=00&next=/chat"
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(forged.status(), 403);

    // The acknowledgement redirects back, and the page then loads.
    let resp = client
        .get(format!("{base}{ack}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200, "followed the 303 to the page");
    assert!(resp.text().await.expect("t").contains("origin GET /chat"));
    let again = client
        .get(format!("{base}/other"))
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), 200, "remembered for the app");
    assert_eq!(origin.seen().len(), 2);
    s.proxy.wait_record(|r| r["action"] == "acknowledge").await;
}

fn ws_frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode];
    assert!(payload.len() < 126);
    out.push(0x80 | payload.len() as u8);
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_in_masked_fragmented_compressed_websocket_frames_is_blocked() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = setup(&["files.test"]).await;
    let files = &s.origins[0];
    let mut tls = portcullis_tests::client::tls_tunnel(
        s.proxy.server.proxy_addr,
        "files.test",
        files.port(),
        "files.test",
        s.proxy.ca_der(),
        &[b"http/1.1"],
    )
    .await
    .expect("tls");
    let port = files.port();
    tls.write_all(
        format!(
            "GET /ws HTTP/1.1\r\nHost: files.test:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let head = portcullis_tests::client::read_head(&mut tls).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("permessage-deflate"),
        "{head}"
    );

    // A clean message is relayed and echoed.
    tls.write_all(&ws_frame(true, false, 0x1, b"hello", [1, 2, 3, 4]))
        .await
        .expect("write");
    let mut echo = [0u8; 7];
    tls.read_exact(&mut echo).await.expect("echo");
    assert_eq!(&echo[2..], b"hello");

    // The secret: deflated, split over two masked fragments.
    let secret = format!("aws_secret_access_key = {PLANTED_AWS_SECRET}");
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut compressed = Vec::with_capacity(256);
    c.compress_vec(
        secret.as_bytes(),
        &mut compressed,
        flate2::FlushCompress::Sync,
    )
    .expect("deflate");
    compressed.truncate(compressed.len() - 4);
    let (a, b) = compressed.split_at(compressed.len() / 2);
    tls.write_all(&ws_frame(false, true, 0x1, a, [9, 8, 7, 6]))
        .await
        .expect("write");
    tls.write_all(&ws_frame(true, false, 0x0, b, [5, 4, 3, 2]))
        .await
        .expect("write");
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest).await;
    assert!(rest.is_empty(), "the connection is closed without an echo");
    let record = s
        .proxy
        .wait_record(|r| r["path"] == "/ws" && r["action"] == "block")
        .await;
    assert_eq!(record["dlp"][0], "aws-secret-access-key");
    assert_eq!(
        files.stats.ws_messages.load(Ordering::SeqCst),
        1,
        "only the clean message arrived"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_on_the_hash_blocklist_is_blocked() {
    use sha2::Digest;
    let pki = TestPki::new();
    let files = Origin::start(&pki, OriginOptions::new("files.test")).await;
    let dir = tempfile::tempdir().expect("dir");
    let evil = b"MZ\x90\x00 not really malware, but on the list".to_vec();
    let blocklist = dir.path().join("hashes.txt");
    std::fs::write(
        &blocklist,
        format!(
            "# known bad\n{}\n",
            hex::encode(sha2::Sha256::digest(&evil))
        ),
    )
    .expect("write");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("write");
    let mut config = TestProxy::config(&pki, &[&files]);
    config.policy.file = Some(policy);
    config.dlp.blocklist = Some(blocklist);
    let proxy = TestProxy::start(config).await;
    let boundary = "XyZ123";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"tool.exe\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&evil);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = reqwest_client(&proxy, true)
        .post(format!("https://files.test:{}/sha256", files.port()))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 403);
    assert_eq!(files.stats.body_bytes.load(Ordering::SeqCst), 0);
    let record = proxy.wait_record(|r| r["status"] == 403).await;
    assert_eq!(record["action"], "block");
}
