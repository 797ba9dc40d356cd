//! `[pac]`: a proxy auto-config file served to browsers and WPAD clients.

use std::time::Duration;

use serde::Deserialize;

use super::Listen;

/// `[pac]`: an HTTP listener serving `/proxy.pac` and `/wpad.dat`, generated
/// once at start-up from these fields. Hosts listed in `inspection.bypass`
/// still go through the proxy (relayed blind and recorded); only `direct`
/// (and the opt-in vendor sets) leave the proxy out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PacSection {
    /// Address of the PAC listener, or `"off"` (the default).
    pub listen: Listen,
    /// Proxy endpoints clients use, in failover order: `"host:port"` (plain
    /// proxy protocol, `PROXY`) or `"https://host:port"` (TLS to the proxy,
    /// `HTTPS`). Required when `listen` is on: the proxy's own listen address
    /// (often `0.0.0.0`) is not an address clients can use.
    pub proxies: Vec<String>,
    /// Append `DIRECT` after the proxies, so clients go direct when every
    /// proxy is unreachable. Default false: fail closed.
    pub fallback_direct: bool,
    /// What goes direct: exact hosts (`intranet.corp.example`), domains with
    /// their subdomains (`.corp.example` or `*.corp.example`), IP literals and
    /// CIDR ranges (`10.0.0.0/8`, `fd00::/8`).
    pub direct: Vec<String>,
    /// Send plain host names (no dot, e.g. `http://wiki/`) direct. Default false.
    pub direct_plain_hosts: bool,
    /// Resolve host names in the PAC (`dnsResolve`) to test them against the
    /// CIDR ranges of `direct`. Default true; false: ranges match IP-literal
    /// hosts only and the PAC never makes a DNS query.
    pub resolve_names: bool,
    /// Send Microsoft 365 "Optimize" endpoints direct, as Microsoft asks
    /// (the list is in `proxy/src/pac/microsoft365_optimize.txt`). Default false.
    pub microsoft365_optimize: bool,
    /// The Microsoft 365 tenant name (`contoso` for `contoso.sharepoint.com`):
    /// adds the tenant's SharePoint and OneDrive hosts to the Optimize set.
    pub microsoft365_tenant: Option<String>,
    /// `Cache-Control: max-age` of the served file. Default 5 min.
    #[serde(with = "humantime_serde")]
    pub cache_max_age: Duration,
}

impl Default for PacSection {
    fn default() -> Self {
        Self {
            listen: Listen::Off,
            proxies: Vec::new(),
            fallback_direct: false,
            direct: Vec::new(),
            direct_plain_hosts: false,
            resolve_names: true,
            microsoft365_optimize: false,
            microsoft365_tenant: None,
            cache_max_age: Duration::from_secs(300),
        }
    }
}

/// Checks `[pac]` by generating the script it describes; a failure names
/// the field at fault.
pub(super) fn validate(pac: &PacSection) -> Result<(), (Vec<&'static str>, String)> {
    if pac.listen != Listen::Off && pac.proxies.is_empty() {
        return Err((
            vec!["pac", "proxies"],
            "the PAC listener is on but no proxies are listed; name the addresses \
             clients reach the proxy at (e.g. [\"proxy.corp.example:3128\"])"
                .into(),
        ));
    }
    if pac.microsoft365_tenant.is_some() && !pac.microsoft365_optimize {
        return Err((
            vec!["pac", "microsoft365_tenant"],
            "has no effect without `microsoft365_optimize = true`".into(),
        ));
    }
    crate::pac::Script::generate(pac)
        .map(drop)
        .map_err(|e| (vec!["pac", e.field], e.message))
}
