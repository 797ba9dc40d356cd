//! Leaf certificate minting under the interception [`Authority`].
//!
//! rcgen's defaults are wrong for interception (its default serial is derived
//! from the public key — identical for every leaf under a shared key — and its
//! default validity runs 1975–4096), so every field is set explicitly here.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::sign::{CertifiedKey, SigningKey};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use crate::authority::random_serial;
use crate::{Authority, CertError};

/// Longest value a CommonName may carry (RFC 5280 ub-common-name).
const MAX_COMMON_NAME: usize = 64;

/// How leaves are minted.
#[derive(Debug, Clone)]
pub struct LeafOptions {
    /// Validity of a leaf from issuance; it never runs past the CA's notAfter.
    pub validity: std::time::Duration,
    /// How long one shared leaf key is used before a fresh one is generated.
    pub key_rotation: std::time::Duration,
    /// How far notBefore is back-dated, to tolerate client clock skew.
    pub backdate: std::time::Duration,
}

impl Default for LeafOptions {
    fn default() -> Self {
        Self {
            validity: std::time::Duration::from_secs(30 * 24 * 3600),
            key_rotation: std::time::Duration::from_secs(24 * 3600),
            backdate: std::time::Duration::from_secs(3600),
        }
    }
}

struct LeafKey {
    pair: KeyPair,
    signing: Arc<dyn SigningKey>,
    born: Instant,
}

impl LeafKey {
    fn generate() -> Result<Self, CertError> {
        let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pair.serialize_der()));
        let signing = crate::provider().key_provider.load_private_key(der)?;
        Ok(Self {
            pair,
            signing,
            born: Instant::now(),
        })
    }
}

/// Mints leaf certificates for server names and IP literals.
pub struct Minter {
    authority: Arc<Authority>,
    options: LeafOptions,
    key: RwLock<Arc<LeafKey>>,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minter")
            .field("authority", &self.authority)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Minter {
    /// A minter under `authority` with a freshly generated shared leaf key.
    pub fn new(authority: Arc<Authority>, options: LeafOptions) -> Result<Self, CertError> {
        Ok(Self {
            authority,
            options,
            key: RwLock::new(Arc::new(LeafKey::generate()?)),
        })
    }

    /// The authority leaves are issued under.
    pub fn authority(&self) -> &Arc<Authority> {
        &self.authority
    }

    /// The options leaves are minted with.
    pub fn options(&self) -> &LeafOptions {
        &self.options
    }

    /// Mints a leaf for `name` — a DNS name (as sent in SNI) or an IP literal —
    /// ready for rustls: the leaf followed by the authority's chain, signed
    /// with the current shared leaf key. Cost: one ECDSA/RSA signature by the CA.
    pub fn mint(&self, name: &str) -> Result<CertifiedKey, CertError> {
        let key = self.current_key()?;
        let params = self.leaf_params(name)?;
        let cert = params.signed_by(&key.pair, self.authority.issuer())?;
        let mut chain = Vec::with_capacity(1 + self.authority.chain().len());
        chain.push(cert.der().clone());
        chain.extend(self.authority.chain().iter().cloned());
        Ok(CertifiedKey::new(chain, key.signing.clone()))
    }

    fn leaf_params(&self, name: &str) -> Result<CertificateParams, CertError> {
        let bad = |reason: String| CertError::BadName {
            name: name.to_owned(),
            reason,
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => {
                if name.is_empty() || !name.bytes().all(is_dns_byte) {
                    return Err(bad("not a DNS name or IP literal".into()));
                }
                SanType::DnsName(name.clone().try_into().map_err(|e| bad(format!("{e}")))?)
            }
        };
        let mut params = CertificateParams::default();
        params.subject_alt_names = vec![san];
        let mut dn = DistinguishedName::new();
        if name.len() <= MAX_COMMON_NAME {
            dn.push(DnType::CommonName, name);
        }
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.serial_number = Some(random_serial());
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - self.options.backdate;
        params.not_after = (now + self.options.validity).min(self.authority.not_after());
        Ok(params)
    }

    fn current_key(&self) -> Result<Arc<LeafKey>, CertError> {
        {
            let key = self.key.read().unwrap_or_else(|p| p.into_inner());
            if key.born.elapsed() < self.options.key_rotation {
                return Ok(key.clone());
            }
        }
        let mut key = self.key.write().unwrap_or_else(|p| p.into_inner());
        if key.born.elapsed() >= self.options.key_rotation {
            *key = Arc::new(LeafKey::generate()?);
        }
        Ok(key.clone())
    }
}

fn is_dns_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use x509_parser::prelude::*;

