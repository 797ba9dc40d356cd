//! The SaaS app catalogue: apps shipped as data in the crate, extended or
//! overridden by administrators' files, plus each app's review status.
//!
//! File format (the built-in files under `policy/catalog/` use it too):
//!
//! ```yaml
//! apps:
//!   - id: contoso-wiki            # [a-z0-9_-]+, unique
//!     name: Contoso Wiki
//!     vendor: Contoso Ltd.
//!     category: collaboration     # see Category
//!     domains: [wiki.contoso.example]   # the domain and all its subdomains
//!     hosts: [files.example.net]        # exact host names only
//! status:                          # optional: app id -> status
//!   dropbox: unsanctioned
//!   box: sanctioned
//! ```
//!
//! An entry whose `id` already exists replaces the earlier entry entirely.

mod app;
mod category;
pub mod risk;

use std::collections::HashMap;

use marked_yaml::Spanned;
use rustc_hash::FxHashMap;
use serde::Deserialize;

pub use app::{ActivityPattern, App, Example, HeaderPattern, InstancePattern, InstanceSource};
pub use category::{Activity, AppStatus, Category};
pub use risk::{RiskAttributes, Sourced};

use crate::error::{Location, PolicyError};
use crate::yaml::{decode, span_location};

/// The catalogue files compiled into the crate.
const BUILTIN: &[(&str, &str)] = &[
    (
        "builtin:catalog/major.yaml",
        include_str!("../../catalog/major.yaml"),
    ),
    (
        "builtin:catalog/ai.yaml",
        include_str!("../../catalog/ai.yaml"),
    ),
    (
        "builtin:catalog/business.yaml",
        include_str!("../../catalog/business.yaml"),
    ),
    (
        "builtin:catalog/developer.yaml",
        include_str!("../../catalog/developer.yaml"),
    ),
    (
        "builtin:catalog/consumer.yaml",
        include_str!("../../catalog/consumer.yaml"),
    ),
    (
        "builtin:catalog/sensitive.yaml",
        include_str!("../../catalog/sensitive.yaml"),
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    apps: Vec<Spanned<App>>,
    #[serde(default)]
    status: HashMap<Spanned<String>, AppStatus>,
}

/// The set of known apps and their statuses.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    apps: Vec<App>,
    by_id: FxHashMap<String, usize>,
    status: FxHashMap<String, AppStatus>,
}

/// The id reported for hosts that belong to no catalogued app.
pub const UNKNOWN_APP: &str = "unknown";

impl Catalog {
    /// A catalogue with no apps.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The catalogue shipped with the crate (several hundred apps).
    pub fn builtin() -> Result<Self, PolicyError> {
        let mut catalog = Self::empty();
        for (origin, text) in BUILTIN {
            catalog.extend_yaml(text, origin)?;
        }
        Ok(catalog)
    }

    /// Adds the apps and statuses of a catalogue file (see the module docs).
    /// Apps with an existing id replace the earlier entry. `origin` names the
    /// file in errors.
    pub fn extend_yaml(&mut self, text: &str, origin: &str) -> Result<(), PolicyError> {
        let file: CatalogFile = decode(text, origin)?;
        for spanned in file.apps {
            let location = span_location(origin, spanned.span());
            let mut app = App::clone(&spanned);
            app.defined_at = location;
            self.add_app(app)?;
        }
        let mut statuses: Vec<_> = file.status.into_iter().collect();
        statuses.sort_by_key(|(id, _)| id.span().start().map(|m| (m.line(), m.column())));
        for (id, status) in statuses {
            let location = span_location(origin, id.span());
            if !self.contains(id.as_str()) {
                return Err(PolicyError::invalid(
                    location,
                    "status",
                    format!("unknown app `{}`", id.as_str()),
                ));
            }
            self.set_status(id.as_str(), status)?;
        }
        Ok(())
    }

    /// Reads a status-only file (`status: {app: status}`), the form an
    /// administrator keeps beside the policy.
    pub fn apply_status_yaml(&mut self, text: &str, origin: &str) -> Result<(), PolicyError> {
        self.extend_yaml(text, origin)
    }

