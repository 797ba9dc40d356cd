//! The strict rustls client configuration for upstream connections.
//!
//! Roots are the Mozilla set (webpki-roots) ∪ the system store
//! (rustls-native-certs) ∪ operator-supplied extra roots. Verification is
//! rustls's full WebPKI verification (chain, name, validity, EKU serverAuth,
//! key and signature algorithms); only TLS 1.2 and 1.3 are offered.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::CertError;

/// Which application protocols to offer upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamAlpn {
    /// No ALPN extension (the client offered none of ours).
    None,
    /// `http/1.1` only.
    Http1,
    /// `h2` only.
    H2,
    /// `h2` then `http/1.1`.
    H2Http1,
}

impl UpstreamAlpn {
    /// The intersection of a client's offered ALPN protocols with {h2, http/1.1}.
    pub fn intersect<'a>(offered: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let (mut h2, mut h1) = (false, false);
        for proto in offered {
            h2 |= proto == b"h2";
            h1 |= proto == b"http/1.1";
        }
        match (h2, h1) {
            (true, true) => Self::H2Http1,
            (true, false) => Self::H2,
            (false, true) => Self::Http1,
            (false, false) => Self::None,
        }
    }

    fn protocols(self) -> Vec<Vec<u8>> {
        match self {
            Self::None => vec![],
            Self::Http1 => vec![b"http/1.1".to_vec()],
            Self::H2 => vec![b"h2".to_vec()],
            Self::H2Http1 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        }
    }

    const ALL: [Self; 4] = [Self::None, Self::Http1, Self::H2, Self::H2Http1];
}

/// Where upstream trust anchors come from.
#[derive(Debug, Clone)]
pub struct UpstreamTlsOptions {
    /// Include the Mozilla root set compiled into the binary.
    pub webpki_roots: bool,
    /// Include the operating system's trust store.
    pub system_roots: bool,
    /// PEM files of additional roots (private PKI, test origins).
    pub extra_roots: Vec<PathBuf>,
}

impl Default for UpstreamTlsOptions {
    fn default() -> Self {
        Self {
            webpki_roots: true,
            system_roots: true,
            extra_roots: Vec::new(),
        }
    }
}

/// Client configurations for upstream TLS, one per ALPN offer, sharing roots
/// and a session-resumption cache.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    configs: [Arc<ClientConfig>; 4],
    /// Number of trust anchors loaded.
    pub roots: usize,
    /// Problems met reading the system store (unreadable files), for the operator's log.
    pub system_store_errors: Vec<String>,
}

impl UpstreamTls {
    /// Builds the configurations; fails when an extra root file is unreadable
    /// or holds no certificate, or when no root at all is available.
    pub fn new(options: &UpstreamTlsOptions) -> Result<Self, CertError> {
        let mut roots = RootCertStore::empty();
        if options.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        let mut system_store_errors = Vec::new();
        if options.system_roots {
            let native = rustls_native_certs::load_native_certs();
            system_store_errors.extend(native.errors.iter().map(|e| e.to_string()));
            // Individual unparsable system certificates are skipped, as browsers do.
            let _ = roots.add_parsable_certificates(native.certs);
        }
        for path in &options.extra_roots {
            for cert in read_roots(path)? {
                roots.add(cert).map_err(|e| CertError::BadPem {
                    path: path.clone(),
                    reason: format!("not a usable trust anchor: {e}"),
                })?;
            }
        }
        if roots.is_empty() {
            return Err(CertError::Tls(rustls::Error::General(
                "no upstream trust anchors configured".into(),
            )));
        }
        let count = roots.len();
        let base = ClientConfig::builder_with_provider(crate::provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_root_certificates(Arc::new(roots))
            .with_no_client_auth();
        let configs = UpstreamAlpn::ALL.map(|alpn| {
            let mut config = base.clone();
            config.alpn_protocols = alpn.protocols();
            Arc::new(config)
        });
        Ok(Self {
            configs,
            roots: count,
            system_store_errors,
        })
    }

    /// The configuration offering exactly `alpn`.
    pub fn config(&self, alpn: UpstreamAlpn) -> Arc<ClientConfig> {
        let index = match alpn {
            UpstreamAlpn::None => 0,
            UpstreamAlpn::Http1 => 1,
            UpstreamAlpn::H2 => 2,
            UpstreamAlpn::H2Http1 => 3,
        };
        self.configs[index].clone()
    }
}

fn read_roots(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let pem = std::fs::read(path).map_err(|source| CertError::Io {
        path: path.clone(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::BadPem {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(CertError::BadPem {
            path: path.clone(),
            reason: "no certificate found".into(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_intersection() {
        let cases: [(&[&[u8]], UpstreamAlpn); 5] = [
            (&[b"h2", b"http/1.1"], UpstreamAlpn::H2Http1),
            (&[b"http/1.1"], UpstreamAlpn::Http1),
            (&[b"h2", b"h3"], UpstreamAlpn::H2),
            (&[b"spdy/3"], UpstreamAlpn::None),
            (&[], UpstreamAlpn::None),
        ];
        for (offered, expected) in cases {
            assert_eq!(UpstreamAlpn::intersect(offered.iter().copied()), expected);
        }
    }

    #[test]
    fn configs_offer_the_right_protocols_and_versions() {
        let tls = UpstreamTls::new(&UpstreamTlsOptions {
            system_roots: false,
            ..Default::default()
        })
        .unwrap();
        assert!(tls.roots > 100);
        assert_eq!(
            tls.config(UpstreamAlpn::H2Http1).alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(tls.config(UpstreamAlpn::None).alpn_protocols.is_empty());
    }

    #[test]
    fn a_missing_extra_root_is_an_error_naming_the_file() {
        let err = UpstreamTls::new(&UpstreamTlsOptions {
            extra_roots: vec!["/nonexistent/roots.pem".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/roots.pem"), "{err}");
    }
}
