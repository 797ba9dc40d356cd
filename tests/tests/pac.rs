//! The PAC listener end to end: `/proxy.pac` and `/wpad.dat` fetched over
//! HTTP from a running proxy (headers, `ETag` revalidation, methods, paths),
//! then evaluated by a real PAC engine, `pactester` from pacparser (Debian
//! package `libpacparser1`), over a table of URLs and expected results.
//!
//! No DNS beyond `/etc/hosts`: the main and strict configurations set
//! `resolve_names = false`, and the one with name resolution only asks
//! about `localhost` and IP literals.

use std::path::Path;
use std::process::Command;

use portcullis::config::{Config, Listen};
use portcullis_tests::{TestPki, TestProxy};

const PROXIES: &str = "PROXY proxy-a.corp.example:3128; PROXY proxy-b.corp.example:3128";

fn pac_config(pki: &TestPki) -> Config {
    let mut c = TestProxy::config(pki, &[]);
    c.pac.listen = Listen::On("127.0.0.1:0".parse().expect("addr"));
    c.pac.proxies = vec![
        "proxy-a.corp.example:3128".into(),
        "proxy-b.corp.example:3128".into(),
    ];
    c.pac.direct = [
        ".corp.example",
        "intranet.partner.example",
        "10.0.0.0/8",
        "192.168.0.0/16",
        "fd00::/8",
    ]
    .map(String::from)
    .to_vec();
    c.pac.direct_plain_hosts = true;
    c.pac.resolve_names = false;
    c.pac.microsoft365_optimize = true;
    c.pac.microsoft365_tenant = Some("contoso".into());
    c.pac.cache_max_age = std::time::Duration::from_secs(600);
    // Bypassed (blind-relayed) hosts still go through the proxy.
    c.inspection.bypass = vec!["bank.example".into(), "*.pinned.example".into()];
    c
}

