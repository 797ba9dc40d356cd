//! Conditions as written → compiled condition trees, with validation of
//! every value (apps and categories against the catalogue, CIDRs, countries,
//! sizes, durations, times).

use std::str::FromStr;

use marked_yaml::Spanned;

use super::compile::Ctx;
use super::condition::{Cidrs, Cond, Leaf, LeafMeta, PostureReq, TimeWindow};
use super::raw::RawCond;
use super::values;
use crate::catalog::{Activity, AppStatus, Category, UNKNOWN_APP};
use crate::context::{LocalTime, Weekday};
use crate::error::Location;

/// Whether the condition tests facts unknown at CONNECT time.
pub(crate) fn needs_request_facts(c: &Cond) -> bool {
    match c {
        Cond::Leaf { leaf, .. } => {
            matches!(
                leaf,
                Leaf::Activity(_)
                    | Leaf::Method(_)
                    | Leaf::PathPrefix(_)
                    | Leaf::FileType(_)
                    | Leaf::FileSize(_)
            ) || leaf.needs_dlp()
        }
        Cond::Not(c) => needs_request_facts(c),
        Cond::All(cs) | Cond::Any(cs) => cs.iter().any(needs_request_facts),
    }
}

fn list<T>(
    cx: &mut Ctx<'_>,
    loc: &Location,
    field: &str,
    items: &[String],
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<Vec<T>> {
    if items.is_empty() {
        cx.err(loc.clone(), field, "the list is empty");
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for s in items {
        match parse(s) {
            Ok(v) => out.push(v),
            Err(m) => {
                cx.err(loc.clone(), field, m);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn text(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("empty value".into())
    } else {
        Ok(s.trim().to_owned())
    }
}

fn parse_enum<T: FromStr<Err = String>>(s: &str) -> Result<T, String> {
    s.trim().parse()
}

pub(super) fn compile_cond(cx: &mut Ctx<'_>, field: &str, c: &Spanned<RawCond>) -> Option<Cond> {
    let loc = cx.at(c);
    let line = loc.line;
    let key = cond_key(c);
    let f = format!("{field}.{key}");
    let leaf = match &**c {
        RawCond::All(cs) | RawCond::Any(cs) => {
            let mut out = Vec::with_capacity(cs.len());
            let mut ok = true;
            for (j, sub) in cs.iter().enumerate() {
                match compile_cond(cx, &format!("{f}[{j}]"), sub) {
                    Some(s) => out.push(s),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            return Some(if matches!(&**c, RawCond::All(_)) {
                Cond::All(out)
            } else {
                Cond::Any(out)
            });
        }
        RawCond::Not(sub) => return compile_cond(cx, &f, sub).map(|s| Cond::Not(Box::new(s))),
        RawCond::User(v) => Leaf::User(list(cx, &loc, &f, &v.0, text)?),
        RawCond::Group(v) => Leaf::Group(list(cx, &loc, &f, &v.0, text)?),
        RawCond::AuthMethod(v) => Leaf::AuthMethod(list(cx, &loc, &f, &v.0, |s| {
            text(s).map(|t| t.to_ascii_lowercase())
        })?),
        RawCond::Authenticated(b) => Leaf::Authenticated(*b),
        RawCond::DeviceId(v) => Leaf::DeviceId(list(cx, &loc, &f, &v.0, text)?),
        RawCond::DeviceManaged(b) => Leaf::DeviceManaged(*b),
        RawCond::DeviceCompliant(b) => Leaf::DeviceCompliant(*b),
        RawCond::DeviceOs(v) => Leaf::DeviceOs(list(cx, &loc, &f, &v.0, |s| {
            text(s).map(|t| t.to_ascii_lowercase())
        })?),
        RawCond::DeviceOsVersion(raw) => {
            Leaf::DeviceOsVersion(or_err(cx, &loc, &f, values::cmp(raw, values::version))?)
        }
        RawCond::Posture(p) => {
            if p.disk_encryption.is_none()
                && p.edr_running.is_none()
                && p.firewall.is_none()
                && p.screen_lock.is_none()
            {
                cx.err(
                    loc.clone(),
                    &f,
                    "name at least one of disk_encryption, edr_running, firewall, screen_lock",
                );
                return None;
            }
            Leaf::Posture(PostureReq {
                disk_encryption: p.disk_encryption,
                edr_running: p.edr_running,
                firewall: p.firewall,
                screen_lock: p.screen_lock,
            })
        }
        RawCond::PostureAge(raw) => {
            Leaf::PostureAge(or_err(cx, &loc, &f, values::cmp(raw, values::duration))?)
        }
        RawCond::ClientIp(v) => Leaf::ClientIp(Box::new(Cidrs::new(list(
            cx,
            &loc,
            &f,
            &v.0,
            values::cidr,
        )?))),
        RawCond::ClientCountry(v) => {
            Leaf::ClientCountry(list(cx, &loc, &f, &v.0, values::country)?)
        }
        RawCond::ClientSite(v) => Leaf::ClientSite(list(cx, &loc, &f, &v.0, text)?),
        RawCond::DestIp(v) => Leaf::DestIp(Box::new(Cidrs::new(list(
            cx,
            &loc,
            &f,
            &v.0,
            values::cidr,
        )?))),
        RawCond::DestCountry(v) => Leaf::DestCountry(list(cx, &loc, &f, &v.0, values::country)?),
        RawCond::App(v) => {
            let catalog = cx.catalog;
            Leaf::App(list(cx, &loc, &f, &v.0, |s| {
                let s = s.trim();
                if s == UNKNOWN_APP || catalog.contains(s) {
                    Ok(s.to_owned())
                } else {
                    Err(format!("unknown app `{s}` (not in the catalogue)"))
                }
            })?)
        }
        RawCond::Category(v) => Leaf::Category(list(cx, &loc, &f, &v.0, parse_enum::<Category>)?),
        RawCond::AppStatus(v) => {
            Leaf::AppStatus(list(cx, &loc, &f, &v.0, parse_enum::<AppStatus>)?)
        }
        RawCond::RiskScore(raw) => {
            let cmp = or_err(
                cx,
                &loc,
                &f,
                values::cmp(raw, |s| {
                    values::number(s).and_then(|n| {
                        if n <= 100 {
                            Ok(n)
                        } else {
                            Err(format!("risk scores are 0..=100, got {n}"))
                        }
                    })
                }),
            )?;
            Leaf::RiskScore(cmp)
        }
        RawCond::Instance(v) => Leaf::Instance(list(cx, &loc, &f, &v.0, |s| {
            text(s).map(|t| t.to_ascii_lowercase())
        })?),
        RawCond::Host(v) => Leaf::Host(list(cx, &loc, &f, &v.0, values::host_pattern)?),
        RawCond::HostSuffix(v) => Leaf::HostSuffix(list(cx, &loc, &f, &v.0, values::domain)?),
        RawCond::RegistrableDomain(v) => {
            Leaf::RegistrableDomain(list(cx, &loc, &f, &v.0, values::domain)?)
        }
        RawCond::PinsCertificates(b) => Leaf::PinsCertificates(*b),
        RawCond::PrivacySensitive(b) => Leaf::PrivacySensitive(*b),
        RawCond::Activity(v) => Leaf::Activity(list(cx, &loc, &f, &v.0, parse_enum::<Activity>)?),
        RawCond::Method(v) => Leaf::Method(list(cx, &loc, &f, &v.0, |s| {
            let t = s.trim().to_ascii_uppercase();
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(t)
            } else {
                Err(format!("`{s}` is not an HTTP method"))
            }
        })?),
        RawCond::PathPrefix(v) => Leaf::PathPrefix(list(cx, &loc, &f, &v.0, |s| {
            if s.starts_with('/') {
                Ok(s.to_owned())
            } else {
                Err(format!("`{s}` must start with `/`"))
            }
        })?),
        RawCond::FileType(v) => Leaf::FileType(list(cx, &loc, &f, &v.0, |s| {
            text(s).map(|t| t.trim_start_matches('.').to_ascii_lowercase())
        })?),
        RawCond::FileSize(raw) => {
            Leaf::FileSize(or_err(cx, &loc, &f, values::cmp(raw, values::size))?)
        }
        RawCond::DlpRule(v) => Leaf::DlpRule(list(cx, &loc, &f, &v.0, text)?),
        RawCond::DlpCategory(v) => Leaf::DlpCategory(list(cx, &loc, &f, &v.0, text)?),
        RawCond::DlpCount(raw) => {
            Leaf::DlpCount(or_err(cx, &loc, &f, values::cmp(raw, values::number))?)
        }
        RawCond::Time(t) => {
            let days = if t.days.is_empty() {
                Vec::new()
            } else {
                list(cx, &loc, &f, &t.days, parse_enum::<Weekday>)?
            };
            let from = or_err(
                cx,
                &loc,
                &f,
                LocalTime::parse_hhmm(t.from.as_deref().unwrap_or("00:00")),
            )?;
            let to = or_err(
                cx,
                &loc,
                &f,
                LocalTime::parse_hhmm(t.to.as_deref().unwrap_or("24:00")),
            )?;
            if from == to {
                cx.err(
                    loc.clone(),
                    &f,
                    "`from` and `to` are equal: the window is empty",
                );
                return None;
            }
            Leaf::Time(TimeWindow { days, from, to })
        }
    };
    Some(Cond::Leaf {
        meta: Box::new(LeafMeta {
            line,
            text: describe(&key, &leaf),
        }),
        leaf,
    })
}

fn or_err<T>(cx: &mut Ctx<'_>, loc: &Location, field: &str, r: Result<T, String>) -> Option<T> {
    r.map_err(|m| cx.err(loc.clone(), field, m)).ok()
}

fn cond_key(c: &RawCond) -> String {
    let dbg = format!("{c:?}");
    let name = dbg.split(['(', ' ', '{']).next().unwrap_or("");
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// A short human-readable form of a leaf, for `explain`.
fn describe(key: &str, leaf: &Leaf) -> String {
    let body = match leaf {
        Leaf::User(v)
        | Leaf::Group(v)
        | Leaf::AuthMethod(v)
        | Leaf::DeviceId(v)
        | Leaf::DeviceOs(v)
        | Leaf::ClientCountry(v)
        | Leaf::ClientSite(v)
        | Leaf::DestCountry(v)
        | Leaf::App(v)
        | Leaf::Instance(v)
        | Leaf::HostSuffix(v)
        | Leaf::RegistrableDomain(v)
        | Leaf::Method(v)
        | Leaf::PathPrefix(v)
        | Leaf::FileType(v)
        | Leaf::DlpRule(v)
        | Leaf::DlpCategory(v) => format!("[{}]", v.join(", ")),
        Leaf::Authenticated(b)
        | Leaf::DeviceManaged(b)
        | Leaf::DeviceCompliant(b)
        | Leaf::PinsCertificates(b)
        | Leaf::PrivacySensitive(b) => b.to_string(),
        Leaf::ClientIp(n) | Leaf::DestIp(n) => format!(
            "[{}]",
            n.nets
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Leaf::Category(v) => format!(
            "[{}]",
            v.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
        ),
        Leaf::AppStatus(v) => format!(
            "[{}]",
            v.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
        ),
        Leaf::Activity(v) => format!(
            "[{}]",
            v.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
        ),
        Leaf::Host(p) => format!(
            "[{}]",
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Leaf::DeviceOsVersion(c) => format!("{:?}", c.0),
        Leaf::RiskScore(c) | Leaf::PostureAge(c) | Leaf::FileSize(c) | Leaf::DlpCount(c) => {
            format!("{:?}", c.0)
        }
        Leaf::Posture(p) => format!("{p:?}"),
        Leaf::Time(w) => format!(
            "{} {:02}:{:02}-{:02}:{:02}",
            if w.days.is_empty() {
                "every day".to_owned()
            } else {
                w.days
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            },
            w.from / 60,
            w.from % 60,
            w.to / 60,
            w.to % 60
        ),
    };
    format!("{key}: {body}")
}
