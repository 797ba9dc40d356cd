//! `certs`: everything Portcullis needs to speak TLS on both sides of an
//! intercepted connection, and nothing about HTTP or policy.
//!
//! - [`Authority`]: the interception CA — generated on first run and persisted
//!   (key file mode 0600, refused when readable by group or others), or an
//!   existing CA / intermediate loaded from PEM.
//! - [`Minter`]: mints leaf certificates for a server name or IP literal under
//!   the authority, with one shared P-256 leaf key rotated periodically.
//! - [`CertCache`]: a bounded moka cache in front of the minter; concurrent
//!   first visits to one host mint once.
//! - [`UpstreamTls`]: the strict rustls client configuration used for every
//!   upstream connection (WebPKI roots ∪ system store ∪ extra roots).
//! - [`provider`]: the one rustls crypto provider of the process.

mod authority;
mod cache;
mod error;
mod key_file;
mod minter;
mod provider;
mod upstream;

pub use authority::{Authority, AuthoritySource, CA_CERT_FILE, CA_KEY_FILE};
pub use cache::{CertCache, CertLookup};
pub use error::CertError;
pub use minter::{LeafOptions, Minter};
pub use provider::{install_process_provider, provider};
pub use upstream::{UpstreamAlpn, UpstreamTls, UpstreamTlsOptions};

mod resolver;
pub use resolver::{FixedLeaf, MintingResolver};
