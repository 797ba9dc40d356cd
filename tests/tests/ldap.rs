//! Proxy authentication against a real OpenLDAP `slapd` with TLS: LDAPS with
//! a search for the user's entry, StartTLS with a DN template, groups from
//! the directory driving a policy rule, an LDAP injection in the user name,
//! and an empty password that never reaches a bind.
//!
//! slapd itself must be installed (`apt-get install slapd ldap-utils`); the
//! tests fail, never skip, without it.

use portcullis::auth::ldap::filter_value;
use portcullis::config::LdapSection;
use portcullis_tests::client::{curl, run};
use portcullis_tests::slapd::{user_dn, Slapd, ALICE, BOB, GROUPS_DN, PEOPLE_DN, SERVICE_DN};
use portcullis_tests::{Origin, OriginOptions, TestPki, TestProxy};

/// The search filter of search mode; the `objectClass` clause makes an
/// unescaped injection a well-formed filter, so the proof below is fair.
const SEARCH_FILTER: &str = "(&(objectClass=inetOrgPerson)(uid={user}))";

const POLICY: &str = r#"
version: 1
default: {action: allow}
rules:
  - id: no-contractors-on-source
    when: {all: [{host: "source.test"}, {group: contractors}, {auth_method: ldap}]}
    action: block
    reason: Contractors may not reach the source server
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `ldaps://`, search as the service account, then bind as the user.
    LdapsSearch,
    /// `ldap://` + StartTLS, bind to a DN template, groups read as the user.
    StartTlsTemplate,
}

struct Setup {
    mode: Mode,
    slapd: Slapd,
    proxy: TestProxy,
    origin: Origin,
    _pki: TestPki,
    _dir: tempfile::TempDir,
}

async fn setup(mode: Mode) -> Setup {
    let pki = TestPki::new();
    let slapd = Slapd::start(&pki).await;
    let origin = Origin::start(&pki, OriginOptions::new("source.test")).await;
    let dir = tempfile::tempdir().expect("dir");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("write");
    let mut config = TestProxy::config(&pki, &[&origin]);
    config.policy.file = Some(policy);
    config.identity.require = true;
    config.identity.failed_limit = 1000;
    let mut ldap = LdapSection {
        ca_file: Some(slapd.ca_file.clone()),
        group_base: Some(GROUPS_DN.into()),
        ..LdapSection::default()
    };
    match mode {
        Mode::LdapsSearch => {
            ldap.url = slapd.ldaps_url.clone();
            ldap.search_base = Some(PEOPLE_DN.into());
            ldap.search_filter = SEARCH_FILTER.into();
            ldap.service_bind_dn = Some(SERVICE_DN.into());
            ldap.service_password_file = Some(slapd.service_password_file.clone());
        }
        Mode::StartTlsTemplate => {
            ldap.url = slapd.ldap_url.clone();
            ldap.starttls = true;
            ldap.bind_dn_template = Some(format!("uid={{user}},{PEOPLE_DN}"));
        }
    }
    config.identity.ldap = Some(ldap);
    let proxy = TestProxy::start(config).await;
    Setup {
        mode,
        slapd,
        proxy,
        origin,
        _pki: pki,
        _dir: dir,
    }
}

impl Setup {
    /// Sends a failing marker attempt, waits until slapd has logged its
    /// binds, and asserts that the binds since the `n0`-th are exactly
    /// `expected` followed by the marker's: anything sent before the marker
    /// has been seen by then.
    async fn assert_binds_since(&self, n0: usize, expected: &[String]) {
        assert_eq!(self.fetch("marker", "x", "/").await.0, "407");
        let mut want = expected.to_vec();
        want.extend(marker_binds(self.mode));
        let binds = self.slapd.wait_binds(n0 + want.len()).await;
        assert_eq!(binds[n0..], want[..], "binds since #{n0}");
    }

