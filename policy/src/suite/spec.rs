//! A context written as data: the shape used by policy test files (and
//! handy for tools). Host-level facts come from the classifier.

use std::net::IpAddr;

use serde::Deserialize;

use crate::catalog::Activity;
use crate::classify::{Classifier, RequestInfo};
use crate::context::{
    Context, Device, DlpHit, DlpVerdict, FileInfo, Identity, LocalTime, Network, Weekday,
};

/// A context as written in a test file. Only `host` is required.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// User name (absent: anonymous).
    #[serde(default)]
    pub user: Option<String>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Authentication method.
    #[serde(default)]
    pub auth_method: Option<String>,
    /// Device facts (absent: unknown, unmanaged device).
    #[serde(default)]
    pub device: Option<Device>,
    /// Client address.
    #[serde(default)]
    pub client_ip: Option<IpAddr>,
    /// Client country.
    #[serde(default)]
    pub client_country: Option<String>,
    /// Client site.
    #[serde(default)]
    pub client_site: Option<String>,
    /// Destination address.
    #[serde(default)]
    pub dest_ip: Option<IpAddr>,
    /// Destination country.
    #[serde(default)]
    pub dest_country: Option<String>,
    /// Destination host (classified with the catalogue).
    pub host: String,
    /// HTTP method (request phases; default GET).
    #[serde(default)]
    pub method: Option<String>,
    /// Path and query (request phases; default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// Request headers, `Name: value`.
    #[serde(default)]
    pub headers: Vec<String>,
    /// Overrides the classifier's activity.
    #[serde(default)]
    pub activity: Option<Activity>,
    /// Overrides the classifier's instance.
    #[serde(default)]
    pub instance: Option<String>,
    /// The file in the request or response.
    #[serde(default)]
    pub file: Option<FileInfo>,
    /// DLP hits (after_dlp phase).
    #[serde(default)]
    pub dlp: Vec<DlpHit>,
    /// Local time, `mon 10:30`.
    #[serde(default)]
    pub time: Option<String>,
    /// Now, Unix seconds.
    #[serde(default)]
    pub now: Option<u64>,
}

fn parse_time(s: &str) -> Result<LocalTime, String> {
    let (day, hhmm) = s
        .trim()
        .split_once(' ')
        .ok_or_else(|| format!("time `{s}`: expected `mon 10:30`"))?;
    Ok(LocalTime {
        weekday: day.parse::<Weekday>()?,
        minute_of_day: LocalTime::parse_hhmm(hhmm)?.min(1439),
    })
}

impl ContextSpec {
    /// Builds the context, classifying the host (and, with `with_request`,
    /// the method, path and headers).
    pub fn to_context(
        &self,
        classifier: &Classifier,
        with_request: bool,
    ) -> Result<Context, String> {
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|h| {
                h.split_once(':')
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .ok_or_else(|| format!("header `{h}` is not `Name: value`"))
            })
            .collect::<Result<_, _>>()?;
        let mut ctx = Context {
            identity: Identity {
                user: self.user.clone(),
                groups: self.groups.clone(),
                auth_method: self.auth_method.clone(),
            },
            device: self.device.clone().unwrap_or_default(),
            network: Network {
                client_ip: self.client_ip,
                client_country: self.client_country.as_deref().map(str::to_ascii_uppercase),
                client_site: self.client_site.clone(),
                dest_ip: self.dest_ip,
                dest_country: self.dest_country.as_deref().map(str::to_ascii_uppercase),
            },
            local_time: self.time.as_deref().map(parse_time).transpose()?,
            now_unix: self.now,
            ..Context::default()
        };
        if with_request {
            let method = self.method.as_deref().unwrap_or("GET");
            let path = self.path.as_deref().unwrap_or("/");
            ctx.request = Some(crate::context::RequestFacts {
                file: self.file.clone(),
                ..Default::default()
            });
            classifier.fill_request(
                &mut ctx,
                &RequestInfo {
                    method,
                    host: &self.host,
                    path,
                    headers: &headers,
                },
            );
            if let (Some(a), Some(r)) = (self.activity, ctx.request.as_mut()) {
                r.activity = Some(a);
            }
        } else {
            ctx.app = classifier.classify_host(&self.host);
        }
        if let Some(i) = &self.instance {
            ctx.app.instance = Some(i.to_ascii_lowercase());
        }
        if !self.dlp.is_empty() {
            ctx.dlp = Some(DlpVerdict {
                hits: self.dlp.clone(),
            });
        }
        Ok(ctx)
    }
}
