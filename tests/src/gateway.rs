//! A transparent gateway under test: client, gateway and origin network
//! namespaces ([`crate::netns`]), TLS and plain origins in the origin
//! namespace, Portcullis in the gateway with its transparent listeners, the
//! firewall rules of one [`Rules`] kind, and the system curl as the client.

use std::sync::Arc;

use portcullis::config::{Config, RedirectMode};

use crate::netns::{self, Topology, ORIGIN2_V4, ORIGIN_V4, ORIGIN_V6};
use crate::{Origin, OriginOptions, TestPki, TestProxy};

/// The port the transparent listener takes redirected connections on.
pub const PORT: u16 = 15001;

const POLICY: &str = r#"
version: 1
default: {action: allow}
dlp_profiles:
  secrets: {detectors: [], min_count: 1, action: block, severity: critical}
rules:
  - id: scan-uploads
    when: {host: "origin.test"}
    action: allow
    dlp_profile: secrets
"#;

/// How the gateway hands connections to the proxy.
#[derive(Clone, Copy, Debug)]
pub enum Rules {
    /// iptables/ip6tables NAT REDIRECT.
    IptablesRedirect,
    /// nftables NAT redirect.
    NftablesRedirect,
    /// iptables/ip6tables TPROXY.
    Tproxy,
    /// nftables TPROXY.
    NftablesTproxy,
}

pub struct Gateway {
    /// The proxy, running in the gateway namespace.
    pub proxy: TestProxy,
    /// TLS origin.test on ORIGIN_V4:443.
    pub tls_v4: Origin,
    /// TLS origin.test on [ORIGIN_V6]:443.
    pub tls_v6: Origin,
    /// Plain-HTTP origin.test on ORIGIN_V4:80.
    pub plain_v4: Origin,
    /// TLS pinned.test on ORIGIN2_V4:443.
    pub pinned: Origin,
    /// The origins' PKI.
    pub pki: Arc<TestPki>,
    _dir: tempfile::TempDir,
    // Dropped last: the namespaces outlive everything that uses them.
    pub topology: Topology,
}

/// Builds the namespaces, starts the origins and a proxy (transparent
/// listeners on [`PORT`], IPv4 and IPv6) configured for them, then `configure`
/// adjusts the configuration, then installs `rules` in the gateway.
pub async fn gateway(rules: Rules, configure: impl FnOnce(&mut Config)) -> Gateway {
    let topology = Topology::new();
    let pki = Arc::new(TestPki::new());
    let start_origin = |name: &str, addr, plain| {
        let pki = pki.clone();
        let handle = tokio::runtime::Handle::current();
        let mut options = OriginOptions::new(name);
        options.bind = Some(addr);
        options.plain = plain;
        topology.run_in(&topology.origin, move || {
            handle.block_on(Origin::start(&pki, options))
        })
    };
    let tls_v4 = start_origin("origin.test", netns::socket(ORIGIN_V4, 443), false);
    let tls_v6 = start_origin("origin.test", netns::socket(ORIGIN_V6, 443), false);
    let plain_v4 = start_origin("origin.test", netns::socket(ORIGIN_V4, 80), true);
    let pinned = start_origin("pinned.test", netns::socket(ORIGIN2_V4, 443), false);

    let dir = tempfile::tempdir().expect("dir");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("write policy");
    let mut config = TestProxy::config(&pki, &[]);
    config.policy.file = Some(policy);
    config.log.incidents = portcullis::config::LogTarget::Off;
    config.limits.worker_threads = 1;
    config.upstream.resolve.insert(
        "origin.test".into(),
        vec![ORIGIN_V4.into(), ORIGIN_V6.into()],
    );
    config
        .upstream
        .resolve
        .insert("pinned.test".into(), vec![ORIGIN2_V4.into()]);
    // A bypassed name whose real address is not where the client connects.
    config
        .upstream
        .resolve
        .insert("bypassed.test".into(), vec![ORIGIN2_V4.into()]);
    config.inspection.bypass = vec!["pinned.test".into(), "bypassed.test".into()];
    config.transparent.listen.0 = vec![
        format!("0.0.0.0:{PORT}").parse().expect("addr"),
        format!("[::]:{PORT}").parse().expect("addr"),
    ];
    config.transparent.mode = match rules {
        Rules::Tproxy | Rules::NftablesTproxy => RedirectMode::Tproxy,
        _ => RedirectMode::Redirect,
    };
    config.transparent.upstream_mark = Some(0x20);
    config.transparent.clients = vec![toml_client("10.10.1.2", "alice")];
    configure(&mut config);
    let handle = tokio::runtime::Handle::current();
    let proxy = topology.run_in(&topology.gw, move || {
        handle.block_on(TestProxy::start(config))
    });
    assert_eq!(proxy.server.transparent_addrs.len(), 2);
    match rules {
        Rules::IptablesRedirect => topology.redirect(PORT),
        Rules::NftablesRedirect => topology.redirect_nft(PORT),
        Rules::Tproxy => topology.tproxy(PORT),
        Rules::NftablesTproxy => topology.tproxy_nft(PORT),
    }
    topology.require_upstream_mark(0x20);
    Gateway {
        proxy,
        tls_v4,
        tls_v6,
        plain_v4,
        pinned,
        pki,
        _dir: dir,
        topology,
    }
}

/// A `[[transparent.clients]]` entry.
pub fn toml_client(network: &str, user: &str) -> portcullis::config::ClientBinding {
    toml::from_str(&format!("network = \"{network}\"\nuser = \"{user}\"")).expect("binding")
}

impl Gateway {
    /// curl in the client namespace with `args`; returns (exit ok, stdout, stderr).
    pub async fn curl(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = self.topology.command(&self.topology.client, "curl");
        cmd.args(["--silent", "--show-error", "--max-time", "20"]);
        cmd.args(args);
        let output = tokio::task::spawn_blocking(move || {
            cmd.output()
                .expect("the system curl is required (apt-get install curl)")
        })
        .await
        .expect("join");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Path of the interception CA (the client trusts it, nothing else).
    pub fn proxy_ca(&self) -> String {
        self.proxy.ca_pem_path().display().to_string()
    }

    /// An HTTPS GET of origin.test at `ip` trusting only the proxy's CA:
    /// returns the status and body.
    pub async fn https_get(&self, ip: &str, path: &str) -> (String, String) {
        let resolve = format!("origin.test:443:{ip}");
        self.curl_via(&resolve, &[], &format!("https://origin.test{path}"))
            .await
    }

    /// curl `url` trusting only the proxy's CA, with curl's `--resolve`
    /// entry `resolve` and `extra` arguments: returns the status and body
    /// (fails the test when curl fails).
    pub async fn curl_via(&self, resolve: &str, extra: &[&str], url: &str) -> (String, String) {
        let ca = self.proxy_ca();
        let mut args = vec![
            "--cacert",
            &ca,
            "--resolve",
            resolve,
            "-w",
            "\n%{http_code}",
        ];
        args.extend_from_slice(extra);
        args.push(url);
        let (ok, out, err) = self.curl(&args).await;
        assert!(ok, "curl {url} ({resolve}) failed: {err}");
        let (body, status) = out.rsplit_once('\n').expect("status line");
        (status.to_owned(), body.to_owned())
    }
}

/// True for records of the transparent listener.
pub fn is_transparent(r: &serde_json::Value) -> bool {
    r["listener"] == "transparent"
}
