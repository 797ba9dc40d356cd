//! Start-up checks shared by `portcullis run` and `portcullis config check`.

use certs::{Authority, UpstreamTls, UpstreamTlsOptions};

use crate::config::Config;

/// Why a configuration's files are unusable.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// CA or trust anchors.
    #[error(transparent)]
    Certs(#[from] certs::CertError),
    /// Catalogue, statuses, policy, geo database or DLP rules.
    #[error(transparent)]
    Inspect(#[from] crate::inspect::InspectError),
}

/// Loads the files the configuration names — an operator CA (refusing a key
/// readable by others), the upstream trust anchors, the app catalogue and
/// statuses, the policy, the geo database and overrides, the DLP rules and
/// the hash blocklist — without binding anything or generating a CA.
pub fn check_files(config: &Config) -> Result<(), FilesError> {
    certs::install_process_provider();
    if let (Some(cert), Some(key)) = (&config.ca.cert, &config.ca.key) {
        Authority::from_files(cert, key, config.ca.chain.as_deref())?;
    }
    UpstreamTls::new(&UpstreamTlsOptions {
        webpki_roots: config.upstream.webpki_roots,
        system_roots: config.upstream.system_roots,
        extra_roots: config.upstream.extra_roots.clone(),
    })?;
    crate::inspect::Inspector::load(config)?;
    Ok(())
}
