//! Raw YAML structures → compiled rules, collecting every error with its
//! file:line and field.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use marked_yaml::Spanned;

use super::action::{ActionKind, Severity};
use super::conditions::{compile_cond, needs_request_facts};
use super::raw::{RawDlpProfile, RawOutcome, RawPolicy, RawRule, RawTenant};
use super::{values, DlpProfile, Rule, Verdict};
use crate::catalog::Catalog;
use crate::error::{Location, PolicyError, Warning};
use crate::tenant::{Header, TenantRestriction, YoutubeMode};
use crate::yaml::span_location;

/// Default TTL of a warn acknowledgement.
pub(crate) const DEFAULT_WARN_TTL: Duration = Duration::from_secs(8 * 3600);

/// A compiled policy's parts.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub rules: Vec<Rule>,
    pub default: Verdict,
    pub profiles: HashMap<String, Arc<DlpProfile>>,
}

pub(super) struct Ctx<'a> {
    pub(super) origin: &'a str,
    pub(super) catalog: &'a Catalog,
    pub(super) errors: Vec<PolicyError>,
}

impl Ctx<'_> {
    pub(super) fn at<T>(&self, s: &Spanned<T>) -> Location {
        span_location(self.origin, s.span())
    }

    pub(super) fn err(&mut self, location: Location, field: &str, message: impl Into<String>) {
        self.errors
            .push(PolicyError::invalid(location, field, message));
    }
}

/// Compiles a decoded policy against `catalog` (for app-id validation).
pub(crate) fn compile(
    raw: RawPolicy,
    origin: &str,
    catalog: &Catalog,
) -> Result<(Compiled, Vec<Warning>), Vec<PolicyError>> {
    let mut cx = Ctx {
        origin,
        catalog,
        errors: Vec::new(),
    };
    if let Some(v) = &raw.version {
        if **v != 1 {
            let loc = cx.at(v);
            cx.err(
                loc,
                "version",
                format!("unsupported version {}; only 1 exists", **v),
            );
        }
    }
    let mut profiles = HashMap::new();
    let mut raw_profiles: Vec<_> = raw.dlp_profiles.iter().collect();
    raw_profiles.sort_by_key(|(k, _)| k.span().start().map(|m| m.line()));
    for (name, p) in raw_profiles {
        if let Some(profile) = compile_profile(&mut cx, name, p) {
            profiles.insert(name.to_string(), Arc::new(profile));
        }
    }
    let default = match &raw.default {
        Some(d) => {
            let loc = cx.at(d);
            compile_outcome(&mut cx, &loc, "default", &**d, &profiles)
        }
        None => Some(Verdict {
            action: ActionKind::Allow,
            reason: None,
            severity: Severity::Info,
            dlp_profile: None,
            headers: Vec::new(),
            tenant: Vec::new(),
            warn_ttl: None,
        }),
    };
    let mut rules = Vec::with_capacity(raw.rules.len());
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let line = r.span().start().map_or(0, |m| m.line());
        if let Some(&prev) = ids.get(r.id.as_str()) {
            let loc = cx.at(&r.id);
            cx.err(
                loc,
                &format!("rules[{i}].id"),
                format!(
                    "duplicate rule id `{}` (first at line {prev})",
                    r.id.as_str()
                ),
            );
        }
        ids.insert(r.id.to_string(), line);
        if let Some(rule) = compile_rule(&mut cx, i, line, r, &profiles) {
            if r.enabled {
                rules.push(rule);
            }
        }
    }
    if !cx.errors.is_empty() {
        return Err(cx.errors);
    }
    let Some(default) = default else {
        return Err(cx.errors);
    };
    let warnings = super::shadow::warnings(&rules, origin);
    Ok((
        Compiled {
            rules,
            default,
            profiles,
        },
        warnings,
    ))
}

