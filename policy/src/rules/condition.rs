//! Compiled conditions and their three-valued evaluation.

use std::cmp::Ordering;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::catalog::{Activity, AppStatus, Category};
use crate::context::{Context, DlpVerdict, Weekday};
use crate::decide::Phase;

/// The result of evaluating a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The condition holds.
    True,
    /// The condition fails.
    False,
    /// A fact it needs is missing from the context (e.g. no geo database):
    /// the condition neither holds nor fails, and it never will for this
    /// connection.
    Missing,
    /// A fact it needs belongs to a later phase (request facts at CONNECT,
    /// the DLP verdict before the scan): undecided for now.
    Pending,
}

impl Outcome {
    fn from_bool(b: bool) -> Self {
        if b {
            Self::True
        } else {
            Self::False
        }
    }

    fn not(self) -> Self {
        match self {
            Self::True => Self::False,
            Self::False => Self::True,
            other => other,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
}

/// A conjunction of comparisons against constants.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cmp<T>(pub Vec<(CmpOp, T)>);

impl<T: PartialOrd> Cmp<T> {
    fn holds(&self, v: &T) -> bool {
        self.0.iter().all(|(op, c)| match v.partial_cmp(c) {
            Some(Ordering::Less) => matches!(op, CmpOp::Lt | CmpOp::Lte),
            Some(Ordering::Equal) => matches!(op, CmpOp::Eq | CmpOp::Gte | CmpOp::Lte),
            Some(Ordering::Greater) => matches!(op, CmpOp::Gt | CmpOp::Gte),
            None => false,
        })
    }
}

/// A host pattern: `example.com` (exact), `*.example.com` (any subdomain),
/// or a glob with `*` matching within labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    Exact(String),
    /// `*.suffix`: strict subdomains of `suffix`.
    AnySubdomain(String),
    Glob(String),
}

impl HostPattern {
    pub(crate) fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(h) => host == h,
            Self::AnySubdomain(s) => {
                host.len() > s.len() + 1
                    && host.ends_with(s.as_str())
                    && host.as_bytes()[host.len() - s.len() - 1] == b'.'
            }
            Self::Glob(g) => glob_match(g.as_bytes(), host.as_bytes()),
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(h) | Self::Glob(h) => f.write_str(h),
            Self::AnySubdomain(s) => write!(f, "*.{s}"),
        }
    }
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Whether `host` is `suffix` or a subdomain of it.
pub(crate) fn has_suffix(host: &str, suffix: &str) -> bool {
    host == suffix
        || (host.len() > suffix.len()
            && host.ends_with(suffix)
            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.')
}

/// A weekly window.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TimeWindow {
    pub days: Vec<Weekday>,
    pub from: u16,
    pub to: u16,
}

/// Required posture values (`None`: not required).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PostureReq {
    pub disk_encryption: Option<bool>,
    pub edr_running: Option<bool>,
    pub firewall: Option<bool>,
    pub screen_lock: Option<bool>,
}

/// One test on one context field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Leaf {
    User(Vec<String>),
    Group(Vec<String>),
    AuthMethod(Vec<String>),
    Authenticated(bool),
    DeviceId(Vec<String>),
    DeviceManaged(bool),
    DeviceCompliant(bool),
    DeviceOs(Vec<String>),
    DeviceOsVersion(Cmp<Vec<u32>>),
    Posture(PostureReq),
    PostureAge(Cmp<u64>),
    ClientIp(Box<Cidrs>),
    ClientCountry(Vec<String>),
    ClientSite(Vec<String>),
    DestIp(Box<Cidrs>),
    DestCountry(Vec<String>),
    App(Vec<String>),
    Category(Vec<Category>),
    AppStatus(Vec<AppStatus>),
    RiskScore(Cmp<u64>),
    Instance(Vec<String>),
    Host(Vec<HostPattern>),
    HostSuffix(Vec<String>),
    RegistrableDomain(Vec<String>),
    PinsCertificates(bool),
    PrivacySensitive(bool),
    Activity(Vec<Activity>),
    Method(Vec<String>),
    PathPrefix(Vec<String>),
    FileType(Vec<String>),
    FileSize(Cmp<u64>),
    DlpRule(Vec<String>),
    DlpCategory(Vec<String>),
    DlpCount(Cmp<u64>),
    Time(TimeWindow),
}

/// A compiled condition tree. Leaves keep their source line and text for
/// `explain` and warnings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Leaf { leaf: Leaf, meta: Box<LeafMeta> },
}

/// Where a leaf was written and how it reads, for `explain` (kept out of
/// line so that condition trees stay small and cache-friendly).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LeafMeta {
    pub line: usize,
    pub text: String,
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> bool) -> Outcome {
    match v {
        Some(v) => Outcome::from_bool(f(v)),
        None => Outcome::Missing,
    }
}

fn any_in(set: &[String], v: &str) -> bool {
    set.iter().any(|s| s == v)
}

fn parse_version(v: &str) -> Option<Vec<u32>> {
    v.split('.').map(|p| p.trim().parse().ok()).collect()
}

