//! `policy`: what is this request, and what do we do about it?
//!
//! A pure library (no I/O, no async, no logging) that the Portcullis proxy
//! asks two questions per connection and per request:
//!
//! 1. **What is this?** [`Classifier`] maps a host (plus method, path and
//!    headers) to an app of the [`Catalog`] — category, risk score, review
//!    status, instance (tenant / workspace / org) and activity (login,
//!    upload, download, share, post, delete, edit). Unknown hosts come back
//!    as `unknown` with their registrable domain for shadow-IT grouping.
//! 2. **What do we do?** [`Policy::evaluate`] runs ordered YAML rules, first
//!    match wins, over a [`Context`] (identity, device posture, network and
//!    geo, app, activity, file, DLP verdict, local time) and returns a
//!    [`Decision`]. [`Policy::explain`] shows, rule by rule, what held.
//!
//! # Typical use by the proxy
//!
//! ```
//! use policy::{Classifier, Phase, Policy, Tunnel};
//! use policy::classify::{NoHeaders, RequestInfo};
//!
//! let classifier = Classifier::builtin()?;                // + admin overrides
//! let text = "rules:\n  - id: no-ai-uploads\n    when:\n      all:\n        - category: generative_ai\n        - activity: upload\n    action: block\n";
//! let (policy, warnings) = Policy::parse(text, "policy.yaml", classifier.catalog())
//!     .map_err(|e| e[0].clone())?;
//! assert!(warnings.is_empty());
//!
//! // CONNECT time: host-level facts only.
//! let mut ctx = classifier.context_for_host("chatgpt.com");
//! let d = policy.evaluate(&ctx, Phase::Connect);
//! assert_eq!(d.tunnel, Tunnel::Intercept);          // the upload rule is pending
//!
//! // Per request, inside interception.
//! let req = RequestInfo { method: "POST", host: "chatgpt.com", path: "/backend-api/files", headers: &NoHeaders };
//! classifier.fill_request(&mut ctx, &req);
//! let d = policy.evaluate(&ctx, Phase::Request);
//! assert_eq!(d.action, policy::ActionKind::Block);
//! # Ok::<(), policy::PolicyError>(())
//! ```
//!
//! # The phase contract
//!
//! The proxy evaluates in up to three [`Phase`]s; see [`decide`] for the
//! full statement. In short: at CONNECT only host-level facts are known and
//! the answer is [`Decision::tunnel`] (block, bypass, intercept); a rule
//! that needs request facts is *pending*, does not match, and forces
//! interception if it comes before the rule that would otherwise decide.
//! Per request, a first evaluation picks the DLP profile
//! ([`Decision::dlp_profile`]); if [`Decision::needs_dlp`], the proxy scans,
//! adds the verdict to the context and evaluates again with
//! [`Phase::AfterDlp`] for the final action.
//!
//! # Policy file format
//!
//! ```yaml
//! version: 1
//! default: {action: allow}            # the action when no rule matches
//! dlp_profiles:                        # named DLP profiles rules can use
//!   pci: {detectors: [credit-card], min_count: 1, action: block, severity: critical}
//! rules:                               # ordered; first match wins
//!   - id: block-genai-uploads          # unique
//!     description: optional text
//!     enabled: true                    # optional
//!     when:                            # optional: absent = always
//!       all:                           # all / any / not combine conditions
//!         - category: generative_ai
//!         - activity: [upload]
//!         - not: {group: ai-pilot}
//!     action: block                    # allow | block | bypass | isolate_downloads | warn | log_only
//!     reason: "Shown to the user"
//!     severity: high                   # info | low | medium | high | critical
//!     # dlp_profile: pci               # scan with this profile
//!     # headers: ["X-Example: 1"]      # injected request headers
//!     # tenant_restrictions: [{google: {domains: [example.com]}}]
//!     # warn_ttl: 8h                   # with action: warn
//! ```
//!
//! Conditions (each a one-key mapping; a list means "any of"):
//! `user`, `group`, `auth_method`, `authenticated`, `device_id`,
//! `device_managed`, `device_compliant`, `device_os`, `device_os_version`
//! (comparison on dotted versions), `posture` (`disk_encryption`,
//! `edr_running`, `firewall`, `screen_lock`), `posture_age` (duration
//! comparison), `client_ip` / `dest_ip` (CIDRs), `client_country` /
//! `dest_country`, `client_site`, `app`, `category`, `app_status`,
//! `risk_score` (comparison), `instance`, `host` (exact, `*.suffix` or
//! glob), `host_suffix`, `registrable_domain`, `pins_certificates`,
//! `privacy_sensitive`, `activity`, `method`, `path_prefix`, `file_type`,
//! `file_size` (comparison with units), `dlp_rule`, `dlp_category`,
//! `dlp_count`, `time` (`days`, `from`, `to` in local time). Comparisons are
//! mappings of `eq`, `gt`, `gte`, `lt`, `lte`.
//!
//! Validation reports unknown fields, unknown apps, categories, statuses and
//! activities, bad CIDRs, countries, sizes and durations, duplicate rule
//! ids and misplaced options as errors naming `file:line`, and rules
//! shadowed by an earlier rule as [`Warning`]s. Policy tests as data live in
//! [`suite`].
//!
//! # Performance
//!
//! Host lookup is one hash probe per label (see the `classify_lookup`
//! benchmark); evaluation visits only the rules indexed under the context's
//! app, category, host suffixes and registrable domain plus the unindexed
//! ones, without allocating (see `policy_eval`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod catalog;
pub mod classify;
pub mod context;
pub mod decide;
pub mod error;
pub mod geo;
pub mod rules;
pub mod suite;
pub mod tenant;
mod yaml;

pub use catalog::{Activity, App, AppStatus, Catalog, Category};
pub use classify::{Classification, Classifier, ClassifyReport, HeaderLookup, RequestInfo};
pub use context::Context;
pub use decide::{check_policy, Decision, Explanation, Phase, Policy, WarnKey};
pub use error::{Location, PolicyError, Warning};
pub use geo::{GeoInfo, GeoOverride, GeoResolver};
pub use rules::{ActionKind, DlpProfile, Severity, Tunnel};
pub use tenant::{Header, TenantRestriction};
