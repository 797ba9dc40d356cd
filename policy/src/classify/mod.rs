//! Host (+ method, path, headers) → app, category, instance, activity.
//!
//! [`Classifier::lookup_host`] is one or a few hash probes (see the
//! `classify_lookup` benchmark: well under 300 ns with 100,000 domains).
//! Hosts that belong to no app come back as `unknown` with their
//! registrable domain from the public suffix list, so shadow-IT discovery
//! can group them.

mod index;
mod patterns;
mod report;

use std::sync::Arc;

use crate::catalog::{Activity, App, Catalog, UNKNOWN_APP};
use crate::context::{AppFacts, Context, RequestFacts};
use crate::error::PolicyError;

pub(crate) use index::MAX_HOST_LEN;
use index::{normalize_host, DomainIndex, KeyKind};
use patterns::AppPatterns;
pub use patterns::{HeaderFn, HeaderLookup, NoHeaders, RequestInfo};
pub use report::ClassifyReport;

/// A compiled catalogue: domain index plus activity and instance patterns.
/// Immutable; share it behind an `Arc` and swap on reload.
#[derive(Debug, Clone)]
pub struct Classifier {
    catalog: Catalog,
    index: DomainIndex,
    routes: rustc_hash::FxHashMap<Box<str>, Vec<(Box<str>, u32)>>,
    patterns: Vec<AppPatterns>,
    ids: Vec<Arc<str>>,
    names: Vec<Arc<str>>,
}

/// The result of classifying a request.
#[derive(Debug, Clone)]
pub struct Classification {
    /// App facts (including the instance when revealed).
    pub app: AppFacts,
    /// The activity, when a pattern recognised one.
    pub activity: Option<Activity>,
}

impl Classifier {
    /// Compiles `catalog`. Fails if two apps claim the same domain or host,
    /// or a pattern does not compile; the error names the app's file and line.
    pub fn new(catalog: Catalog) -> Result<Self, PolicyError> {
        let mut index = DomainIndex::default();
        let mut routes: rustc_hash::FxHashMap<Box<str>, Vec<(Box<str>, u32)>> = Default::default();
        let mut patterns = Vec::with_capacity(catalog.len());
        for (i, app) in catalog.apps().iter().enumerate() {
            let n = u32::try_from(i).map_err(|_| {
                PolicyError::invalid(app.defined_at.clone(), "apps", "too many apps")
            })?;
            let keys = app
                .domains
                .iter()
                .map(|d| (KeyKind::Suffix, d))
                .chain(app.hosts.iter().map(|h| (KeyKind::Exact, h)));
            for (kind, key) in keys {
                if let Some(prev) = index.insert(kind, key, n) {
                    let other = &catalog.apps()[prev as usize];
                    return Err(PolicyError::invalid(
                        app.defined_at.clone(),
                        "domains",
                        format!(
                            "`{key}` of app `{}` is already claimed by app `{}` ({})",
                            app.id, other.id, other.defined_at
                        ),
                    ));
                }
            }
            for r in &app.routes {
                if let Some(slash) = r.find('/') {
                    let list = routes.entry(r[..slash].into()).or_default();
                    if list.iter().any(|(p, _)| **p == r[slash..]) {
                        return Err(PolicyError::invalid(
                            app.defined_at.clone(),
                            "routes",
                            format!("route `{r}` of app `{}` is claimed twice", app.id),
                        ));
                    }
                    list.push((r[slash..].into(), n));
                    list.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
                }
            }
            patterns.push(AppPatterns::compile(app)?);
        }
        let ids = catalog
            .apps()
            .iter()
            .map(|a| Arc::from(a.id.as_str()))
            .collect();
        let names = catalog
            .apps()
            .iter()
            .map(|a| Arc::from(a.name.as_str()))
            .collect();
        Ok(Self {
            catalog,
            index,
            routes,
            patterns,
            ids,
            names,
        })
    }

    /// The built-in catalogue, compiled.
    pub fn builtin() -> Result<Self, PolicyError> {
        Self::new(Catalog::builtin()?)
    }

    /// The catalogue this classifier was built from.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The app owning `host` (any case, optional port and trailing dot).
    #[inline]
    pub fn lookup_host(&self, host: &str) -> Option<&App> {
        let host = normalize_host(host);
        self.index
            .lookup(&host)
            .map(|i| &self.catalog.apps()[i as usize])
    }

    /// Host-level facts, as known at CONNECT time. The instance is filled
    /// only when the host itself reveals it (e.g. `contoso.sharepoint.com`).
    pub fn classify_host(&self, host: &str) -> AppFacts {
        let req = RequestInfo {
            method: "",
            host,
            path: "",
            headers: &NoHeaders,
        };
        self.facts(&req, false).0
    }

    /// Classifies a request: app facts, instance and activity.
    pub fn classify(&self, req: &RequestInfo<'_>) -> Classification {
        let (app, activity) = self.facts(req, true);
        Classification { app, activity }
    }

    /// A CONNECT-time context for `host`: app facts filled, everything else
    /// default (anonymous user, unmanaged device, unknown network facts).
    pub fn context_for_host(&self, host: &str) -> Context {
        Context {
            app: self.classify_host(host),
            ..Context::default()
        }
    }

    /// Classifies `req` and fills `ctx.app` and `ctx.request` (keeping any
    /// file information already in `ctx.request`).
    pub fn fill_request(&self, ctx: &mut Context, req: &RequestInfo<'_>) {
        let c = self.classify(req);
        let file = ctx.request.take().and_then(|r| r.file);
        ctx.app = c.app;
        ctx.request = Some(RequestFacts {
            method: req.method.to_ascii_uppercase(),
            path: req.path.to_owned(),
            activity: c.activity,
            file,
        });
    }

    fn facts(&self, req: &RequestInfo<'_>, with_request: bool) -> (AppFacts, Option<Activity>) {
        let host = normalize_host(req.host);
        let registrable_domain = if host.parse::<std::net::IpAddr>().is_ok() {
            None
        } else {
            psl::domain_str(&host).map(str::to_owned)
        };
        let mut found = self.index.lookup(&host);
        if with_request {
            if let Some(list) = self.routes.get(&*host) {
                let path = req.path;
                if let Some((_, app)) = list.iter().find(|(prefix, _)| path.starts_with(&**prefix))
                {
                    found = Some(*app);
                }
            }
        }
        let Some(i) = found else {
            let facts = AppFacts {
                host: host.into_owned(),
                registrable_domain,
                app_id: Arc::from(UNKNOWN_APP),
                ..AppFacts::default()
            };
            return (facts, None);
        };
        let i = i as usize;
        let app = &self.catalog.apps()[i];
        let patterns = &self.patterns[i];
        let (instance, activity) = if with_request {
            (patterns.instance(req, &host), patterns.activity(req, &host))
        } else if patterns.has_instances() {
            (patterns.instance(req, &host), None)
        } else {
            (None, None)
        };
        let facts = AppFacts {
            registrable_domain,
            app_id: self.ids[i].clone(),
            app_name: Some(self.names[i].clone()),
            category: Some(app.category),
            risk_score: Some(app.risk_score()),
            status: self.catalog.status(&app.id),
            pins_certificates: app.pins_certificates,
            privacy_sensitive: app.privacy_sensitive(),
            instance,
            host: host.into_owned(),
        };
        (facts, activity)
    }
}