impl Leaf {
    /// Evaluates this test against `ctx` in `phase`.
    pub(crate) fn eval(&self, ctx: &Context, phase: Phase) -> Outcome {
        let id = &ctx.identity;
        let dev = &ctx.device;
        let net = &ctx.network;
        let app = &ctx.app;
        let request = || match phase {
            Phase::Connect => Err(Outcome::Pending),
            _ => ctx.request.as_ref().ok_or(Outcome::Missing),
        };
        static NO_FINDINGS: DlpVerdict = DlpVerdict { hits: Vec::new() };
        let dlp = || match phase {
            Phase::AfterDlp => Ok(ctx.dlp.as_ref().unwrap_or(&NO_FINDINGS)),
            _ => Err(Outcome::Pending),
        };
        match self {
            Self::User(set) => {
                Outcome::from_bool(id.user.as_deref().is_some_and(|u| any_in(set, u)))
            }
            Self::Group(set) => Outcome::from_bool(id.groups.iter().any(|g| any_in(set, g))),
            Self::AuthMethod(set) => {
                Outcome::from_bool(id.auth_method.as_deref().is_some_and(|m| any_in(set, m)))
            }
            Self::Authenticated(b) => Outcome::from_bool(id.user.is_some() == *b),
            Self::DeviceId(set) => {
                Outcome::from_bool(dev.id.as_deref().is_some_and(|d| any_in(set, d)))
            }
            Self::DeviceManaged(b) => Outcome::from_bool(dev.managed == *b),
            Self::DeviceCompliant(b) => Outcome::from_bool(dev.compliant == *b),
            Self::DeviceOs(set) => opt(dev.os.as_deref(), |os| {
                set.iter().any(|s| s.eq_ignore_ascii_case(os))
            }),
            Self::DeviceOsVersion(cmp) => match dev.os_version.as_deref().map(parse_version) {
                Some(Some(v)) => Outcome::from_bool(cmp.holds(&v)),
                _ => Outcome::Missing,
            },
            Self::Posture(req) => {
                let p = &dev.posture;
                let checks = [
                    (req.disk_encryption, p.disk_encryption),
                    (req.edr_running, p.edr_running),
                    (req.firewall, p.firewall),
                    (req.screen_lock, p.screen_lock),
                ];
                let mut out = Outcome::True;
                for (want, have) in checks {
                    match (want, have) {
                        (None, _) => {}
                        (Some(w), Some(h)) if w != h => return Outcome::False,
                        (Some(_), Some(_)) => {}
                        (Some(_), None) => out = Outcome::Missing,
                    }
                }
                out
            }
            Self::PostureAge(cmp) => match (ctx.now_unix, dev.last_report_unix) {
                (Some(now), Some(at)) => Outcome::from_bool(cmp.holds(&now.saturating_sub(at))),
                _ => Outcome::Missing,
            },
            Self::ClientIp(nets) => opt(net.client_ip, |ip| nets.contains(ip)),
            Self::ClientCountry(set) => opt(net.client_country.as_deref(), |c| {
                set.iter().any(|s| s.eq_ignore_ascii_case(c))
            }),
            Self::ClientSite(set) => opt(net.client_site.as_deref(), |s| any_in(set, s)),
            Self::DestIp(nets) => opt(net.dest_ip, |ip| nets.contains(ip)),
            Self::DestCountry(set) => opt(net.dest_country.as_deref(), |c| {
                set.iter().any(|s| s.eq_ignore_ascii_case(c))
            }),
            Self::App(set) => Outcome::from_bool(any_in(set, &app.app_id)),
            Self::Category(set) => {
                Outcome::from_bool(app.category.is_some_and(|c| set.contains(&c)))
            }
            Self::AppStatus(set) => Outcome::from_bool(set.contains(&app.status)),
            Self::RiskScore(cmp) => opt(app.risk_score, |s| cmp.holds(&u64::from(s))),
            Self::Instance(set) => match (&app.instance, phase) {
                (Some(i), _) => Outcome::from_bool(set.iter().any(|s| s.eq_ignore_ascii_case(i))),
                (None, Phase::Connect) => Outcome::Pending,
                (None, _) => Outcome::False,
            },
            Self::Host(patterns) => {
                Outcome::from_bool(patterns.iter().any(|p| p.matches(&app.host)))
            }
            Self::HostSuffix(set) => {
                Outcome::from_bool(set.iter().any(|s| has_suffix(&app.host, s)))
            }
            Self::RegistrableDomain(set) => Outcome::from_bool(
                app.registrable_domain
                    .as_deref()
                    .is_some_and(|d| any_in(set, d)),
            ),
            Self::PinsCertificates(b) => Outcome::from_bool(app.pins_certificates == *b),
            Self::PrivacySensitive(b) => Outcome::from_bool(app.privacy_sensitive == *b),
            Self::Activity(set) => match request() {
                Ok(r) => Outcome::from_bool(r.activity.is_some_and(|a| set.contains(&a))),
                Err(o) => o,
            },
            Self::Method(set) => match request() {
                Ok(r) => Outcome::from_bool(set.iter().any(|m| m.eq_ignore_ascii_case(&r.method))),
                Err(o) => o,
            },
            Self::PathPrefix(set) => match request() {
                Ok(r) => Outcome::from_bool(set.iter().any(|p| r.path.starts_with(p.as_str()))),
                Err(o) => o,
            },
            Self::FileType(set) => match request() {
                Ok(r) => Outcome::from_bool(
                    r.file
                        .as_ref()
                        .and_then(|f| f.file_type.as_deref())
                        .is_some_and(|t| set.iter().any(|s| s.eq_ignore_ascii_case(t))),
                ),
                Err(o) => o,
            },
            Self::FileSize(cmp) => match request() {
                Ok(r) => match &r.file {
                    None => Outcome::False,
                    Some(f) => opt(f.size, |s| cmp.holds(&s)),
                },
                Err(o) => o,
            },
            Self::DlpRule(set) => match dlp() {
                Ok(v) => Outcome::from_bool(
                    v.hits
                        .iter()
                        .any(|h| h.count > 0 && any_in(set, &h.rule_id)),
                ),
                Err(o) => o,
            },
            Self::DlpCategory(set) => match dlp() {
                Ok(v) => Outcome::from_bool(
                    v.hits
                        .iter()
                        .any(|h| h.count > 0 && any_in(set, &h.category)),
                ),
                Err(o) => o,
            },
            Self::DlpCount(cmp) => match dlp() {
                Ok(v) => Outcome::from_bool(cmp.holds(&v.total())),
                Err(o) => o,
            },
            Self::Time(w) => opt(ctx.local_time, |t| {
                let day_ok = |d: Weekday| w.days.is_empty() || w.days.contains(&d);
                let m = t.minute_of_day;
                if w.from <= w.to {
                    day_ok(t.weekday) && m >= w.from && m < w.to
                } else if m >= w.from {
                    // Late part of an overnight window: starts today.
                    day_ok(t.weekday)
                } else if m < w.to {
                    // Early part: the window started yesterday.
                    let yesterday = weekday_from_index((t.weekday.index() + 6) % 7);
                    day_ok(yesterday)
                } else {
                    false
                }
            }),
        }
    }