/// Runs `pactester` on `pac` for `url` (and an explicit host, which
/// pactester's own URL parser gets wrong for IPv6 literals).
fn pactester(pac: &Path, url: &str, host: Option<&str>) -> String {
    let mut cmd = Command::new("pactester");
    cmd.arg("-p").arg(pac).arg("-u").arg(url);
    if let Some(host) = host {
        cmd.arg("-h").arg(host);
    }
    cmd.arg("-c").arg("192.0.2.10");
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("pactester not found: install libpacparser1 (pactester) to run the PAC tests")
        }
        Err(e) => panic!("pactester: {e}"),
    };
    assert!(
        out.status.success(),
        "pactester failed for {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// Fetches `/proxy.pac` from `proxy` and writes it to a file in `dir`.
async fn fetch_to_file(proxy: &TestProxy, dir: &Path) -> std::path::PathBuf {
    let addr = proxy.server.pac_addr.expect("PAC listener on");
    let resp = client()
        .get(format!("http://{addr}/proxy.pac"))
        .send()
        .await
        .expect("GET /proxy.pac");
    assert_eq!(resp.status(), 200);
    let path = dir.join(format!("proxy-{}.pac", addr.port()));
    std::fs::write(&path, resp.bytes().await.expect("body")).expect("write pac");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn pac_file_is_served_with_caching_headers() {
    let pki = TestPki::new();
    let proxy = TestProxy::start(pac_config(&pki)).await;
    let addr = proxy.server.pac_addr.expect("PAC listener on");
    let http = client();

    let resp = http
        .get(format!("http://{addr}/proxy.pac"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/x-ns-proxy-autoconfig");
    assert_eq!(h["cache-control"], "max-age=600");
    let etag = h["etag"].to_str().expect("etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let body = resp.text().await.expect("body");
    assert!(body.contains("function FindProxyForURL(url, host)"));

    let wpad = http
        .get(format!("http://{addr}/wpad.dat"))
        .send()
        .await
        .expect("GET wpad");
    assert_eq!(wpad.status(), 200);
    assert_eq!(wpad.headers()["etag"].to_str().expect("etag"), etag);
    assert_eq!(wpad.text().await.expect("body"), body, "same file twice");

    let revalidated = http
        .get(format!("http://{addr}/proxy.pac"))
        .header("if-none-match", format!("\"stale\", {etag}"))
        .send()
        .await
        .expect("conditional GET");
    assert_eq!(revalidated.status(), 304);
    assert_eq!(revalidated.headers()["etag"].to_str().expect("etag"), etag);
    assert_eq!(revalidated.headers()["cache-control"], "max-age=600");
    assert!(revalidated.bytes().await.expect("body").is_empty());

    let changed = http
        .get(format!("http://{addr}/proxy.pac"))
        .header("if-none-match", "\"stale\"")
        .send()
        .await
        .expect("conditional GET");
    assert_eq!(changed.status(), 200);

    let head = http
        .head(format!("http://{addr}/wpad.dat"))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-type"],
        "application/x-ns-proxy-autoconfig"
    );

    let post = http
        .post(format!("http://{addr}/proxy.pac"))
        .send()
        .await
        .expect("POST");
    assert_eq!(post.status(), 405);
    for path in ["/", "/proxy.pac.bak", "/metrics"] {
        let resp = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("GET other");
        assert_eq!(resp.status(), 404, "{path}");
    }

    // A second start from the same configuration serves the same bytes.
    let again = TestProxy::start(pac_config(&pki)).await;
    let other = again.server.pac_addr.expect("PAC on");
    let resp = http
        .get(format!("http://{other}/proxy.pac"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.headers()["etag"].to_str().expect("etag"), etag);
    assert_eq!(resp.text().await.expect("body"), body);
}

#[tokio::test(flavor = "multi_thread")]
async fn pac_file_evaluates_as_configured() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("dir");
    let proxy = TestProxy::start(pac_config(&pki)).await;
    let main = fetch_to_file(&proxy, dir.path()).await;

    let mut fallback = pac_config(&pki);
    fallback.pac.fallback_direct = true;
    fallback.pac.resolve_names = true;
    fallback.pac.direct = vec!["127.0.0.0/8".into()];
    fallback.pac.direct_plain_hosts = false; // so `localhost` takes the DNS path
    fallback.pac.microsoft365_optimize = false;
    fallback.pac.microsoft365_tenant = None;
    let fallback_proxy = TestProxy::start(fallback).await;
    let with_fallback = fetch_to_file(&fallback_proxy, dir.path()).await;
    let fallback_result = format!("{PROXIES}; DIRECT");

    let mut strict = pac_config(&pki);
    strict.pac.direct_plain_hosts = false;
    strict.pac.microsoft365_optimize = false;
    strict.pac.microsoft365_tenant = None;
    let strict_proxy = TestProxy::start(strict).await;
    let strict = fetch_to_file(&strict_proxy, dir.path()).await;

    // (which file, URL, explicit host for pactester, expected result, why)
    let table: &[(&Path, &str, Option<&str>, &str, &str)] = &[
        (
            &main,
            "https://corp.example/",
            None,
            "DIRECT",
            "internal domain itself",
        ),
        (
            &main,
            "https://git.eng.corp.example/r",
            None,
            "DIRECT",
            "internal subdomain",
        ),
        (
            &main,
            "http://GIT.Corp.Example./",
            None,
            "DIRECT",
            "case and trailing dot",
        ),
        (
            &main,
            "https://evilcorp.example/",
            None,
            PROXIES,
            "suffix without a dot boundary",
        ),
        (
            &main,
            "https://corp.example.evil.test/",
            None,
            PROXIES,
            "internal name as a prefix",
        ),
        (
            &main,
            "https://intranet.partner.example/",
            None,
            "DIRECT",
            "exact host",
        ),
        (
            &main,
            "https://www.intranet.partner.example/",
            None,
            PROXIES,
            "exact host only",
        ),
        (&main, "http://wiki/page", None, "DIRECT", "plain host name"),
        (
            &main,
            "http://10.20.30.40/",
            None,
            "DIRECT",
            "private IPv4 literal via isInNet",
        ),
        (
            &main,
            "http://192.168.1.1:8080/",
            None,
            "DIRECT",
            "private IPv4 literal with port",
        ),
        (
            &main,
            "http://172.16.0.1/",
            None,
            PROXIES,
            "range not listed",
        ),
        (
            &main,
            "http://11.0.0.1/",
            None,
            PROXIES,
            "public IPv4 literal",
        ),
        (
            &main,
            "http://[fd00::1]/",
            Some("fd00::1"),
            "DIRECT",
            "IPv6 ULA literal",
        ),
        (
            &main,
            "http://[fd12:3456::1]/",
            Some("[fd12:3456::1]"),
            "DIRECT",
            "bracketed IPv6",
        ),
        (
            &main,
            "http://[2001:db8::1]/",
            Some("2001:db8::1"),
            PROXIES,
            "IPv6 outside the range",
        ),
        (
            &main,
            "https://outlook.office365.com/mail",
            None,
            "DIRECT",
            "M365 Optimize host",
        ),
        (
            &main,
            "https://outlook.office.com/",
            None,
            "DIRECT",
            "M365 Optimize host",
        ),
        (
            &main,
            "https://contoso.sharepoint.com/",
            None,
            "DIRECT",
            "tenant SharePoint",
        ),
        (
            &main,
            "https://contoso-my.sharepoint.com/",
            None,
            "DIRECT",
            "tenant OneDrive",
        ),
        (
            &main,
            "https://fabrikam.sharepoint.com/",
            None,
            PROXIES,
            "another tenant",
        ),
        (
            &main,
            "https://www.office.com/",
            None,
            PROXIES,
            "M365 but not Optimize",
        ),
        (
            &main,
            "https://bank.example/login",
            None,
            PROXIES,
            "bypass host still proxied",
        ),
        (
            &main,
            "https://app.pinned.example/",
            None,
            PROXIES,
            "bypass domain still proxied",
        ),
        (
            &main,
            "https://www.salesforce.com/",
            None,
            PROXIES,
            "SaaS, failover order",
        ),
        // This file resolves names: only literals and /etc/hosts names.
        (
            &with_fallback,
            "http://203.0.113.9/",
            None,
            &fallback_result,
            "fallback DIRECT",
        ),
        (
            &with_fallback,
            "http://10.20.30.40/",
            None,
            &fallback_result,
            "other ranges",
        ),
        (
            &with_fallback,
            "http://localhost:8080/",
            None,
            "DIRECT",
            "name resolved into 127/8",
        ),
        (
            &with_fallback,
            "http://127.0.0.1/",
            None,
            "DIRECT",
            "literal in 127/8",
        ),
        // Plain host names and Microsoft 365 are opt-in.
        (
            &strict,
            "http://wiki/page",
            None,
            PROXIES,
            "plain hosts not direct",
        ),
        (
            &strict,
            "http://localhost/",
            None,
            PROXIES,
            "names not resolved",
        ),
        (
            &strict,
            "https://outlook.office365.com/",
            None,
            PROXIES,
            "M365 set off",
        ),
        (
            &strict,
            "https://git.corp.example/",
            None,
            "DIRECT",
            "direct list still applies",
        ),
    ];
    let mut failures = Vec::new();
    for (pac, url, host, want, why) in table {
        let got = pactester(pac, url, *host);
        if got != *want {
            failures.push(format!("{url} ({why}): got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "PAC results:\n{}", failures.join("\n"));
}
