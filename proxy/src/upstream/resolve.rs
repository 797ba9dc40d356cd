//! Host → addresses: configured overrides first, then hickory-resolver
//! (system configuration, cached). Restricted destinations are filtered out
//! unless `upstream.allow_private` is set.

use std::collections::HashMap;
use std::net::IpAddr;

use hickory_resolver::TokioResolver;

use super::destination::restricted_reason;

/// Why a host could not be turned into connectable addresses.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// DNS had no address for the name, or failed.
    #[error("cannot resolve {host}: {reason}")]
    Dns {
        /// The name looked up.
        host: String,
        /// What DNS said.
        reason: String,
    },
    /// Every address of the destination is restricted.
    #[error("destination {host} ({addr}) is a {reason} address; set upstream.allow_private to permit it")]
    Restricted {
        /// The requested host.
        host: String,
        /// The first refused address.
        addr: IpAddr,
        /// The kind of address.
        reason: &'static str,
    },
}

/// Resolves destination names.
#[derive(Clone)]
pub struct Resolver {
    overrides: HashMap<String, Vec<IpAddr>>,
    dns: Option<TokioResolver>,
    allow_private: bool,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("overrides", &self.overrides.len())
            .field("allow_private", &self.allow_private)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// A resolver with `overrides` (keys lower-cased) in front of system DNS.
    /// When the system resolver configuration cannot be read, only overrides
    /// and IP literals resolve, and `dns_error` says why.
    pub fn new(
        overrides: impl IntoIterator<Item = (String, Vec<IpAddr>)>,
        allow_private: bool,
    ) -> (Self, Option<String>) {
        let (dns, dns_error) = match TokioResolver::builder_tokio() {
            Ok(builder) => (Some(builder.build()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let overrides = overrides
            .into_iter()
            .map(|(k, v)| (k.trim_end_matches('.').to_ascii_lowercase(), v))
            .collect();
        (
            Self {
                overrides,
                dns,
                allow_private,
            },
            dns_error,
        )
    }

    /// The addresses `host` may be connected to, in preference order.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let candidates = if let Ok(ip) = bare.parse::<IpAddr>() {
            vec![ip]
        } else {
            let key = host.trim_end_matches('.').to_ascii_lowercase();
            match self.overrides.get(&key) {
                Some(addrs) => addrs.clone(),
                None => self.lookup(&key).await?,
            }
        };
        self.permitted(host, candidates)
    }

    async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let dns_err = |reason: String| ResolveError::Dns {
            host: host.to_owned(),
            reason,
        };
        let Some(dns) = &self.dns else {
            return Err(dns_err("no DNS resolver configured".into()));
        };
        // A fully qualified query: never let search domains rewrite the name.
        let fqdn = format!("{host}.");
        let lookup = dns
            .lookup_ip(fqdn)
            .await
            .map_err(|e| dns_err(e.to_string()))?;
        let addrs: Vec<IpAddr> = lookup.iter().collect();
        if addrs.is_empty() {
            return Err(dns_err("no addresses".into()));
        }
        Ok(addrs)
    }

    fn permitted(&self, host: &str, addrs: Vec<IpAddr>) -> Result<Vec<IpAddr>, ResolveError> {
        if self.allow_private {
            return Ok(addrs);
        }
        let mut refused = None;
        let allowed: Vec<IpAddr> = addrs
            .into_iter()
            .filter(|&a| match restricted_reason(a) {
                Some(reason) => {
                    refused.get_or_insert((a, reason));
                    false
                }
                None => true,
            })
            .collect();
        match (allowed.is_empty(), refused) {
            (true, Some((addr, reason))) => Err(ResolveError::Restricted {
                host: host.to_owned(),
                addr,
                reason,
            }),
            (true, None) => Err(ResolveError::Dns {
                host: host.to_owned(),
                reason: "no addresses".into(),
            }),
            _ => Ok(allowed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overrides_literals_and_restrictions() {
        let ov = vec![(
            "Origin.Test".to_string(),
            vec!["127.0.0.1".parse().unwrap()],
        )];
        let (strict, _) = Resolver::new(ov.clone(), false);
        let err = strict.resolve("origin.test").await.unwrap_err();
        assert!(
            matches!(
                err,
                ResolveError::Restricted {
                    reason: "loopback",
                    ..
                }
            ),
            "{err}"
        );
        assert!(strict.resolve("169.254.169.254").await.is_err());
        assert_eq!(
            strict.resolve("8.8.8.8").await.unwrap(),
            vec!["8.8.8.8".parse::<IpAddr>().unwrap()]
        );
        let (open, _) = Resolver::new(ov, true);
        assert_eq!(open.resolve("ORIGIN.test.").await.unwrap().len(), 1);
        assert_eq!(open.resolve("[::1]").await.unwrap().len(), 1);
    }
}
