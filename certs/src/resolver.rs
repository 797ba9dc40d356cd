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
