//! The interception certificate authority: generated on first run and
//! persisted in the data dir, or loaded from an operator-supplied PEM pair.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

use crate::key_file::{read_private, write_private};
use crate::CertError;

/// File name of the generated CA certificate inside the data dir.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the generated CA private key inside the data dir (mode 0600).
pub const CA_KEY_FILE: &str = "ca.key";

/// Lifetime of a generated CA.
const GENERATED_CA_YEARS: i64 = 10;

/// Where the authority came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthoritySource {
    /// Generated now and written to these files.
    Generated {
        /// The certificate file written.
        cert: PathBuf,
    },
    /// Loaded from files (a previously generated CA or an operator's CA).
    Loaded {
        /// The certificate file read.
        cert: PathBuf,
    },
}

/// A CA able to sign leaf certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    /// The CA certificate followed by any configured chain, in the order a
    /// leaf's chain is sent.
    chain: Vec<CertificateDer<'static>>,
    not_after: OffsetDateTime,
    source: AuthoritySource,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("source", &self.source)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// Loads `ca.pem` / `ca.key` from `data_dir`, generating and persisting a
    /// new P-256 CA when neither exists. A key file readable by group or others
    /// is refused.
    pub fn load_or_generate(data_dir: &Path) -> Result<Self, CertError> {
        let cert = data_dir.join(CA_CERT_FILE);
        let key = data_dir.join(CA_KEY_FILE);
        match (cert.exists(), key.exists()) {
            (true, true) => Self::from_files(&cert, &key, None),
            (false, false) => Self::generate_into(data_dir),
            (true, false) => Err(CertError::BadPem {
                path: key,
                reason: "missing, but the CA certificate beside it exists; restore the key or \
                         remove the certificate to generate a new CA"
                    .into(),
            }),
            (false, true) => Err(CertError::BadPem {
                path: cert,
                reason: "missing, but the CA key beside it exists; restore the certificate or \
                         remove the key to generate a new CA"
                    .into(),
            }),
        }
    }

    /// Generates a new CA and writes it to `data_dir` (created with mode 0700
    /// when missing); the key file is created with mode 0600.
    pub fn generate_into(data_dir: &Path) -> Result<Self, CertError> {
        create_private_dir(data_dir)?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let params = generated_ca_params()?;
        let cert = params.self_signed(&key)?;
        let cert_path = data_dir.join(CA_CERT_FILE);
        write_private(&data_dir.join(CA_KEY_FILE), &key.serialize_pem())?;
        fs::write(&cert_path, cert.pem()).map_err(|source| CertError::Io {
            path: cert_path.clone(),
            source,
        })?;
        Ok(Self {
            not_after: params.not_after,
            cert_pem: cert.pem(),
            chain: vec![cert.der().clone()],
            issuer: Issuer::new(params, key),
            source: AuthoritySource::Generated { cert: cert_path },
        })
    }

    /// Loads an existing CA or intermediate: its certificate, its private key
    /// (P-256, P-384 or RSA; PKCS#8, SEC1 or PKCS#1 PEM) and optionally the
    /// chain above it, which leaves then carry.
    pub fn from_files(cert: &Path, key: &Path, chain: Option<&Path>) -> Result<Self, CertError> {
        let key_pem = read_private(key)?;
        let key_pair = KeyPair::from_pem(&key_pem).map_err(|e| CertError::BadPem {
            path: key.to_owned(),
            reason: format!("not a usable P-256, P-384 or RSA private key: {e}"),
        })?;
        let cert_pem = fs::read_to_string(cert).map_err(|source| CertError::Io {
            path: cert.to_owned(),
            source,
        })?;
        let der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| CertError::BadPem {
                path: cert.to_owned(),
                reason: format!("no certificate: {e}"),
            })?;
        let not_after = check_ca_certificate(cert, &der, &key_pair)?;
        let issuer =
            Issuer::from_ca_cert_der(&der, key_pair).map_err(|e| CertError::UnusableCa {
                path: cert.to_owned(),
                reason: e.to_string(),
            })?;
        let mut certs = vec![der];
        if let Some(chain) = chain {
            certs.extend(read_chain(chain)?);
        }
        Ok(Self {
            issuer,
            cert_pem,
            chain: certs,
            not_after,
            source: AuthoritySource::Loaded {
                cert: cert.to_owned(),
            },
        })
    }

    /// The CA certificate in PEM, for `portcullis ca export` and trust stores.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate in DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }

    /// The certificates a leaf is followed by: the CA and any configured chain.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// When the CA expires; no leaf is valid past this instant.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Where this authority came from.
    pub fn source(&self) -> &AuthoritySource {
        &self.source
    }

    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }
}

