//! The end-to-end harness shared by every test in `tests/tests/`: a test PKI
//! for origins, TLS origins on loopback with real HTTP/1.1 and HTTP/2
//! servers, a Portcullis started in-process on ephemeral ports, and clients
//! (reqwest, curl, raw tunnels with hyper or tungstenite, an HTTP/2 client
//! of the HTTPS-proxy listener), and a real
//! OpenLDAP `slapd` for the LDAP tests.

pub mod client;
pub mod gateway;
pub mod h2frames;
pub mod h2proxy;
pub mod h3client;
pub mod h3origin;
pub mod netns;
pub mod origin;
pub mod pki;
pub mod proxy;
pub mod slapd;

pub use origin::{Origin, OriginOptions};
pub use pki::{OriginCert, TestPki};
pub use proxy::TestProxy;

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `len` deterministic pseudo-random bytes (so corruption is detectable).
pub fn pattern(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}
