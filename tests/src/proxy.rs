//! Portcullis started in-process on ephemeral loopback ports, trusting the
//! test PKI, with its access log in a temporary file.

use std::path::PathBuf;
use std::time::Duration;

use portcullis::config::{Config, Listen, LogTarget};
use portcullis::server::Server;
use rustls_pki_types::CertificateDer;

use crate::origin::Origin;
use crate::pki::TestPki;

/// A running proxy under test.
pub struct TestProxy {
    /// The server.
    pub server: Server,
    /// Where the access log is written.
    pub access_log: PathBuf,
    /// The data dir (CA files).
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestProxy {
    /// A configuration for tests: ephemeral ports, the test root trusted,
    /// private destinations allowed, each origin's name resolved to loopback
    /// and its port allowed for CONNECT.
    pub fn config(pki: &TestPki, origins: &[&Origin]) -> Config {
        let mut c = Config::default();
        c.proxy.listen = "127.0.0.1:0".parse().expect("addr");
        c.admin.listen = Listen::On("127.0.0.1:0".parse().expect("addr"));
        c.upstream.extra_roots = vec![pki.root_pem.clone()];
        c.upstream.system_roots = false;
        c.upstream.allow_private = true;
        c.upstream.connect_ports = vec![443];
        for origin in origins {
            c.upstream
                .resolve
                .insert(origin.name.clone(), vec![origin.addr.ip()]);
            c.upstream.connect_ports.push(origin.port());
        }
        c.limits.shutdown_grace = Duration::from_secs(2);
        c
    }

    /// Starts a proxy with `config` (its access log is redirected to a file).
    pub async fn start(mut config: Config) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let access_log = dir.path().join("access.log");
        config.log.access = LogTarget::File(access_log.clone());
        let data_dir = dir.path().join("data");
        let server = Server::start(config, &data_dir)
            .await
            .expect("proxy starts");
        Self {
            server,
            access_log,
            data_dir,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT` of the explicit proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.proxy_addr)
    }

    /// The interception CA certificate.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.server
            .state
            .certs
            .minter()
            .authority()
            .cert_der()
            .clone()
    }

    /// Path of the CA certificate PEM (for curl `--cacert`).
    pub fn ca_pem_path(&self) -> PathBuf {
        let path = self.data_dir.join("ca-export.pem");
        std::fs::write(
            &path,
            self.server.state.certs.minter().authority().cert_pem(),
        )
        .expect("write ca");
        path
    }

    /// Access records written so far.
    pub fn records(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.access_log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each access line is JSON"))
            .collect()
    }

    /// Waits (up to 10 s) until an access record satisfies `pred`; records are
    /// written by a background thread, so they appear shortly after the exchange.
    pub async fn wait_record(
        &self,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(r) = self.records().into_iter().find(|r| pred(r)) {
                return r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no matching access record; have: {:#?}",
                self.records()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The admin listener's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let addr = self.server.admin_addr.expect("admin on");
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }
}