    /// curl through the proxy as `user:password` to `path` on the origin;
    /// returns the CONNECT status and the final HTTP status.
    async fn fetch(&self, user: &str, password: &str, path: &str) -> (String, String) {
        let mut cmd = curl(&self.proxy);
        cmd.args(["--proxy-user", &format!("{user}:{password}")])
            .args(["--write-out", "%{http_connect} %{http_code}"])
            .args(["--output", "/dev/null"])
            .arg(format!("https://source.test:{}{path}", self.origin.port()));
        let out = run(cmd).await;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (connect, code) = text.split_once(' ').unwrap_or((&text, ""));
        (connect.to_owned(), code.to_owned())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ldaps_and_starttls_admit_right_passwords_and_apply_ldap_groups() {
    for mode in [Mode::LdapsSearch, Mode::StartTlsTemplate] {
        let s = setup(mode).await;
        // (user, password, CONNECT status, HTTP status, recorded user)
        let cases = [
            (ALICE.uid, ALICE.password, "200", "200", Some("alice")),
            (ALICE.uid, "wrong-pw", "407", "000", None),
            (BOB.uid, ALICE.password, "407", "000", None),
            ("nobody", "whatever", "407", "000", None),
            // The directory ignores case; the record and the policy see
            // the name as the directory spells it.
            ("ALICE", ALICE.password, "200", "200", Some("alice")),
            // Bob is a contractor (a group only the directory knows):
            // admitted, then blocked at source.test by the group rule.
            ("Bob", BOB.password, "200", "403", None),
        ];
        for (i, (user, password, connect, code, recorded)) in cases.into_iter().enumerate() {
            let path = format!("/bytes/{}", i + 1);
            let got = s.fetch(user, password, &path).await;
            assert_eq!(
                got,
                (connect.to_owned(), code.to_owned()),
                "{mode:?} {user}:{password}"
            );
            if let Some(recorded) = recorded {
                let r = s.proxy.wait_record(|r| r["path"] == path.as_str()).await;
                assert_eq!(r["user"], recorded, "{mode:?}: {r}");
            }
        }
        let blocked = s
            .proxy
            .wait_record(|r| r["user"] == BOB.uid && r["action"] == "block")
            .await;
        assert_eq!(blocked["rule"], "no-contractors-on-source", "{blocked}");

        // A success is cached: alice again binds no second time.
        let n0 = s.slapd.binds().len();
        assert_eq!(s.fetch(ALICE.uid, ALICE.password, "/again").await.1, "200");
        s.assert_binds_since(n0, &[]).await;

        if mode == Mode::StartTlsTemplate {
            // The ldap:// connection was upgraded before binding (slapd
            // refuses simple binds below 128-bit TLS anyway).
            let slapd_log = std::fs::read_to_string(s.slapd.log_path()).expect("slapd log");
            assert!(
                slapd_log.contains(" STARTTLS"),
                "no StartTLS in slapd's log"
            );
        }
        let log = std::fs::read_to_string(&s.proxy.access_log).expect("log");
        for secret in [ALICE.password, BOB.password, "wrong-pw"] {
            assert!(!log.contains(secret), "the access log holds a password");
        }
    }
}

/// The binds a failed attempt as the unknown user `marker` causes: its DN
/// in template mode; only the service account's (whose search finds
/// nobody) in search mode.
fn marker_binds(mode: Mode) -> Vec<String> {
    match mode {
        Mode::StartTlsTemplate => vec![user_dn("marker")],
        Mode::LdapsSearch => vec![SERVICE_DN.to_owned()],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ldap_injection_in_the_user_name_matches_nobody() {
    let s = setup(Mode::LdapsSearch).await;
    let alice = user_dn(ALICE.uid);
    for injected in ["*)(uid=*", "al*", "*"] {
        // Proof the attack is real: pasted into the filter unescaped, the
        // name matches alice's entry (for `al*`, hers alone, so a proxy that
        // did not escape would bind as alice with her password and admit).
        let raw = s
            .slapd
            .search(&SEARCH_FILTER.replace("{user}", injected))
            .await;
        assert!(
            raw.contains(&alice),
            "{injected}: unescaped matches {raw:?}"
        );
        // Escaped as the proxy does, it matches nothing.
        let escaped = SEARCH_FILTER.replace("{user}", &filter_value(injected));
        assert_eq!(
            s.slapd.search(&escaped).await,
            Vec::<String>::new(),
            "{escaped}"
        );

        let n0 = s.slapd.binds().len();
        let (connect, _) = s.fetch(injected, ALICE.password, "/").await;
        assert_eq!(connect, "407", "{injected}");
        // Only the service account bound (to search); nobody as alice.
        s.assert_binds_since(n0, &[SERVICE_DN.to_owned()]).await;
    }
    // The escaped filter is what reached slapd.
    let log = std::fs::read_to_string(s.slapd.log_path()).expect("slapd log");
    assert!(
        log.contains(r"(uid=\2A\29\28uid=\2A)") || log.contains(r"(uid=\2a\29\28uid=\2a)"),
        "slapd saw the escaped filter"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_password_is_refused_without_any_bind() {
    for mode in [Mode::LdapsSearch, Mode::StartTlsTemplate] {
        let s = setup(mode).await;
        let n0 = s.slapd.binds().len();
        for user in [ALICE.uid, BOB.uid] {
            let (connect, _) = s.fetch(user, "", "/").await;
            assert_eq!(connect, "407", "{mode:?} {user} with an empty password");
        }
        // An empty simple bind would have succeeded (RFC 4513 §5.1.2): none
        // happened, not even the service account's.
        s.assert_binds_since(n0, &[]).await;
    }
}
