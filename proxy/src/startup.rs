//! Start-up checks shared by `portcullis run` and `portcullis config check`.

use certs::{Authority, UpstreamTls, UpstreamTlsOptions};

use crate::config::Config;

/// Loads the files the configuration names — an operator CA (refusing a key
/// readable by others) and the upstream trust anchors — without binding
/// anything or generating a CA.
pub fn check_files(config: &Config) -> Result<(), certs::CertError> {
    certs::install_process_provider();
    if let (Some(cert), Some(key)) = (&config.ca.cert, &config.ca.key) {
        Authority::from_files(cert, key, config.ca.chain.as_deref())?;
    }
    UpstreamTls::new(&UpstreamTlsOptions {
        webpki_roots: config.upstream.webpki_roots,
        system_roots: config.upstream.system_roots,
        extra_roots: config.upstream.extra_roots.clone(),
    })?;
    Ok(())
}