fn generated_ca_params() -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let id: u32 = rand::random();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        format!("Portcullis Interception CA {id:08x}"),
    );
    dn.push(DnType::OrganizationName, "Portcullis");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(random_serial());
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(365 * GENERATED_CA_YEARS);
    Ok(params)
}

/// A positive random serial of 128 bits (RFC 5280 §4.1.2.2 allows up to 20 octets).
pub(crate) fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01; // keep a full 16-octet, positive encoding
    SerialNumber::from_slice(&bytes)
}

fn create_private_dir(dir: &Path) -> Result<(), CertError> {
    let io_err = |source| CertError::Io {
        path: dir.to_owned(),
        source,
    };
    if dir.exists() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_err)
}

/// Checks that `der` is a CA certificate matching `key`, not expired, allowed
/// to sign certificates; returns its notAfter.
fn check_ca_certificate(
    path: &Path,
    der: &CertificateDer<'_>,
    key: &KeyPair,
) -> Result<OffsetDateTime, CertError> {
    let unusable = |reason: String| CertError::UnusableCa {
        path: path.to_owned(),
        reason,
    };
    let (_, x509) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| unusable(format!("cannot parse: {e}")))?;
    match x509.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {}
        _ => {
            return Err(unusable(
                "not a CA certificate (basicConstraints CA:TRUE missing)".into(),
            ))
        }
    }
    if let Ok(Some(ku)) = x509.key_usage() {
        if !ku.value.key_cert_sign() {
            return Err(unusable("keyUsage does not allow keyCertSign".into()));
        }
    }
    if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(unusable(
            "the private key does not match the certificate".into(),
        ));
    }
    let not_after = x509.validity().not_after.to_datetime();
    if not_after <= OffsetDateTime::now_utc() {
        return Err(unusable(format!("expired on {not_after}")));
    }
    Ok(not_after)
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let pem = fs::read(path).map_err(|source| CertError::Io {
        path: path.to_owned(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::BadPem {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(CertError::BadPem {
            path: path.to_owned(),
            reason: "no certificate in chain file".into(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_persists_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = Authority::load_or_generate(&data).unwrap();
        assert!(matches!(first.source(), AuthoritySource::Generated { .. }));
        let again = Authority::load_or_generate(&data).unwrap();
        assert!(matches!(again.source(), AuthoritySource::Loaded { .. }));
        assert_eq!(first.cert_der(), again.cert_der());

        let (_, x509) = x509_parser::parse_x509_certificate(first.cert_der()).unwrap();
        let cn = x509.subject().to_string();
        assert!(cn.contains("Portcullis Interception CA "), "{cn}");
        let bc = x509.basic_constraints().unwrap().unwrap().value;
        assert!(bc.ca);
        assert_eq!(bc.path_len_constraint, Some(0));
        let ku = x509.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign() && !ku.digital_signature());
        assert!(has_ski(&x509));
        let years = (x509.validity().not_after.to_datetime()
            - x509.validity().not_before.to_datetime())
        .whole_days()
            / 365;
        assert_eq!(years, 10);
    }

    fn has_ski(x509: &x509_parser::certificate::X509Certificate<'_>) -> bool {
        x509.extensions()
            .iter()
            .any(|e| e.oid == x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
    }

    #[cfg(unix)]
    #[test]
    fn refuses_world_readable_key() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        Authority::load_or_generate(dir.path()).unwrap();
        let key = dir.path().join(CA_KEY_FILE);
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Authority::load_or_generate(dir.path()).unwrap_err();
        assert!(matches!(err, CertError::KeyPermissions { .. }), "{err}");
    }

    #[test]
    fn refuses_a_non_ca_certificate_and_a_mismatched_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let leaf = CertificateParams::new(vec!["x.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let cert_path = dir.path().join("c.pem");
        let key_path = dir.path().join("k.pem");
        fs::write(&cert_path, leaf.pem()).unwrap();
        write_private(&key_path, &key.serialize_pem()).unwrap();
        let err = Authority::from_files(&cert_path, &key_path, None).unwrap_err();
        assert!(err.to_string().contains("not a CA"), "{err}");

        let ca_dir = dir.path().join("ca");
        Authority::generate_into(&ca_dir).unwrap();
        let err = Authority::from_files(&ca_dir.join(CA_CERT_FILE), &key_path, None).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }
}
