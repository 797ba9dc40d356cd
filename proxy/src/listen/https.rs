//! The HTTPS-proxy listener's TLS configuration: a certificate for the
//! proxy's own name minted by the interception CA, and — when a device CA is
//! configured — client certificates requested (or required) and verified.
//! ALPN offers `h2` then `http/1.1`; a client that offers no ALPN speaks HTTP/1.1.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::state::ProxyState;

/// Why the HTTPS-proxy listener could not be configured.
#[derive(Debug, thiserror::Error)]
#[error("https_proxy: {0}")]
pub struct HttpsProxyError(pub String);

/// Builds the acceptor for the HTTPS-proxy listener.
pub async fn acceptor(state: &ProxyState) -> Result<TlsAcceptor, HttpsProxyError> {
    let leaf = state
        .leaf(&state.config.https_proxy.name)
        .await
        .map_err(|e| HttpsProxyError(e.to_string()))?;
    let builder = ServerConfig::builder_with_provider(certs::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| HttpsProxyError(e.to_string()))?;
    let devices = &state.config.devices;
    let builder = match &devices.ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| HttpsProxyError(format!("{}: {e}", path.display())))?;
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| HttpsProxyError(format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| HttpsProxyError(format!("{}: {e}", path.display())))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), certs::provider());
            let verifier = if devices.require_certificate {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|e| HttpsProxyError(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(certs::FixedLeaf(leaf)));
    // HTTP/2 first: a client that speaks it multiplexes its CONNECT tunnels
    // over this one connection (RFC 9113 §8.5).
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
