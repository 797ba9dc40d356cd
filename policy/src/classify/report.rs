//! The JSON line `portcullis classify` prints per URL.

use serde::Serialize;

use super::{Classifier, HeaderLookup, RequestInfo};
use crate::catalog::{Activity, AppStatus, Category};
use crate::error::{Location, PolicyError};

/// One classified URL, as printed by `portcullis classify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassifyReport {
    /// The URL as given.
    pub url: String,
    /// Catalogue id or `unknown`.
    pub app_id: String,
    /// Display name, if catalogued.
    pub app_name: Option<String>,
    /// Category, if catalogued.
    pub category: Option<Category>,
    /// Instance, if the request reveals one.
    pub instance: Option<String>,
    /// Activity, if recognised.
    pub activity: Option<Activity>,
    /// Risk score, if catalogued.
    pub risk_score: Option<u8>,
    /// Review status.
    pub status: AppStatus,
    /// Registrable domain of the host.
    pub registrable_domain: Option<String>,
}

/// Splits an absolute `http(s)://host[:port]/path?query` URL into host and
/// path-and-query (userinfo and fragment dropped).
pub fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .or_else(|| url.strip_prefix("wss://"))
        .or_else(|| url.strip_prefix("ws://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let mut path = &rest[end..];
    if let Some(hash) = path.find('#') {
        path = &path[..hash];
    }
    if host.is_empty() {
        return None;
    }
    Some((host, if path.is_empty() { "/" } else { path }))
}

impl Classifier {
    /// Classifies an absolute URL the way the proxy would classify a request
    /// for it; `method` defaults to GET in the CLI.
    pub fn classify_url(
        &self,
        method: &str,
        url: &str,
        headers: &dyn HeaderLookup,
    ) -> Result<ClassifyReport, PolicyError> {
        let (host, path) = split_url(url).ok_or_else(|| {
            PolicyError::invalid(
                Location::origin("url"),
                "url",
                format!("`{url}` is not an absolute http(s) URL"),
            )
        })?;
        let c = self.classify(&RequestInfo {
            method,
            host,
            path,
            headers,
        });
        Ok(ClassifyReport {
            url: url.to_owned(),
            app_id: c.app.app_id.to_string(),
            app_name: c.app.app_name.as_deref().map(str::to_owned),
            category: c.app.category,
            instance: c.app.instance,
            activity: c.activity,
            risk_score: c.app.risk_score,
            status: c.app.status,
            registrable_domain: c.app.registrable_domain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn splits_urls() {
        assert_eq!(
            split_url("https://a.b.com/x?y=1#f"),
            Some(("a.b.com", "/x?y=1"))
        );
        assert_eq!(
            split_url("http://u:p@a.com:8080"),
            Some(("a.com:8080", "/"))
        );
        assert_eq!(split_url("https://a.com?q"), Some(("a.com", "?q")));
        assert_eq!(split_url("ftp://a.com/"), None);
        assert_eq!(split_url("https:///x"), None);
    }
}