    /// Whether this leaf needs request-level facts (undecidable at CONNECT).
    pub(crate) fn needs_dlp(&self) -> bool {
        matches!(
            self,
            Self::DlpRule(_) | Self::DlpCategory(_) | Self::DlpCount(_)
        )
    }
}

fn weekday_from_index(i: usize) -> Weekday {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ][i % 7]
}

/// A list of networks with their masks precomputed, for fast membership.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cidrs {
    /// The networks as written.
    pub nets: Vec<IpNet>,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl Cidrs {
    pub(crate) fn new(nets: Vec<IpNet>) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for n in &nets {
            match n {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.netmask()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.netmask()))),
            }
        }
        Self { nets, v4, v6 }
    }

    /// Whether `ip` is in any network (IPv4-mapped IPv6 counts as IPv4).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
        }
    }
}

impl Cond {
    /// Evaluates the tree.
    pub(crate) fn eval(&self, ctx: &Context, phase: Phase) -> Outcome {
        match self {
            Self::Leaf { leaf, .. } => leaf.eval(ctx, phase),
            Self::Not(c) => c.eval(ctx, phase).not(),
            Self::All(cs) => {
                let mut out = Outcome::True;
                for c in cs {
                    match c.eval(ctx, phase) {
                        Outcome::False => return Outcome::False,
                        Outcome::Pending => out = Outcome::Pending,
                        Outcome::Missing if out == Outcome::True => out = Outcome::Missing,
                        _ => {}
                    }
                }
                out
            }
            Self::Any(cs) => {
                let mut out = Outcome::False;
                for c in cs {
                    match c.eval(ctx, phase) {
                        Outcome::True => return Outcome::True,
                        Outcome::Pending => out = Outcome::Pending,
                        Outcome::Missing if out == Outcome::False => out = Outcome::Missing,
                        _ => {}
                    }
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_suffixes() {
        assert!(glob_match(b"*.example.com", b"a.example.com"));
        assert!(glob_match(b"files-*.example.com", b"files-eu.example.com"));
        assert!(!glob_match(b"files-*.example.com", b"www.example.com"));
        assert!(HostPattern::AnySubdomain("example.com".into()).matches("a.example.com"));
        assert!(!HostPattern::AnySubdomain("example.com".into()).matches("example.com"));
        assert!(!HostPattern::AnySubdomain("example.com".into()).matches("aexample.com"));
        assert!(has_suffix("example.com", "example.com"));
        assert!(has_suffix("a.example.com", "example.com"));
        assert!(!has_suffix("badexample.com", "example.com"));
    }

    #[test]
    fn comparisons() {
        let c = Cmp(vec![(CmpOp::Gte, 10u64), (CmpOp::Lt, 20)]);
        assert!(c.holds(&10) && c.holds(&19) && !c.holds(&20) && !c.holds(&9));
        let v = Cmp(vec![(CmpOp::Gte, vec![14u32, 2])]);
        assert!(v.holds(&vec![14, 2]) && v.holds(&vec![14, 10]) && !v.holds(&vec![13, 9, 9]));
    }
}
