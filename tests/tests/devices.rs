//! Devices on the HTTPS-proxy listener: a client certificate from the device
//! CA makes a device managed; posture reported through the admin API makes
//! it compliant; policy decisions follow.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use sha2::Digest;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use portcullis_tests::client::read_head;
use portcullis_tests::{Origin, OriginOptions, TestPki, TestProxy};

const POLICY: &str = "rules:
  - id: crm-managed-only
    when:
      all:
        - device_managed: false
        - host: crm.test
    action: block
    reason: Use a company device
  - id: hr-compliant-only
    when:
      all:
        - device_compliant: false
        - host: hr.test
    action: block
    reason: Your device does not meet the security baseline
";

struct DeviceCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl DeviceCa {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "Device CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        Self {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key"))
                .expect("ca"),
        }
    }

    fn device(&self, id: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, id);
        params.subject_alt_names = vec![
            SanType::URI(format!("urn:device:{id}").try_into().expect("uri")),
            SanType::Rfc822Name("alice@corp.example".try_into().expect("mail")),
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        (
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }
}

/// GET https://host:port/ through the HTTPS-proxy listener, optionally
/// presenting a device certificate; returns the status.
async fn get_via_https_proxy(
    proxy: &TestProxy,
    device: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    host: &str,
    port: u16,
) -> u16 {
    let mut roots = RootCertStore::empty();
    roots.add(proxy.ca_der()).expect("root");
    let builder = ClientConfig::builder_with_provider(certs::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = match device {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .expect("client cert"),
        None => builder.with_no_client_auth(),
    };
    let tcp = TcpStream::connect(proxy.server.https_addr.expect("https listener"))
        .await
        .expect("tcp");
    let mut outer = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("portcullis.local").expect("name"), tcp)
        .await
        .expect("TLS to the proxy");
    outer
        .write_all(
            format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n").as_bytes(),
        )
        .await
        .expect("write");
    let head = read_head(&mut outer).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let inner = TlsConnector::from(portcullis_tests::client::tls_config(
        proxy.ca_der(),
        &[b"http/1.1"],
    ))
    .connect(ServerName::try_from(host.to_owned()).expect("name"), outer)
    .await
    .expect("inner TLS");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(inner))
            .await
            .expect("h1");
    tokio::spawn(conn);
    let resp = sender
        .send_request(
            Request::get("/")
                .header("host", format!("{host}:{port}"))
                .body(Full::new(Bytes::new()).boxed())
                .expect("req"),
        )
        .await
        .expect("response");
    resp.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn managed_devices_and_posture_drive_decisions() {
    let pki = TestPki::new();
    let crm = Origin::start(&pki, OriginOptions::new("crm.test")).await;
    let hr = Origin::start(&pki, OriginOptions::new("hr.test")).await;
    let dir = tempfile::tempdir().expect("dir");
    let ca = DeviceCa::new();
    let ca_pem = dir.path().join("device-ca.pem");
    std::fs::write(&ca_pem, ca.issuer.pem()).expect("write");
    let tokens = dir.path().join("tokens.toml");
    let digest = hex::encode(sha2::Sha256::digest(b"agent-token-1"));
    std::fs::write(&tokens, format!("[tokens]\nlaptop-1 = \"{digest}\"\n")).expect("write");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("write");
    let mut config = TestProxy::config(&pki, &[&crm, &hr]);
    config.https_proxy.listen =
        portcullis::config::Listen::On("127.0.0.1:0".parse().expect("addr"));
    config.devices.ca = Some(ca_pem);
    config.devices.tokens_file = Some(tokens);
    config.devices.certificate_user = true;
    config.policy.file = Some(policy);
    let proxy = TestProxy::start(config).await;

    assert_eq!(
        get_via_https_proxy(&proxy, None, "crm.test", crm.port()).await,
        403,
        "unmanaged"
    );
    assert_eq!(
        get_via_https_proxy(&proxy, Some(ca.device("laptop-1")), "crm.test", crm.port()).await,
        200,
        "managed"
    );
    let r = proxy
        .wait_record(|r| r["host"] == "crm.test" && r["status"] == 200)
        .await;
    assert_eq!(r["user"], "alice@corp.example", "user from the certificate");

    // Managed but no posture yet: not compliant.
    assert_eq!(
        get_via_https_proxy(&proxy, Some(ca.device("laptop-1")), "hr.test", hr.port()).await,
        403
    );

    let admin = proxy.server.admin_addr.expect("admin");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let report = serde_json::json!({
        "device_id": "laptop-1", "os": "macos", "os_version": "15.1",
        "disk_encryption": true, "edr_running": true, "firewall": true, "screen_lock": true
    });
    let wrong = http
        .post(format!("http://{admin}/v1/posture"))
        .bearer_auth("not-the-token")
        .body(report.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), 401);
    let ok = http
        .post(format!("http://{admin}/v1/posture"))
        .bearer_auth("agent-token-1")
        .body(report.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(ok.status(), 204);
    assert_eq!(
        get_via_https_proxy(&proxy, Some(ca.device("laptop-1")), "hr.test", hr.port()).await,
        200,
        "compliant now"
    );

    // A report that fails a check flips the decision back.
    let mut failing = report.clone();
    failing["edr_running"] = false.into();
    http.post(format!("http://{admin}/v1/posture"))
        .bearer_auth("agent-token-1")
        .body(failing.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(
        get_via_https_proxy(&proxy, Some(ca.device("laptop-1")), "hr.test", hr.port()).await,
        403
    );
}