fn compile_profile(
    cx: &mut Ctx<'_>,
    name: &Spanned<String>,
    p: &Spanned<RawDlpProfile>,
) -> Option<DlpProfile> {
    let field = format!("dlp_profiles.{}", name.as_str());
    if p.min_count == Some(0) {
        let loc = cx.at(p);
        cx.err(loc, &format!("{field}.min_count"), "must be at least 1");
        return None;
    }
    let action = p.action.as_ref().map_or(ActionKind::Block, |a| **a);
    if action == ActionKind::Bypass {
        let loc = cx.at(p);
        cx.err(
            loc,
            &format!("{field}.action"),
            "a DLP profile cannot bypass: the body is already being inspected",
        );
        return None;
    }
    Some(DlpProfile {
        name: name.to_string(),
        detectors: p.detectors.clone(),
        categories: p.categories.clone(),
        min_count: p.min_count.unwrap_or(1),
        action,
        severity: p.severity.unwrap_or(Severity::High),
        reason: p.reason.clone(),
    })
}

/// The action fields shared by rules and the default.
struct OutcomeFields<'a> {
    action: &'a Spanned<ActionKind>,
    reason: &'a Option<String>,
    severity: Option<Severity>,
    dlp_profile: &'a Option<Spanned<String>>,
    headers: &'a [Spanned<String>],
    tenant: &'a [Spanned<RawTenant>],
    warn_ttl: &'a Option<Spanned<String>>,
}

impl<'a> From<&'a RawOutcome> for OutcomeFields<'a> {
    fn from(o: &'a RawOutcome) -> Self {
        Self {
            action: &o.action,
            reason: &o.reason,
            severity: o.severity,
            dlp_profile: &o.dlp_profile,
            headers: &o.headers,
            tenant: &o.tenant_restrictions,
            warn_ttl: &o.warn_ttl,
        }
    }
}

impl<'a> From<&'a RawRule> for OutcomeFields<'a> {
    fn from(o: &'a RawRule) -> Self {
        Self {
            action: &o.action,
            reason: &o.reason,
            severity: o.severity,
            dlp_profile: &o.dlp_profile,
            headers: &o.headers,
            tenant: &o.tenant_restrictions,
            warn_ttl: &o.warn_ttl,
        }
    }
}

