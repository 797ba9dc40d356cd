//! rustls certificate resolvers backed by minted leaves.

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Always presents one leaf: the one minted for the connection's server name
/// before its `ServerConfig` was built.
#[derive(Debug, Clone)]
pub struct FixedLeaf(pub Arc<CertifiedKey>);

impl ResolvesServerCert for FixedLeaf {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// Presents the leaf minted for the ClientHello's server name, minting on a
/// cache miss (tens of microseconds, inline). For servers such as QUIC
/// endpoints whose TLS configuration is shared by every connection, so the
/// name is only known inside the handshake. No server name, no certificate:
/// the handshake fails.
#[derive(Debug, Clone)]
pub struct MintingResolver(pub crate::CertCache);

impl ResolvesServerCert for MintingResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?;
        self.0.get(name).ok().map(|lookup| lookup.key)
    }
}
