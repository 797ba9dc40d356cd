//! Compiled activity and instance patterns of one app.

use regex::{Regex, RegexBuilder};

use crate::catalog::{Activity, App, InstanceSource};
use crate::error::PolicyError;

/// Read-only access to request headers, so the classifier does not depend
/// on any HTTP crate. Names are matched case-insensitively by implementors.
pub trait HeaderLookup {
    /// The first value of header `name`, if present and valid text.
    fn header(&self, name: &str) -> Option<&str>;
}

/// No headers at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHeaders;

impl HeaderLookup for NoHeaders {
    fn header(&self, _name: &str) -> Option<&str> {
        None
    }
}

impl HeaderLookup for [(&str, &str)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

impl HeaderLookup for Vec<(String, String)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Adapts a closure (e.g. over `http::HeaderMap`) to [`HeaderLookup`].
///
/// ```
/// use std::collections::HashMap;
/// use policy::classify::{HeaderFn, HeaderLookup};
///
/// let map: HashMap<String, String> = [("chatgpt-account-id".to_owned(), "ws-1".to_owned())].into();
/// let headers = HeaderFn::new(|name: &str| map.get(&name.to_ascii_lowercase()).map(String::as_str));
/// assert_eq!(headers.header("ChatGPT-Account-Id"), Some("ws-1"));
/// ```
pub struct HeaderFn<'h, F: Fn(&str) -> Option<&'h str>>(
    pub F,
    pub std::marker::PhantomData<&'h ()>,
);

impl<'h, F: Fn(&str) -> Option<&'h str>> HeaderFn<'h, F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        Self(f, std::marker::PhantomData)
    }
}

impl<'h, F: Fn(&str) -> Option<&'h str>> HeaderLookup for HeaderFn<'h, F> {
    fn header(&self, name: &str) -> Option<&str> {
        (self.0)(name)
    }
}

/// The parts of a request the classifier looks at.
#[derive(Clone, Copy)]
pub struct RequestInfo<'a> {
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// Host name (a port and trailing dot are ignored).
    pub host: &'a str,
    /// Path and query, e.g. `/upload?x=1`.
    pub path: &'a str,
    /// Request headers.
    pub headers: &'a dyn HeaderLookup,
}

impl std::fmt::Debug for RequestInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestInfo")
            .field("method", &self.method)
            .field("host", &self.host)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct CompiledActivity {
    activity: Activity,
    methods: Vec<String>,
    host: Option<Regex>,
    path: Option<Regex>,
    header: Option<(String, Option<Regex>)>,
}

#[derive(Debug, Clone)]
struct CompiledInstance {
    from: InstanceSource,
    name: Option<String>,
    pattern: Regex,
    host: Option<Regex>,
    not: Option<Regex>,
}

/// An app's patterns, compiled once.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppPatterns {
    activities: Vec<CompiledActivity>,
    instances: Vec<CompiledInstance>,
}

fn compile(
    app: &App,
    field: &str,
    pattern: &str,
    case_insensitive: bool,
) -> Result<Regex, PolicyError> {
    RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            PolicyError::invalid(
                app.defined_at.clone(),
                field,
                format!("app `{}`: invalid regex `{pattern}`: {e}", app.id),
            )
        })
}

impl AppPatterns {
    /// Compiles every pattern of `app`; the error names the app and field.
    pub(crate) fn compile(app: &App) -> Result<Self, PolicyError> {
        let mut out = Self::default();
        for (i, a) in app.activities.iter().enumerate() {
            let field = |f: &str| format!("activities[{i}].{f}");
            let header = match &a.header {
                Some(h) => Some((
                    h.name.to_ascii_lowercase(),
                    h.value
                        .as_deref()
                        .map(|v| compile(app, &field("header.value"), v, false))
                        .transpose()?,
                )),
                None => None,
            };
            out.activities.push(CompiledActivity {
                activity: a.activity,
                methods: a.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
                host: a
                    .host
                    .as_deref()
                    .map(|p| compile(app, &field("host"), p, true))
                    .transpose()?,
                path: a
                    .path
                    .as_deref()
                    .map(|p| compile(app, &field("path"), p, false))
                    .transpose()?,
                header,
            });
        }
        for (i, p) in app.instance.iter().enumerate() {
            let needs_name = matches!(p.from, InstanceSource::Query | InstanceSource::Header);
            if needs_name != p.name.is_some() {
                return Err(PolicyError::invalid(
                    app.defined_at.clone(),
                    format!("instance[{i}].name"),
                    format!(
                        "app `{}`: `name` is required for query and header sources only",
                        app.id
                    ),
                ));
            }
            let ci = p.from == InstanceSource::Host;
            out.instances.push(CompiledInstance {
                from: p.from,
                name: p.name.clone(),
                pattern: compile(app, &format!("instance[{i}].pattern"), &p.pattern, ci)?,
                host: p
                    .host
                    .as_deref()
                    .map(|h| compile(app, &format!("instance[{i}].host"), h, true))
                    .transpose()?,
                not: p
                    .not
                    .as_deref()
                    .map(|n| compile(app, &format!("instance[{i}].not"), n, ci))
                    .transpose()?,
            });
        }
        Ok(out)
    }

    /// The activity the request reveals, if any.
    pub(crate) fn activity(&self, req: &RequestInfo<'_>, host: &str) -> Option<Activity> {
        self.activities.iter().find_map(|a| {
            if !a.methods.is_empty()
                && !a.methods.iter().any(|m| m.eq_ignore_ascii_case(req.method))
            {
                return None;
            }
            if a.host.as_ref().is_some_and(|r| !r.is_match(host)) {
                return None;
            }
            if a.path.as_ref().is_some_and(|r| !r.is_match(req.path)) {
                return None;
            }
            if let Some((name, value)) = &a.header {
                let v = req.headers.header(name)?;
                if value.as_ref().is_some_and(|r| !r.is_match(v)) {
                    return None;
                }
            }
            Some(a.activity)
        })
    }

    /// The instance the request reveals, if any (lower-cased).
    pub(crate) fn instance(&self, req: &RequestInfo<'_>, host: &str) -> Option<String> {
        self.instances.iter().find_map(|p| {
            if p.host.as_ref().is_some_and(|h| !h.is_match(host)) {
                return None;
            }
            let text = match p.from {
                InstanceSource::Host => host,
                InstanceSource::Path => req.path.split('?').next().unwrap_or(""),
                InstanceSource::Query => query_param(req.path, p.name.as_deref()?)?,
                InstanceSource::Header => req.headers.header(p.name.as_deref()?)?,
            };
            if p.not.as_ref().is_some_and(|n| n.is_match(text)) {
                return None;
            }
            let caps = p.pattern.captures(text)?;
            let m = caps
                .name("instance")
                .or_else(|| caps.get(1))
                .or_else(|| caps.get(0))?;
            let s = m.as_str();
            (!s.is_empty()).then(|| s.to_ascii_lowercase())
        })
    }

    /// Whether the app has any instance pattern.
    pub(crate) fn has_instances(&self) -> bool {
        !self.instances.is_empty()
    }
}

/// The raw value of query parameter `name` in `path_and_query`.
fn query_param<'a>(path_and_query: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = path_and_query.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}
