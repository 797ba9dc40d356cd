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
        None => Arc::new(rustls::crypto::ring::default_provider()),
    }
}

/// Installs [`provider`] as the process default. Idempotent: a second call
/// (or a provider already installed by this function) is not an error.
pub fn install_process_provider() {
    if CryptoProvider::get_default().is_none() {
        // Losing a race to another thread installing the same provider is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
