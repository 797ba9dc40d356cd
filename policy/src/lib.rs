//! `policy`: SaaS app catalogue, classifier, context model and rule language.
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
