//! The error type of the `certs` crate.

use std::path::PathBuf;

/// Everything that can go wrong loading, generating or using certificates.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A private key file is readable by group or others.
    #[error(
        "{path}: private key is readable by group or others (mode {mode:04o}); \
         fix it with `chmod 600 {path}`"
    )]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A PEM file did not contain what was expected.
    #[error("{path}: {reason}")]
    BadPem {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The configured CA cannot issue certificates.
    #[error("CA certificate {path}: {reason}")]
    UnusableCa {
        /// The certificate file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// Certificate generation or signing failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls rejected a key or configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// A server name cannot be put into a certificate.
    #[error("invalid server name {name:?}: {reason}")]
    BadName {
        /// The rejected name.
        name: String,
        /// Why.
        reason: String,
    },
}
