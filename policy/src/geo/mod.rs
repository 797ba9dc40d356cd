//! IP → country from a MaxMind-format database (GeoLite2-Country, DB-IP
//! country, …) plus administrator CIDR overrides that can also name a site.
//!
//! The proxy reads the `.mmdb` file and hands the bytes over; this module
//! does no I/O. Overrides win over the database; among overrides the most
//! specific prefix wins.
//!
//! Override file format:
//!
//! ```yaml
//! overrides:
//!   - cidr: 10.0.0.0/8
//!     country: US
//!     site: hq
//! ```

use std::net::IpAddr;

use ipnet::IpNet;
use marked_yaml::Spanned;
use serde::{Deserialize, Serialize};

use crate::error::PolicyError;
use crate::rules::values;
use crate::yaml::{decode, span_location};

/// An administrator's override for a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeoOverride {
    /// The network.
    pub net: IpNet,
    /// Country to report (ISO 3166-1 alpha-2, upper case), if any.
    pub country: Option<String>,
    /// Site name to report, if any.
    pub site: Option<String>,
}

/// What the resolver knows about an address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GeoInfo {
    /// Country, upper case.
    pub country: Option<String>,
    /// Site from an override.
    pub site: Option<String>,
}

/// Resolves addresses to countries and sites.
#[derive(Default)]
pub struct GeoResolver {
    reader: Option<maxminddb::Reader<Vec<u8>>>,
    overrides: Vec<GeoOverride>,
}

impl std::fmt::Debug for GeoResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoResolver")
            .field(
                "database",
                &self
                    .reader
                    .as_ref()
                    .map(|r| r.metadata.database_type.clone()),
            )
            .field("overrides", &self.overrides.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow, default)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<IsoCode<'a>>,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFile {
    #[serde(default)]
    overrides: Vec<Spanned<RawOverride>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    cidr: String,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    site: Option<String>,
}

impl GeoResolver {
    /// A resolver with no database and no overrides (every lookup unknown).
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads a MaxMind DB from its bytes; `origin` names it in errors.
    pub fn with_database(mut self, bytes: Vec<u8>, origin: &str) -> Result<Self, PolicyError> {
        let reader = maxminddb::Reader::from_source(bytes).map_err(|e| PolicyError::Geo {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        self.reader = Some(reader);
        Ok(self)
    }

    /// Adds the overrides of a YAML file (see the module docs).
    pub fn with_overrides_yaml(mut self, text: &str, origin: &str) -> Result<Self, PolicyError> {
        let file: OverrideFile = decode(text, origin)?;
        for (i, o) in file.overrides.iter().enumerate() {
            let at = || span_location(origin, o.span());
            let net = values::cidr(&o.cidr)
                .map_err(|m| PolicyError::invalid(at(), format!("overrides[{i}].cidr"), m))?;
            let country = o
                .country
                .as_deref()
                .map(values::country)
                .transpose()
                .map_err(|m| PolicyError::invalid(at(), format!("overrides[{i}].country"), m))?;
            if country.is_none() && o.site.is_none() {
                return Err(PolicyError::invalid(
                    at(),
                    format!("overrides[{i}]"),
                    "give a country, a site or both",
                ));
            }
            self.add_override(GeoOverride {
                net,
                country,
                site: o.site.clone(),
            });
        }
        Ok(self)
    }

    /// Adds one override.
    pub fn add_override(&mut self, o: GeoOverride) {
        self.overrides.push(o);
        // Most specific first; stable so that earlier entries win ties.
        self.overrides
            .sort_by_key(|o| std::cmp::Reverse(o.net.prefix_len()));
    }

    /// Country and site of `ip`.
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        let mut info = GeoInfo::default();
        for o in self.overrides.iter().filter(|o| o.net.contains(&ip)) {
            if info.country.is_none() {
                info.country.clone_from(&o.country);
            }
            if info.site.is_none() {
                info.site.clone_from(&o.site);
            }
        }
        if info.country.is_none() {
            info.country = self.database_country(ip);
        }
        info
    }

    /// Fills the countries and the client site of `network` from its
    /// addresses (facts already set are kept).
    pub fn fill(&self, network: &mut crate::context::Network) {
        if let Some(ip) = network.client_ip {
            let info = self.lookup(ip);
            if network.client_country.is_none() {
                network.client_country = info.country;
            }
            if network.client_site.is_none() {
                network.client_site = info.site;
            }
        }
        if let (Some(ip), None) = (network.dest_ip, &network.dest_country) {
            network.dest_country = self.lookup(ip).country;
        }
    }

    fn database_country(&self, ip: IpAddr) -> Option<String> {
        let reader = self.reader.as_ref()?;
        let rec: CountryRecord<'_> = reader.lookup(ip).ok()??;
        let code = rec
            .country
            .and_then(|c| c.iso_code)
            .or_else(|| rec.registered_country.and_then(|c| c.iso_code))?;
        values::country(code).ok()
    }
}