    fn minter(options: LeafOptions) -> Minter {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::generate_into(dir.path()).unwrap();
        Minter::new(Arc::new(ca), options).unwrap()
    }

    #[test]
    fn leaf_fields_are_set_explicitly() {
        let m = minter(LeafOptions::default());
        let ck = m.mint("Www.Example.COM.").unwrap();
        assert_eq!(ck.cert.len(), 2, "leaf followed by the CA");
        let (_, leaf) = X509Certificate::from_der(&ck.cert[0]).unwrap();
        let (_, ca) = X509Certificate::from_der(&ck.cert[1]).unwrap();
        assert_eq!(leaf.issuer(), ca.subject());
        let san = leaf.subject_alternative_name().unwrap().unwrap().value;
        assert_eq!(
            san.general_names,
            vec![GeneralName::DNSName("www.example.com")]
        );
        assert!(!leaf
            .basic_constraints()
            .unwrap()
            .is_some_and(|b| b.value.ca));
        let eku = leaf.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        let ku = leaf.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && !ku.key_cert_sign());
        assert!(leaf
            .extensions()
            .iter()
            .any(|e| e.oid == oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER));
        let now = OffsetDateTime::now_utc();
        let nb = leaf.validity().not_before.to_datetime();
        let na = leaf.validity().not_after.to_datetime();
        assert!((now - nb).whole_minutes() >= 59 && (now - nb).whole_minutes() <= 61);
        assert_eq!((na - now).whole_days(), 29);
        assert!(leaf.verify_signature(Some(ca.public_key())).is_ok());
    }

    #[test]
    fn ip_literals_get_ip_sans() {
        let m = minter(LeafOptions::default());
        let ck = m.mint("127.0.0.1").unwrap();
        let (_, leaf) = X509Certificate::from_der(&ck.cert[0]).unwrap();
        let san = leaf.subject_alternative_name().unwrap().unwrap().value;
        assert_eq!(
            san.general_names,
            vec![GeneralName::IPAddress(&[127, 0, 0, 1])]
        );
    }

    #[test]
    fn serials_are_unique_and_the_key_is_shared() {
        let m = minter(LeafOptions::default());
        let mut serials = HashSet::new();
        let mut keys = HashSet::new();
        for i in 0..1000 {
            let ck = m.mint(&format!("h{i}.example")).unwrap();
            let (_, leaf) = X509Certificate::from_der(&ck.cert[0]).unwrap();
            assert!(leaf.raw_serial().len() >= 8, "at least 64 bits");
            serials.insert(leaf.raw_serial().to_vec());
            keys.insert(leaf.public_key().raw.to_vec());
        }
        assert_eq!(serials.len(), 1000);
        assert_eq!(keys.len(), 1, "one shared leaf key");
    }

    #[test]
    fn the_leaf_key_rotates() {
        let m = minter(LeafOptions {
            key_rotation: std::time::Duration::ZERO,
            ..LeafOptions::default()
        });
        let a = m.mint("a.example").unwrap();
        let b = m.mint("a.example").unwrap();
        let (_, a) = X509Certificate::from_der(&a.cert[0]).unwrap();
        let (_, b) = X509Certificate::from_der(&b.cert[0]).unwrap();
        assert_ne!(a.public_key().raw, b.public_key().raw);
    }

    #[test]
    fn validity_never_outlives_the_ca_and_bad_names_are_refused() {
        let m = minter(LeafOptions {
            validity: std::time::Duration::from_secs(20 * 365 * 24 * 3600),
            ..LeafOptions::default()
        });
        let ck = m.mint("a.example").unwrap();
        let (_, leaf) = X509Certificate::from_der(&ck.cert[0]).unwrap();
        assert_eq!(
            leaf.validity().not_after.to_datetime(),
            m.authority().not_after().replace_nanosecond(0).unwrap()
        );
        for bad in ["", "a b.example", "x/y", "é.example"] {
            assert!(m.mint(bad).is_err(), "{bad:?}");
        }
    }
}
