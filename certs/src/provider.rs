//! The single rustls crypto provider of the process (aws-lc-rs).
//!
//! Every crate that pulls in rustls is built with `default-features = false`
//! and the aws-lc-rs feature; the binary installs this provider once at
//! start-up so that `ClientConfig::builder()` anywhere in the process is
//! unambiguous.

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

/// The crypto provider every Portcullis TLS configuration is built with:
/// always this one, whatever the process default is (a library building a
/// config before start-up would install rustls's stock order, and the
/// proxy's legs must not follow it).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(portcullis_provider()))
        .clone()
}

/// Installs [`provider`] as the process default, for code that builds
/// configs with `ClientConfig::builder()`. Idempotent: a second call (or a
/// provider already installed) is not an error.
pub fn install_process_provider() {
    if CryptoProvider::get_default().is_none() {
        // Losing a race to another thread installing the same provider is fine.
        let _ = (*provider()).clone().install_default();
    }
}

/// aws-lc-rs with its usual suites and groups, in the order browsers use:
///
/// - AES-128-GCM first. The usual order puts AES-256-GCM with SHA-384 first:
///   as strong in practice, but its SHA-384 key schedule and 14 AES rounds
///   cost measurably more on every handshake and every byte, twice per
///   intercepted connection. TLS 1.3 suites stay ahead of TLS 1.2 ones.
/// - The post-quantum hybrid X25519MLKEM768 first, then X25519, P-256 and
///   P-384. Browsers offer the hybrid, so a proxy leg without it would be
///   weaker than the browser's own connection against traffic recorded now
///   and decrypted later; a client or origin without it gets X25519.
fn portcullis_provider() -> CryptoProvider {
    use rustls::crypto::aws_lc_rs::kx_group;
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .sort_by_key(|suite| (suite.tls13().is_none(), preference(suite.suite())));
    provider.kx_groups = vec![
        kx_group::X25519MLKEM768,
        kx_group::X25519,
        kx_group::SECP256R1,
        kx_group::SECP384R1,
    ];
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
        let usual = rustls::crypto::aws_lc_rs::default_provider().cipher_suites;
        assert_eq!(ours.len(), usual.len());
        assert_eq!(
            ours[0].suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
        );
        assert!(ours.iter().take(3).all(|s| s.tls13().is_some()));
    }

    #[test]
    fn the_post_quantum_hybrid_is_preferred_and_classical_groups_remain() {
        // Even when something else was installed as the process default.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        install_process_provider();
        let groups: Vec<_> = provider().kx_groups.iter().map(|g| g.name()).collect();
        use rustls::NamedGroup as G;
        assert_eq!(
            groups,
            [G::X25519MLKEM768, G::X25519, G::secp256r1, G::secp384r1]
        );
    }
}
