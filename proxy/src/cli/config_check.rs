//! `portcullis config check`: the start-up validation, without starting.

use std::path::Path;
use std::process::ExitCode;

use crate::config;

/// Validates `file` (or the embedded defaults) exactly as `run` would:
/// parse, field checks, then the CA and trust files it names.
pub fn check(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let loaded = match config::load(file) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Err(e) = crate::startup::check_files(&loaded.config) {
        let name = file.map_or("<embedded defaults>".into(), |f| f.display().to_string());
        eprintln!("{name}: {e}");
        return Ok(ExitCode::FAILURE);
    }
    let name = file.map_or("embedded defaults".into(), |f| f.display().to_string());
    println!("{name}: ok");
    Ok(ExitCode::SUCCESS)
}
