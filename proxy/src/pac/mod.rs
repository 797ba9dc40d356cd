//! Proxy auto-config (PAC) generation: `[pac]` → a deterministic JavaScript
//! `FindProxyForURL`, computed once at start-up and served by
//! [`crate::listen::pac`].
//!
//! What goes direct is `pac.direct` (plus the opt-in Microsoft 365 Optimize
//! set) and nothing else: hosts in `inspection.bypass` are deliberately not
//! consulted, because bypassed traffic still goes through the proxy (relayed
//! blind and recorded).

mod entry;
mod script;

use std::collections::BTreeSet;

pub use entry::{host_name, parse_direct, parse_endpoint, Direct, Endpoint};

use crate::config::PacSection;

/// The built-in Microsoft 365 Optimize host list (see the file for its source).
pub const MICROSOFT365_OPTIMIZE: &str = include_str!("microsoft365_optimize.txt");

/// A generated PAC file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The JavaScript text.
    pub text: String,
}

/// Why a `[pac]` section cannot be turned into a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pac.{field}: {message}")]
pub struct PacError {
    /// The `[pac]` field at fault.
    pub field: &'static str,
    /// What is wrong, naming the entry.
    pub message: String,
}

/// The validated, de-duplicated and sorted contents of a PAC file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Proxy endpoints in failover order.
    pub proxies: Vec<Endpoint>,
    /// Append `DIRECT` after the proxies.
    pub fallback_direct: bool,
    /// Plain host names go direct.
    pub plain_hosts: bool,
    /// Resolve names to test them against the IPv4 ranges.
    pub resolve_names: bool,
    /// Exact hosts that go direct.
    pub hosts: BTreeSet<String>,
    /// Domains (with subdomains) that go direct.
    pub domains: BTreeSet<String>,
    /// IPv4 ranges that go direct.
    pub nets4: BTreeSet<ipnet::Ipv4Net>,
    /// IPv6 ranges that go direct.
    pub nets6: BTreeSet<ipnet::Ipv6Net>,
}

impl Rules {
    /// Validates `[pac]` into rules.
    pub fn from_config(pac: &PacSection) -> Result<Self, PacError> {
        let mut rules = Rules {
            fallback_direct: pac.fallback_direct,
            plain_hosts: pac.direct_plain_hosts,
            resolve_names: pac.resolve_names,
            ..Rules::default()
        };
        let mut seen = BTreeSet::new();
        for text in &pac.proxies {
            let endpoint = parse_endpoint(text).map_err(|message| PacError {
                field: "proxies",
                message,
            })?;
            if !seen.insert(endpoint.authority.clone()) {
                return Err(PacError {
                    field: "proxies",
                    message: format!("{text:?} is listed twice"),
                });
            }
            rules.proxies.push(endpoint);
        }
        for text in &pac.direct {
            let entry = parse_direct(text).map_err(|message| PacError {
                field: "direct",
                message,
            })?;
            rules.add(entry);
        }
        if pac.microsoft365_optimize {
            let tenant = match &pac.microsoft365_tenant {
                Some(t) => Some(tenant_label(t)?),
                None => None,
            };
            for entry in microsoft365_optimize(tenant.as_deref()) {
                rules.add(entry);
            }
        }
        Ok(rules)
    }

    fn add(&mut self, entry: Direct) {
        match entry {
            Direct::Host(h) => {
                self.hosts.insert(h);
            }
            Direct::Domain(d) => {
                self.domains.insert(d);
            }
            Direct::Net4(n) => {
                self.nets4.insert(n);
            }
            Direct::Net6(n) => {
                self.nets6.insert(n);
            }
        }
    }

    /// The result for proxied traffic: the proxies in order, then `DIRECT`
    /// when `fallback_direct` (an empty proxy list means `DIRECT`).
    pub fn proxy_result(&self) -> String {
        let mut tokens: Vec<String> = self.proxies.iter().map(Endpoint::token).collect();
        if self.fallback_direct || tokens.is_empty() {
            tokens.push("DIRECT".into());
        }
        tokens.join("; ")
    }
}

impl Script {
    /// Generates the PAC file `[pac]` describes.
    pub fn generate(pac: &PacSection) -> Result<Self, PacError> {
        let rules = Rules::from_config(pac)?;
        Ok(Self {
            text: script::render(&rules),
        })
    }
}

/// The Microsoft 365 Optimize entries; `{tenant}` lines only with a tenant.
/// The list is compiled in and covered by a unit test, so it always parses.
fn microsoft365_optimize(tenant: Option<&str>) -> Vec<Direct> {
    MICROSOFT365_OPTIMIZE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| match (l.contains("{tenant}"), tenant) {
            (false, _) => Some(l.to_owned()),
            (true, Some(t)) => Some(l.replace("{tenant}", t)),
            (true, None) => None,
        })
        .filter_map(|l| parse_direct(&l).ok())
        .collect()
}

/// A Microsoft 365 tenant name: one DNS label.
fn tenant_label(tenant: &str) -> Result<String, PacError> {
    match host_name(tenant) {
        Ok(t) if !t.contains('.') => Ok(t),
        _ => Err(PacError {
            field: "microsoft365_tenant",
            message: format!(
                "{tenant:?} is not a tenant name (the `contoso` of contoso.sharepoint.com)"
            ),
        }),
    }
}

#[cfg(test)]
mod tests;