fn compile_outcome<'a>(
    cx: &mut Ctx<'_>,
    loc: &Location,
    field: &str,
    o: impl Into<OutcomeFields<'a>>,
    profiles: &HashMap<String, Arc<DlpProfile>>,
) -> Option<Verdict> {
    let o: OutcomeFields<'a> = o.into();
    let before = cx.errors.len();
    let action = **o.action;
    let dlp_profile = match o.dlp_profile {
        Some(name) => match profiles.get(name.as_str()) {
            Some(p) => Some(p.clone()),
            None => {
                let l = cx.at(name);
                cx.err(
                    l,
                    &format!("{field}.dlp_profile"),
                    format!("unknown DLP profile `{}`", name.as_str()),
                );
                None
            }
        },
        None => None,
    };
    if dlp_profile.is_some() && matches!(action, ActionKind::Block | ActionKind::Bypass) {
        cx.err(
            loc.clone(),
            &format!("{field}.dlp_profile"),
            format!("a `{action}` rule never scans bodies; remove dlp_profile"),
        );
    }
    let mut headers = Vec::new();
    for h in o.headers {
        match h.split_once(':') {
            Some((n, v)) if is_token(n.trim()) && !v.bytes().any(|b| b.is_ascii_control()) => {
                headers.push(Header::new(n.trim(), v.trim()));
            }
            _ => {
                let l = cx.at(h);
                cx.err(
                    l,
                    &format!("{field}.headers"),
                    format!("`{}` is not `Name: value`", h.as_str()),
                );
            }
        }
    }
    let mut tenant = Vec::new();
    for t in o.tenant {
        let r = tenant_restriction(t);
        match r.and_then(|r| r.validate().map(|()| r)) {
            Ok(r) => tenant.push(r),
            Err(m) => {
                let l = cx.at(t);
                cx.err(l, &format!("{field}.tenant_restrictions"), m);
            }
        }
    }
    if matches!(action, ActionKind::Block | ActionKind::Bypass)
        && !(headers.is_empty() && tenant.is_empty())
    {
        cx.err(
            loc.clone(),
            &format!("{field}.headers"),
            format!("a `{action}` rule forwards nothing; headers make no sense"),
        );
    }
    let warn_ttl = match o.warn_ttl {
        Some(t) => match values::duration(t) {
            Ok(0) | Err(_) => {
                let l = cx.at(t);
                cx.err(
                    l,
                    &format!("{field}.warn_ttl"),
                    format!("`{}` is not a positive duration", t.as_str()),
                );
                None
            }
            Ok(secs) => Some(Duration::from_secs(secs)),
        },
        None => None,
    };
    if warn_ttl.is_some() && action != ActionKind::Warn {
        cx.err(
            loc.clone(),
            &format!("{field}.warn_ttl"),
            "warn_ttl is only meaningful with `action: warn`",
        );
    }
    if cx.errors.len() > before {
        return None;
    }
    Some(Verdict {
        action,
        reason: o.reason.as_deref().map(Arc::from),
        severity: o.severity.unwrap_or(match action {
            ActionKind::Block => Severity::Medium,
            _ => Severity::Info,
        }),
        dlp_profile,
        headers,
        tenant,
        warn_ttl: (action == ActionKind::Warn).then_some(warn_ttl.unwrap_or(DEFAULT_WARN_TTL)),
    })
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn tenant_restriction(t: &RawTenant) -> Result<TenantRestriction, String> {
    Ok(match t {
        RawTenant::Microsoft(m) => TenantRestriction::Microsoft {
            tenants: m.tenants.clone(),
            context: m.context.clone(),
            policy: m.policy.clone(),
        },
        RawTenant::Google(g) => TenantRestriction::Google {
            domains: g.domains.clone(),
        },
        RawTenant::Slack(s) => TenantRestriction::Slack {
            workspaces: s.workspaces.clone(),
            requester: s.requester.clone(),
        },
        RawTenant::Dropbox(d) => TenantRestriction::Dropbox {
            teams: d.teams.clone(),
        },
        RawTenant::Chatgpt(c) => TenantRestriction::Chatgpt {
            workspace: c.workspace.clone(),
        },
        RawTenant::Youtube(y) => TenantRestriction::Youtube {
            mode: match y.mode.to_ascii_lowercase().as_str() {
                "strict" => YoutubeMode::Strict,
                "moderate" => YoutubeMode::Moderate,
                other => {
                    return Err(format!(
                        "youtube.mode: `{other}` is not `strict` or `moderate`"
                    ))
                }
            },
        },
    })
}

fn compile_rule(
    cx: &mut Ctx<'_>,
    i: usize,
    line: usize,
    r: &Spanned<RawRule>,
    profiles: &HashMap<String, Arc<DlpProfile>>,
) -> Option<Rule> {
    let field = format!("rules[{i}]");
    let loc = Location::new(cx.origin, line, 0);
    let id = r.id.as_str();
    if id.is_empty()
        || id.len() > 128
        || id
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        let l = cx.at(&r.id);
        cx.err(
            l,
            &format!("{field}.id"),
            format!("`{id}` is not a valid rule id (1-128 non-space characters)"),
        );
    }
    let when = r
        .when
        .as_ref()
        .and_then(|c| compile_cond(cx, &format!("{field}.when"), c));
    let verdict = compile_outcome(cx, &loc, &field, &**r, profiles);
    if *r.action == ActionKind::Bypass {
        if let Some(c) = &when {
            if needs_request_facts(c) {
                let l = cx.at(&r.action);
                cx.err(l, &format!("{field}.action"), "a `bypass` rule can only test CONNECT-time facts (no activity, method, path, file or DLP conditions)");
            }
        }
    }
    if r.when.is_some() && when.is_none() {
        return None;
    }
    Some(Rule {
        id: Arc::from(id),
        line,
        description: r.description.clone(),
        when,
        verdict: verdict?,
    })
}