    /// Adds an app, replacing any app with the same id.
    pub fn add_app(&mut self, app: App) -> Result<(), PolicyError> {
        validate_app(&app)?;
        match self.by_id.get(&app.id) {
            Some(&i) => self.apps[i] = app,
            None => {
                self.by_id.insert(app.id.clone(), self.apps.len());
                self.apps.push(app);
            }
        }
        Ok(())
    }

    /// Sets an app's status. Fails if no app has that id.
    pub fn set_status(&mut self, id: &str, status: AppStatus) -> Result<(), PolicyError> {
        if !self.by_id.contains_key(id) {
            return Err(PolicyError::invalid(
                Location::origin("status"),
                "status",
                format!("unknown app `{id}`"),
            ));
        }
        self.status.insert(id.to_owned(), status);
        Ok(())
    }

    /// The status of an app (`unreviewed` when never set or unknown).
    pub fn status(&self, id: &str) -> AppStatus {
        self.status.get(id).copied().unwrap_or_default()
    }

    /// The app with this id.
    pub fn app(&self, id: &str) -> Option<&App> {
        self.by_id.get(id).map(|&i| &self.apps[i])
    }

    /// Whether an app with this id exists.
    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Every app, in the order they were added.
    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    /// Number of apps.
    pub fn len(&self) -> usize {
        self.apps.len()
    }

    /// Whether the catalogue has no apps.
    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }
}

/// Checks an app entry on its own: id syntax, names, domains, score range.
fn validate_app(app: &App) -> Result<(), PolicyError> {
    let at = || app.defined_at.clone();
    if app.id.is_empty()
        || !app
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(PolicyError::invalid(
            at(),
            "id",
            format!("`{}` is not [a-z0-9_-]+", app.id),
        ));
    }
    if app.id == UNKNOWN_APP {
        return Err(PolicyError::invalid(
            at(),
            "id",
            "`unknown` is reserved for unclassified hosts",
        ));
    }
    if app.domains.is_empty() && app.hosts.is_empty() && app.routes.is_empty() {
        return Err(PolicyError::invalid(
            at(),
            "domains",
            format!("app `{}` has no domains, hosts or routes", app.id),
        ));
    }
    for d in app.domains.iter().chain(&app.hosts) {
        if let Err(message) = check_domain(d) {
            return Err(PolicyError::invalid(
                at(),
                "domains",
                format!("app `{}`: `{d}`: {message}", app.id),
            ));
        }
    }
    for r in &app.routes {
        let ok = r
            .split_once('/')
            .is_some_and(|(host, _)| check_domain(host).is_ok());
        if !ok {
            return Err(PolicyError::invalid(
                at(),
                "routes",
                format!("app `{}`: `{r}` is not `host/path-prefix`", app.id),
            ));
        }
    }
    if app.risk_score.is_some_and(|s| s > 100) {
        return Err(PolicyError::invalid(at(), "risk_score", "must be 0..=100"));
    }
    for (name, source) in app.risk.sources() {
        if !(source.starts_with("https://") || source.starts_with("http://")) {
            return Err(PolicyError::invalid(
                at(),
                format!("risk.{name}.source"),
                format!("app `{}`: source must be a URL, got `{source}`", app.id),
            ));
        }
    }
    Ok(())
}

/// Checks that `d` is a lower-case DNS name with at least two labels.
pub(crate) fn check_domain(d: &str) -> Result<(), String> {
    if d.len() > 253 {
        return Err("longer than 253 bytes".into());
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return Err("needs at least two labels".into());
    }
    for label in labels {
        if label.is_empty() || label.len() > 63 {
            return Err("empty or over-long label".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("label starts or ends with `-`".into());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("only lower-case letters, digits and `-` are allowed".into());
        }
    }
    Ok(())
}

impl Catalog {
    /// Where an app was defined, for error messages.
    pub fn location_of(&self, id: &str) -> Option<Location> {
        self.app(id).map(|a| a.defined_at.clone())
    }
}
