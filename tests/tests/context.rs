//! Context-aware decisions on live traffic: geo from a generated `.mmdb`
//! and CIDR overrides, and group membership from the users file.

#[path = "../../policy/tests/support/mmdb.rs"]
#[allow(dead_code)]
mod mmdb;

use portcullis_tests::client::{curl, reqwest_client, run};
use portcullis_tests::{Origin, OriginOptions, TestPki, TestProxy};

#[tokio::test(flavor = "multi_thread")]
async fn geo_rules_use_the_mmdb_and_overrides() {
    let pki = TestPki::new();
    let geo = Origin::start(&pki, OriginOptions::new("geo.test")).await;
    let site = Origin::start(&pki, OriginOptions::new("site.test")).await;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("country.mmdb");
    std::fs::write(
        &db,
        mmdb::build(&[("127.0.0.0", 8, "KR"), ("10.0.0.0", 8, "US")]),
    )
    .expect("mmdb");
    let overrides = dir.path().join("sites.yaml");
    std::fs::write(
        &overrides,
        "overrides:\n  - cidr: 127.0.0.2/32\n    site: lab\n",
    )
    .expect("yaml");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "rules:\n  - id: no-geo-from-kr\n    when:\n      all:\n        - client_country: KR\n        - host: geo.test\n    action: block\n    reason: Not available from your country\n  - id: only-from-us\n    when:\n      all:\n        - not: {client_country: US}\n        - host: site.test\n    action: block\n",
    )
    .expect("policy");
    let mut config = TestProxy::config(&pki, &[&geo, &site]);
    config.policy.file = Some(policy);
    config.policy.geoip = Some(db);
    config.policy.geo_overrides = Some(overrides);
    let proxy = TestProxy::start(config).await;
    let client = reqwest_client(&proxy, true);
    let resp = client
        .get(format!("https://geo.test:{}/", geo.port()))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 403, "client 127.0.0.1 is in KR");
    let resp = client
        .get(format!("https://site.test:{}/", site.port()))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 403, "KR is not US");
    let r = proxy
        .wait_record(|r| r["host"] == "geo.test" && r["status"] == 403)
        .await;
    assert_eq!(r["rule"], "no-geo-from-kr");
    assert!(geo.seen().is_empty() && site.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_rule_applies_to_its_members_only() {
    let pki = TestPki::new();
    let origin = Origin::start(&pki, OriginOptions::new("chat.test")).await;
    let dir = tempfile::tempdir().expect("dir");
    let hash = bcrypt::hash("pw-alice", 4).expect("hash");
    let hash_bob = bcrypt::hash("pw-bob", 4).expect("hash");
    let users = dir.path().join("users.toml");
    std::fs::write(
        &users,
        format!(
            "[[user]]\nname = \"alice\"\npassword = \"{hash}\"\ngroups = [\"interns\"]\n\n\
             [[user]]\nname = \"bob\"\npassword = \"{hash_bob}\"\ngroups = [\"engineering\"]\n"
        ),
    )
    .expect("users");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "rules:\n  - id: interns-no-chat\n    when:\n      all:\n        - group: interns\n        - host: chat.test\n    action: block\n",
    )
    .expect("policy");
    let mut config = TestProxy::config(&pki, &[&origin]);
    config.identity.require = true;
    config.identity.users_file = Some(users);
    config.policy.file = Some(policy);
    let proxy = TestProxy::start(config).await;
    let url = format!("https://chat.test:{}/", origin.port());
    for (creds, want) in [("alice:pw-alice", "403"), ("bob:pw-bob", "200")] {
        let mut cmd = curl(&proxy);
        cmd.args([
            "--proxy-user",
            creds,
            "--write-out",
            "%{http_code}",
            "--output",
            "/dev/null",
            &url,
        ]);
        let out = run(cmd).await;
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{creds}");
    }
    let r = proxy
        .wait_record(|r| r["user"] == "alice" && r["status"] == 403)
        .await;
    assert_eq!(r["rule"], "interns-no-chat");
}
