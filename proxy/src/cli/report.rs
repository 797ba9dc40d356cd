//! `portcullis report shadow-it`.

use std::process::ExitCode;

use anyhow::Context;

use super::ConfigArgs;
use crate::config;
use crate::records::usage::{ReportFormat, ShadowItReport};

/// Prints the shadow-IT report of the usage database the configuration
/// (and `--data-dir`) points at.
pub fn shadow_it(args: &ConfigArgs, since: Option<&str>, format: &str) -> anyhow::Result<ExitCode> {
    let format: ReportFormat = format
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--format: {e}"))?;
    let since = since
        .map(|s| {
            humantime::parse_duration(s)
                .with_context(|| format!("--since {s:?}: expected a duration such as 7d or 12h"))
        })
        .transpose()?;
    let loaded = config::load(args.config.as_deref())?;
    let data_dir = super::data_dir(args, &loaded.config);
    let report = ShadowItReport::for_config(&loaded.config, &data_dir, since)?;
    print!("{}", report.render(format));
    Ok(ExitCode::SUCCESS)
}
