//! Parsing of scalar values in conditions: numbers with units, durations,
//! versions, CIDRs, host patterns, countries.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use super::condition::{Cmp, CmpOp, HostPattern};
use super::raw::RawCmp;

/// A plain non-negative integer.
pub(crate) fn number(s: &str) -> Result<u64, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a non-negative integer"))
}

/// A size: `123`, `10k`/`10KB` (1000), `10KiB` (1024), up to `TB`/`TiB`.
pub(crate) fn size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("`{s}` is not a size"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => return Err(format!("`{s}`: unknown size unit `{unit}`")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// A duration in seconds: `90`, `90s`, `15m`, `8h`, `7d`.
pub(crate) fn duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration"))?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        other => {
            return Err(format!(
                "`{s}`: unknown duration unit `{other}` (s, m, h, d, w)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// A dotted version, e.g. `14.4.1`.
pub(crate) fn version(s: &str) -> Result<Vec<u32>, String> {
    s.trim()
        .split('.')
        .map(|p| p.parse::<u32>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| format!("`{s}` is not a dotted version"))
}

/// Builds a comparison from `raw` using `parse` for each bound.
pub(crate) fn cmp<T>(
    raw: &RawCmp,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Cmp<T>, String> {
    let mut out = Vec::new();
    let bounds = [
        (CmpOp::Eq, &raw.eq),
        (CmpOp::Gt, &raw.gt),
        (CmpOp::Gte, &raw.gte),
        (CmpOp::Lt, &raw.lt),
        (CmpOp::Lte, &raw.lte),
    ];
    for (op, v) in bounds {
        if let Some(v) = v {
            out.push((op, parse(v)?));
        }
    }
    if out.is_empty() {
        return Err("give at least one of eq, gt, gte, lt, lte".into());
    }
    Ok(Cmp(out))
}

/// A CIDR (`10.0.0.0/8`) or a single address.
pub(crate) fn cidr(s: &str) -> Result<IpNet, String> {
    let t = s.trim();
    if let Ok(net) = IpNet::from_str(t) {
        if net.trunc() != net {
            return Err(format!(
                "`{s}` has host bits set (did you mean `{}`?)",
                net.trunc()
            ));
        }
        return Ok(net);
    }
    IpAddr::from_str(t)
        .map(IpNet::from)
        .map_err(|_| format!("`{s}` is not a CIDR or IP address"))
}

/// An ISO 3166-1 alpha-2 country code, returned upper case.
pub(crate) fn country(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.len() == 2 && t.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(t.to_ascii_uppercase())
    } else {
        Err(format!("`{s}` is not a two-letter country code"))
    }
}

/// A host pattern (lower-cased).
pub(crate) fn host_pattern(s: &str) -> Result<HostPattern, String> {
    let t = s.trim().trim_end_matches('.').to_ascii_lowercase();
    if t.is_empty()
        || t.bytes()
            .any(|b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'*'))
    {
        return Err(format!(
            "`{s}` is not a host pattern (letters, digits, `.`, `-`, `*`)"
        ));
    }
    if !t.contains('*') {
        return Ok(HostPattern::Exact(t));
    }
    if let Some(rest) = t.strip_prefix("*.") {
        if !rest.contains('*') && !rest.is_empty() {
            return Ok(HostPattern::AnySubdomain(rest.to_owned()));
        }
    }
    Ok(HostPattern::Glob(t))
}

/// A domain suffix (lower-cased), e.g. `example.com`.
pub(crate) fn domain(s: &str) -> Result<String, String> {
    let t = s
        .trim()
        .trim_start_matches("*.")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if t.is_empty()
        || t.starts_with('.')
        || t.contains("..")
        || t.bytes()
            .any(|b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
    {
        return Err(format!("`{s}` is not a domain name"));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values() {
        assert_eq!(size("10MiB"), Ok(10 << 20));
        assert_eq!(size("10 MB"), Ok(10_000_000));
        assert_eq!(size("512"), Ok(512));
        assert!(size("1XB").is_err());
        assert_eq!(duration("8h"), Ok(28_800));
        assert_eq!(duration("90"), Ok(90));
        assert!(duration("1y").is_err());
        assert_eq!(version("14.2.1"), Ok(vec![14, 2, 1]));
        assert!(version("14.x").is_err());
        assert!(cidr("10.0.0.0/8").is_ok());
        assert!(cidr("10.0.0.1/8").is_err());
        assert!(cidr("2001:db8::/32").is_ok());
        assert_eq!(cidr("192.0.2.7").map(|n| n.prefix_len()), Ok(32));
        assert!(cidr("300.0.0.0/8").is_err());
        assert_eq!(country("us"), Ok("US".into()));
        assert!(country("USA").is_err());
        assert_eq!(
            host_pattern("*.Example.com"),
            Ok(HostPattern::AnySubdomain("example.com".into()))
        );
        assert_eq!(
            host_pattern("a.example.com"),
            Ok(HostPattern::Exact("a.example.com".into()))
        );
        assert_eq!(
            host_pattern("a-*.example.com"),
            Ok(HostPattern::Glob("a-*.example.com".into()))
        );
        assert!(host_pattern("a b").is_err());
    }
}
