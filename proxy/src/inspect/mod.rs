//! Inspection state: the app classifier, the policy, geo, and the DLP engine,
//! loaded once at start-up from the files the configuration names.
//!
//! The proxy follows the phase contract of the `policy` crate: at CONNECT
//! time only host-level facts are known and the answer is block, bypass or
//! intercept; per request a first evaluation picks the DLP profile, and
//! after the scan the verdict is added and the policy evaluated again.

pub mod context;
pub mod scan;

use std::path::Path;
use std::sync::Arc;

use dlp::decode::{Blocklist, Limits};
use dlp::{Engine, RulePack};
use policy::{Catalog, Classifier, GeoResolver, Policy};

use crate::config::Config;

/// Why inspection could not be set up; names the file at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InspectError(pub String);

/// Everything needed to classify, decide and scan.
pub struct Inspector {
    /// Host and request classification.
    pub classifier: Classifier,
    /// The policy in force.
    pub policy: Policy,
    /// Client and destination countries.
    pub geo: GeoResolver,
    /// Local time for time-of-day conditions.
    pub zone: policy::context::Zone,
    /// The compiled DLP rules.
    pub engine: Engine,
    /// Decompression-bomb and archive limits.
    pub limits: Limits,
    /// Blocked file digests.
    pub blocklist: Arc<Blocklist>,
}

impl std::fmt::Debug for Inspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspector").finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<String, InspectError> {
    std::fs::read_to_string(path).map_err(|e| InspectError(format!("{}: {e}", path.display())))
}

/// The built-in catalogue extended with `policy.catalog` files and
/// `policy.app_status`, as the proxy and the reports use it.
pub fn load_catalog(p: &crate::config::PolicySection) -> Result<Catalog, InspectError> {
    let err = |e: &dyn std::fmt::Display| InspectError(e.to_string());
    let mut catalog = Catalog::builtin().map_err(|e| err(&e))?;
    for file in &p.catalog {
        catalog
            .extend_yaml(&read(file)?, &file.display().to_string())
            .map_err(|e| err(&e))?;
    }
    if let Some(file) = &p.app_status {
        catalog
            .apply_status_yaml(&read(file)?, &file.display().to_string())
            .map_err(|e| err(&e))?;
    }
    Ok(catalog)
}

impl Inspector {
    /// Loads catalogue, statuses, policy, geo and DLP rules; every error
    /// names its file (and line, where the libraries know it).
    pub fn load(config: &Config) -> Result<Self, InspectError> {
        let err = |e: &dyn std::fmt::Display| InspectError(e.to_string());
        let p = &config.policy;
        let classifier = Classifier::new(load_catalog(p)?).map_err(|e| err(&e))?;
        let policy = match &p.file {
            None => Policy::allow_all(),
            Some(file) => {
                let (policy, warnings) = Policy::parse(
                    &read(file)?,
                    &file.display().to_string(),
                    classifier.catalog(),
                )
                .map_err(|errors| {
                    InspectError(
                        errors
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("\n"),
                    )
                })?;
                for w in warnings {
                    tracing::warn!(warning = %w, "policy");
                }
                policy
            }
        };
        let mut geo = GeoResolver::new();
        if let Some(file) = &p.geoip {
            let bytes = std::fs::read(file)
                .map_err(|e| InspectError(format!("{}: {e}", file.display())))?;
            geo = geo
                .with_database(bytes, &file.display().to_string())
                .map_err(|e| err(&e))?;
        }
        if let Some(file) = &p.geo_overrides {
            geo = geo
                .with_overrides_yaml(&read(file)?, &file.display().to_string())
                .map_err(|e| err(&e))?;
        }
        let zone = policy::context::Zone::named(&p.time_zone)
            .map_err(|e| InspectError(format!("policy.time_zone: {e}")))?;
        let d = &config.dlp;
        let pack = match &d.rules {
            None => RulePack::builtin().map_err(|e| err(&e))?,
            Some(file) => {
                RulePack::parse(&read(file)?, &file.display().to_string()).map_err(|e| err(&e))?
            }
        };
        let engine = Engine::compile(&pack).map_err(|e| err(&e))?;
        let blocklist = match &d.blocklist {
            None => Blocklist::new(),
            Some(file) => {
                let text = read(file)?;
                let lines = text
                    .lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim())
                    .filter(|l| !l.is_empty());
                Blocklist::from_hex(lines).map_err(|bad| {
                    InspectError(format!("{}: not a SHA-256 digest: {bad:?}", file.display()))
                })?
            }
        };
        let limits = Limits {
            max_decoded_bytes: d.max_decoded_bytes,
            max_ratio: d.max_ratio,
            max_archive_bytes: d.max_archive_bytes,
            max_depth: d.max_depth,
            ..Limits::default()
        };
        Ok(Self {
            classifier,
            policy,
            geo,
            zone,
            engine,
            limits,
            blocklist: Arc::new(blocklist),
        })
    }
}
