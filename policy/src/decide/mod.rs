//! Evaluation: first match wins, in three phases.
//!
//! # The phase contract
//!
//! * [`Phase::Connect`] — only host-level facts are known (identity,
//!   device, network, app, category, status, risk, host-derived instance).
//!   Request facts and the DLP verdict are *pending*. Rules are visited in
//!   order: the first rule whose condition holds decides **unless an earlier
//!   rule was pending** — that earlier rule might match once the request is
//!   seen, so the tunnel is intercepted and the decision deferred. The answer
//!   is [`Decision::tunnel`]: block, bypass or intercept.
//! * [`Phase::Request`] — inside interception, per request, with method,
//!   path, activity and file facts. The DLP verdict is pending. If the
//!   decision is not final ([`Decision::needs_dlp`]), the proxy scans the
//!   body with [`Decision::dlp_profile`], holding it (uploads) or streaming it
//!   (downloads), then evaluates again with `Phase::AfterDlp`.
//! * [`Phase::AfterDlp`] — everything known, the verdict included (absent =
//!   nothing found). The result is final. If the matching rule names a DLP
//!   profile that the verdict triggers, the profile's action replaces the
//!   rule's.
//!
//! A condition on a fact the context simply lacks (no geo database, no
//! posture report) is *missing*: it neither holds nor fails, never matches,
//! and does not defer decisions.
//!
//! `bypass` is honoured only at CONNECT time; later it means allow.

mod explain;
mod index;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use explain::{ConditionTrace, Explanation, RuleTrace};
use index::RuleIndex;

use crate::catalog::Catalog;
use crate::context::Context;
use crate::error::{PolicyError, Warning};
use crate::rules::{compile, ActionKind, DlpProfile, Outcome, Rule, Severity, Tunnel, Verdict};
use crate::tenant::Header;

/// When the proxy asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// CONNECT time: host-level facts only.
    Connect,
    /// A request inside interception, before DLP.
    Request,
    /// The same request after the DLP scan.
    AfterDlp,
}

/// The key under which a warn acknowledgement is remembered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct WarnKey {
    /// User name, or `ip:<client address>` for anonymous users.
    pub user: String,
    /// App id, or registrable domain for unknown hosts.
    pub app: String,
}

/// What to do.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// The phase this decision was made in.
    pub phase: Phase,
    /// The action. At CONNECT time use `tunnel`; when a pending rule
    /// deferred the decision, `action` is `allow` and `tunnel` `intercept`.
    /// `bypass` is reported as `allow` after CONNECT time.
    pub action: ActionKind,
    /// What to do with the TLS tunnel (meaningful at CONNECT time;
    /// `intercept` in later phases).
    pub tunnel: Tunnel,
    /// The rule that decided, `None` for the default.
    pub rule_id: Option<Arc<str>>,
    /// User-facing reason.
    pub reason: Option<Arc<str>>,
    /// Request headers to inject (tenant restrictions and rule headers that
    /// apply to this host).
    pub headers: Vec<Header>,
    /// The DLP profile to scan with, when a scan is needed.
    pub dlp_profile: Option<Arc<DlpProfile>>,
    /// Severity for records.
    pub severity: Severity,
    /// For `warn`: how long an acknowledgement lasts.
    pub warn_ttl: Option<Duration>,
    /// The first rule that could not be decided in this phase. When set,
    /// the decision is provisional (see the module docs).
    pub pending_rule: Option<Arc<str>>,
}

impl Decision {
    /// The id to record: the rule id, or `default`.
    pub fn rule_label(&self) -> &str {
        self.rule_id.as_deref().unwrap_or("default")
    }

    /// Whether the proxy must run DLP and evaluate again with `AfterDlp`.
    pub fn needs_dlp(&self) -> bool {
        self.phase == Phase::Request && self.dlp_profile.is_some()
    }

    /// Whether this decision is the last word for its phase.
    pub fn is_final(&self) -> bool {
        self.pending_rule.is_none() && !self.needs_dlp()
    }

    /// For `warn` decisions, the key to remember the acknowledgement under.
    pub fn warn_key(&self, ctx: &Context) -> Option<WarnKey> {
        (self.action == ActionKind::Warn).then(|| WarnKey {
            user: match (&ctx.identity.user, ctx.network.client_ip) {
                (Some(u), _) => u.clone(),
                (None, Some(ip)) => format!("ip:{ip}"),
                (None, None) => "anonymous".to_owned(),
            },
            app: ctx.app.usage_key().to_owned(),
        })
    }
}

/// A compiled policy. Immutable; share behind an `Arc` and swap on reload.
#[derive(Debug)]
pub struct Policy {
    rules: Vec<Rule>,
    default: Verdict,
    profiles: std::collections::HashMap<String, Arc<DlpProfile>>,
    index: RuleIndex,
    fallback_profile: Arc<DlpProfile>,
}

/// Parses and validates a policy: the entry point of `portcullis policy
/// check`. Errors and warnings name `origin`:line.
pub fn check_policy(
    text: &str,
    origin: &str,
    catalog: &Catalog,
) -> Result<(Policy, Vec<Warning>), Vec<PolicyError>> {
    Policy::parse(text, origin, catalog)
}

impl Policy {
    /// Parses a policy file, validating app ids against `catalog`.
    pub fn parse(
        text: &str,
        origin: &str,
        catalog: &Catalog,
    ) -> Result<(Self, Vec<Warning>), Vec<PolicyError>> {
        let raw = crate::yaml::decode(text, origin).map_err(|e| vec![e])?;
        let (c, warnings) = compile(raw, origin, catalog)?;
        let index = RuleIndex::build(&c.rules);
        let fallback_profile = c
            .profiles
            .get("default")
            .cloned()
            .unwrap_or_else(|| Arc::new(DlpProfile::all_detectors("default")));
        Ok((
            Self {
                rules: c.rules,
                default: c.default,
                profiles: c.profiles,
                index,
                fallback_profile,
            },
            warnings,
        ))
    }

