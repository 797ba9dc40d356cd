//! `portcullis ca export`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use certs::Authority;

use super::ConfigArgs;
use crate::config;

/// Prints (or writes) the CA certificate, generating the CA on first use.
pub fn export(args: &ConfigArgs, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let loaded = config::load(args.config.as_deref())?;
    let config = loaded.config;
    let authority = match (&config.ca.cert, &config.ca.key) {
        (Some(cert), Some(key)) => Authority::from_files(cert, key, config.ca.chain.as_deref())?,
        _ => Authority::load_or_generate(&super::data_dir(args, &config))?,
    };
    match out {
        Some(path) => std::fs::write(path, authority.cert_pem())
            .with_context(|| format!("writing {}", path.display()))?,
        None => print!("{}", authority.cert_pem()),
    }
    Ok(ExitCode::SUCCESS)
}
