//! A test PKI for origins: a root the proxy trusts via `upstream.extra_roots`,
//! and leaves that are valid, expired, for the wrong name, or from an
//! untrusted root.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// Which kind of certificate an origin presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginCert {
    /// Valid for the origin's name, issued by the trusted test root.
    Valid,
    /// Expired yesterday.
    Expired,
    /// Valid, but for another name.
    WrongName,
    /// Valid for the name, issued by a root nobody trusts.
    Untrusted,
}

/// The test root and where its PEM is written.
pub struct TestPki {
    root: CertifiedIssuer<'static, KeyPair>,
    rogue: CertifiedIssuer<'static, KeyPair>,
    /// PEM file of the trusted root, for `upstream.extra_roots`.
    pub root_pem: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestPki {
    /// A fresh trusted root and an untrusted one.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = issuer("Portcullis Test Origin Root");
        let rogue = issuer("Rogue Root");
        let root_pem = dir.path().join("origin-root.pem");
        std::fs::write(&root_pem, root.pem()).expect("write root");
        Self {
            root,
            rogue,
            root_pem,
            _dir: dir,
        }
    }

    /// A rustls certificate for an origin named `name`.
    pub fn origin_cert(&self, name: &str, kind: OriginCert) -> Arc<CertifiedKey> {
        let san = if kind == OriginCert::WrongName {
            "someone-else.test".to_owned()
        } else {
            name.to_owned()
        };
        let mut params = CertificateParams::new(vec![san]).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let now = OffsetDateTime::now_utc();
        if kind == OriginCert::Expired {
            params.not_before = now - Duration::days(30);
            params.not_after = now - Duration::days(1);
        } else {
            params.not_before = now - Duration::days(1);
            params.not_after = now + Duration::days(30);
        }
        let key = KeyPair::generate().expect("key");
        let signer = if kind == OriginCert::Untrusted {
            &self.rogue
        } else {
            &self.root
        };
        let cert = params.signed_by(&key, signer).expect("sign");
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = certs::provider()
            .key_provider
            .load_private_key(der)
            .expect("load key");
        CertifiedKey::new(vec![cert.der().clone(), signer.der().clone()], signing).into()
    }

    /// A PEM certificate (leaf then root) and PEM PKCS#8 key for a server
    /// outside the proxy (e.g. an LDAP directory) valid for `names` (host
    /// names or IP addresses), issued by the trusted root.
    pub fn server_pem(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(30);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.root).expect("sign");
        (
            format!("{}{}", cert.pem(), self.root.pem()),
            key.serialize_pem(),
        )
    }

    /// The trusted root in DER.
    pub fn root_der(&self) -> CertificateDer<'static> {
        self.root.der().clone()
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

fn issuer(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(365);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("root")
}