    /// A policy with no rules whose default allows everything (what the
    /// proxy uses when no policy file is configured).
    pub fn allow_all() -> Self {
        let verdict = Verdict {
            action: ActionKind::Allow,
            reason: None,
            severity: Severity::Info,
            dlp_profile: None,
            headers: Vec::new(),
            tenant: Vec::new(),
            warn_ttl: None,
        };
        Self {
            rules: Vec::new(),
            default: verdict,
            profiles: std::collections::HashMap::new(),
            index: RuleIndex::build(&[]),
            fallback_profile: Arc::new(DlpProfile::all_detectors("default")),
        }
    }

    /// The rules, in order (disabled rules are not included).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// A DLP profile by name.
    pub fn dlp_profile(&self, name: &str) -> Option<&Arc<DlpProfile>> {
        self.profiles.get(name)
    }

    /// Decides for `ctx` in `phase`. Visits only candidate rules (see the
    /// index); allocation-free unless the decision carries headers.
    pub fn evaluate(&self, ctx: &Context, phase: Phase) -> Decision {
        let mut matched: Option<&Rule> = None;
        let mut pending: Option<&Rule> = None;
        self.index.for_each_candidate(ctx, |i| {
            let rule = &self.rules[i];
            match rule
                .when
                .as_ref()
                .map_or(Outcome::True, |c| c.eval(ctx, phase))
            {
                Outcome::True => {
                    matched = Some(rule);
                    false
                }
                Outcome::Pending => {
                    pending = pending.or(Some(rule));
                    true
                }
                Outcome::False | Outcome::Missing => true,
            }
        });
        self.decide(ctx, phase, matched, pending)
    }

    fn decide(
        &self,
        ctx: &Context,
        phase: Phase,
        matched: Option<&Rule>,
        pending: Option<&Rule>,
    ) -> Decision {
        let verdict = matched.map_or(&self.default, |r| &r.verdict);
        let mut d = Decision {
            phase,
            action: verdict.action,
            tunnel: Tunnel::Intercept,
            rule_id: matched.map(|r| r.id.clone()),
            reason: verdict.reason.clone(),
            headers: Vec::new(),
            dlp_profile: None,
            severity: verdict.severity,
            warn_ttl: verdict.warn_ttl,
            pending_rule: pending.map(|r| r.id.clone()),
        };
        match phase {
            Phase::Connect => {
                if let Some(p) = pending {
                    d.action = ActionKind::Allow;
                    d.rule_id = None;
                    d.reason = Some(Arc::from(format!(
                        "decided per request: rule `{}` needs request facts",
                        p.id
                    )));
                    d.severity = Severity::Info;
                    d.warn_ttl = None;
                    return d;
                }
                d.tunnel = match verdict.action {
                    ActionKind::Block => Tunnel::Block,
                    ActionKind::Bypass => Tunnel::Bypass,
                    _ => Tunnel::Intercept,
                };
            }
            Phase::Request => {
                if d.action == ActionKind::Bypass {
                    d.action = ActionKind::Allow;
                }
                d.dlp_profile = match pending {
                    Some(p) => Some(
                        p.verdict
                            .dlp_profile
                            .clone()
                            .unwrap_or_else(|| self.fallback_profile.clone()),
                    ),
                    None if d.action != ActionKind::Block => verdict.dlp_profile.clone(),
                    None => None,
                };
            }
            Phase::AfterDlp => {
                if d.action == ActionKind::Bypass {
                    d.action = ActionKind::Allow;
                }
                if let (Some(profile), Some(verdict_dlp)) = (&verdict.dlp_profile, &ctx.dlp) {
                    if profile.triggered_by(verdict_dlp) {
                        d.action = profile.action;
                        d.severity = profile.severity;
                        d.reason = Some(Arc::from(profile.reason.clone().unwrap_or_else(|| {
                            format!(
                                "DLP profile `{}`: {} finding(s)",
                                profile.name,
                                profile.count(verdict_dlp)
                            )
                        })));
                        d.warn_ttl = (profile.action == ActionKind::Warn)
                            .then_some(crate::rules::DEFAULT_WARN_TTL);
                    }
                }
            }
        }
        if !matches!(d.action, ActionKind::Block) && d.tunnel != Tunnel::Bypass {
            d.headers = verdict.headers.clone();
            for t in &verdict.tenant {
                if t.applies_to(&ctx.app.host) {
                    d.headers.extend(t.headers());
                }
            }
        }
        d
    }

    /// Like [`Policy::evaluate`], but visits every rule up to the decision
    /// and records, condition by condition, what held, failed or was unknown.
    pub fn explain(&self, ctx: &Context, phase: Phase) -> Explanation {
        let mut traces = Vec::new();
        let mut matched = None;
        let mut pending = None;
        for rule in &self.rules {
            let trace = explain::trace_rule(rule, ctx, phase);
            let outcome = trace.outcome;
            traces.push(trace);
            match outcome {
                Outcome::True => {
                    matched = Some(rule);
                    break;
                }
                Outcome::Pending => pending = pending.or(Some(rule)),
                _ => {}
            }
        }
        let decision = self.decide(ctx, phase, matched, pending);
        Explanation {
            phase,
            rules: traces,
            decision,
        }
    }
}
