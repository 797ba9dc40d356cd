//! The single rustls crypto provider of the process (ring).
//!
//! Every crate that pulls in rustls is built with `default-features = false`
//! and the ring feature; the binary installs this provider once at start-up so
//! that `ClientConfig::builder()` anywhere in the process is unambiguous.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The crypto provider every Portcullis TLS configuration is built with.
pub fn provider() -> Arc<CryptoProvider> {
    match CryptoProvider::get_default() {
        Some(p) => p.clone(),
        None => Arc::new(portcullis_provider()),
    }
}

/// Installs [`provider`] as the process default. Idempotent: a second call
/// (or a provider already installed by this function) is not an error.
pub fn install_process_provider() {
    if CryptoProvider::get_default().is_none() {
        // Losing a race to another thread installing the same provider is fine.
        let _ = portcullis_provider().install_default();
    }
}

/// ring with its usual suites, AES-128-GCM preferred — the order browsers
/// use. ring's default puts AES-256-GCM with SHA-384 first: as strong in
/// practice, but its SHA-512-based key schedule and 14 AES rounds cost
/// measurably more on every handshake and every byte, twice per
/// intercepted connection. TLS 1.3 suites stay ahead of TLS 1.2 ones.
fn portcullis_provider() -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .sort_by_key(|suite| (suite.tls13().is_none(), preference(suite.suite())));
    provider
}

fn preference(suite: rustls::CipherSuite) -> u8 {
    use rustls::CipherSuite as S;
    match suite {
        S::TLS13_AES_128_GCM_SHA256
        | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
        S::TLS13_AES_256_GCM_SHA384
        | S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        | S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_128_gcm_is_preferred_and_no_suite_is_lost() {
        let ours = portcullis_provider().cipher_suites;
        let ring = rustls::crypto::ring::default_provider().cipher_suites;
        assert_eq!(ours.len(), ring.len());
        assert_eq!(
            ours[0].suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
        );
        assert!(ours.iter().take(3).all(|s| s.tls13().is_some()));
    }
}
