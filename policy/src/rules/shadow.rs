//! Shadowed-rule analysis: rule B is shadowed when an earlier rule A matches
//! every context B matches (first match wins, so B can never apply).
//!
//! The check is conservative: it recognises implication between conditions
//! of the same kind (subsets of lists, CIDR containment, host suffixes,
//! equal structure) through `all`/`any`; anything else is assumed not to
//! shadow, so a warning is always a real problem.

use super::condition::{has_suffix, Cmp, CmpOp, Cond, HostPattern, Leaf};
use super::Rule;
use crate::error::{Location, Warning, WarningKind};

/// Warnings for shadowed and never-matching rules.
pub(crate) fn warnings(rules: &[Rule], origin: &str) -> Vec<Warning> {
    let mut out = Vec::new();
    for (j, b) in rules.iter().enumerate() {
        if b.when.as_ref().is_some_and(never_matches) {
            out.push(Warning {
                location: Location::new(origin, b.line, 0),
                rule_id: b.id.to_string(),
                kind: WarningKind::NeverMatches,
                message: "the condition can never hold (an empty `any`)".into(),
            });
            continue;
        }
        if let Some(a) = rules[..j]
            .iter()
            .find(|a| covers(a.when.as_ref(), b.when.as_ref()))
        {
            out.push(Warning {
                location: Location::new(origin, b.line, 0),
                rule_id: b.id.to_string(),
                kind: WarningKind::Shadowed,
                message: format!(
                    "shadowed by rule `{}` (line {}), which matches everything this rule matches",
                    a.id, a.line
                ),
            });
        }
    }
    out
}

fn never_matches(c: &Cond) -> bool {
    match c {
        Cond::Any(cs) => cs.is_empty() || cs.iter().all(never_matches),
        Cond::All(cs) => cs.iter().any(never_matches),
        _ => false,
    }
}

/// Whether `a` holds whenever `b` holds (`None` = always).
fn covers(a: Option<&Cond>, b: Option<&Cond>) -> bool {
    match (a, b) {
        (None, _) => true,
        (Some(a), None) => matches!(a, Cond::All(cs) if cs.is_empty()),
        (Some(a), Some(b)) => implies(b, a),
    }
}

/// Whether `b` ⇒ `a`.
fn implies(b: &Cond, a: &Cond) -> bool {
    if let Cond::All(xs) = a {
        return xs.iter().all(|x| implies(b, x));
    }
    if let Cond::Any(ys) = b {
        return ys.iter().all(|y| implies(y, a));
    }
    if let Cond::All(ys) = b {
        if ys.iter().any(|y| implies(y, a)) {
            return true;
        }
    }
    if let Cond::Any(xs) = a {
        return xs.iter().any(|x| implies(b, x));
    }
    match (a, b) {
        (Cond::Leaf { leaf: la, .. }, Cond::Leaf { leaf: lb, .. }) => leaf_implies(lb, la),
        (Cond::Not(na), Cond::Not(nb)) => same(na, nb),
        _ => false,
    }
}

fn same(a: &Cond, b: &Cond) -> bool {
    match (a, b) {
        (Cond::Leaf { leaf: x, .. }, Cond::Leaf { leaf: y, .. }) => x == y,
        (Cond::Not(x), Cond::Not(y)) => same(x, y),
        (Cond::All(xs), Cond::All(ys)) | (Cond::Any(xs), Cond::Any(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
        }
        _ => false,
    }
}

fn subset<T: PartialEq>(b: &[T], a: &[T]) -> bool {
    b.iter().all(|x| a.contains(x))
}

fn cmp_implies<T: PartialOrd>(b: &Cmp<T>, a: &Cmp<T>) -> bool {
    // Every bound of `a` must be implied by some bound of `b`.
    a.0.iter().all(|(oa, va)| {
        b.0.iter().any(|(ob, vb)| match (oa, ob) {
            (CmpOp::Eq, CmpOp::Eq) => vb == va,
            (CmpOp::Gte, CmpOp::Gte | CmpOp::Eq | CmpOp::Gt) => vb >= va,
            (CmpOp::Gt, CmpOp::Gt) => vb >= va,
            (CmpOp::Gt, CmpOp::Gte | CmpOp::Eq) => vb > va,
            (CmpOp::Lte, CmpOp::Lte | CmpOp::Eq | CmpOp::Lt) => vb <= va,
            (CmpOp::Lt, CmpOp::Lt) => vb <= va,
            (CmpOp::Lt, CmpOp::Lte | CmpOp::Eq) => vb < va,
            _ => false,
        })
    })
}

fn host_covered(b: &HostPattern, a: &[HostPattern]) -> bool {
    a.iter().any(|pa| match (pa, b) {
        (x, y) if x == y => true,
        (HostPattern::AnySubdomain(s), HostPattern::Exact(h)) => pa.matches(h) && h != s,
        (HostPattern::AnySubdomain(s), HostPattern::AnySubdomain(t)) => has_suffix(t, s) && t != s,
        (HostPattern::Glob(_), HostPattern::Exact(h)) => pa.matches(h),
        _ => false,
    })
}

fn leaf_implies(b: &Leaf, a: &Leaf) -> bool {
    use Leaf as L;
    match (a, b) {
        (L::User(x), L::User(y))
        | (L::Group(x), L::Group(y))
        | (L::AuthMethod(x), L::AuthMethod(y))
        | (L::DeviceId(x), L::DeviceId(y))
        | (L::DeviceOs(x), L::DeviceOs(y))
        | (L::ClientCountry(x), L::ClientCountry(y))
        | (L::ClientSite(x), L::ClientSite(y))
        | (L::DestCountry(x), L::DestCountry(y))
        | (L::App(x), L::App(y))
        | (L::Instance(x), L::Instance(y))
        | (L::RegistrableDomain(x), L::RegistrableDomain(y))
        | (L::Method(x), L::Method(y))
        | (L::FileType(x), L::FileType(y))
        | (L::DlpRule(x), L::DlpRule(y))
        | (L::DlpCategory(x), L::DlpCategory(y)) => subset(y, x),
        (L::Category(x), L::Category(y)) => subset(y, x),
        (L::AppStatus(x), L::AppStatus(y)) => subset(y, x),
        (L::Activity(x), L::Activity(y)) => subset(y, x),
        (L::ClientIp(x), L::ClientIp(y)) | (L::DestIp(x), L::DestIp(y)) => y
            .nets
            .iter()
            .all(|nb| x.nets.iter().any(|na| na.contains(nb))),
        (L::HostSuffix(x), L::HostSuffix(y)) => {
            y.iter().all(|s| x.iter().any(|t| has_suffix(s, t)))
        }
        (L::HostSuffix(x), L::Host(y)) => y.iter().all(|p| match p {
            HostPattern::Exact(h) | HostPattern::AnySubdomain(h) => {
                x.iter().any(|t| has_suffix(h, t))
            }
            HostPattern::Glob(_) => false,
        }),
        (L::Host(x), L::Host(y)) => y.iter().all(|p| host_covered(p, x)),
        (L::PathPrefix(x), L::PathPrefix(y)) => y
            .iter()
            .all(|p| x.iter().any(|q| p.starts_with(q.as_str()))),
        (L::RiskScore(x), L::RiskScore(y))
        | (L::FileSize(x), L::FileSize(y))
        | (L::DlpCount(x), L::DlpCount(y))
        | (L::PostureAge(x), L::PostureAge(y)) => cmp_implies(y, x),
        (L::DeviceOsVersion(x), L::DeviceOsVersion(y)) => cmp_implies(y, x),
        _ => a == b,
    }
}
