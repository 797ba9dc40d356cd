//! The entries a PAC file is generated from, parsed and validated: what goes
//! direct, and the proxy endpoints. Every host that reaches the script has
//! passed [`host_name`], so it holds letters, digits, `-`, `_` and `.` only.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// One `pac.direct` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direct {
    /// This host only (lower case, no trailing dot).
    Host(String),
    /// This domain and every name under it.
    Domain(String),
    /// An IPv4 range (an IP literal is a /32).
    Net4(Ipv4Net),
    /// An IPv6 range (an IP literal is a /128).
    Net6(Ipv6Net),
}

/// How a client reaches one proxy endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `PROXY` (plain proxy protocol) or `HTTPS` (TLS to the proxy).
    pub kind: &'static str,
    /// `host:port`, an IPv6 host in brackets.
    pub authority: String,
}

impl Endpoint {
    /// The PAC result token, e.g. `PROXY proxy.corp.example:3128`.
    pub fn token(&self) -> String {
        format!("{} {}", self.kind, self.authority)
    }
}

/// Parses one `pac.direct` entry: `host`, `.domain`, `*.domain`, an IP
/// literal (IPv6 optionally in brackets) or a CIDR range.
pub fn parse_direct(entry: &str) -> Result<Direct, String> {
    if entry.contains('/') {
        let net: IpNet = entry
            .parse()
            .map_err(|_| format!("{entry:?} is not a CIDR range"))?;
        if net.trunc() != net {
            return Err(format!(
                "{entry:?} has host bits set; did you mean {}?",
                net.trunc()
            ));
        }
        return Ok(match net {
            IpNet::V4(n) => Direct::Net4(n),
            IpNet::V6(n) => Direct::Net6(n),
        });
    }
    let unbracketed = entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .unwrap_or(entry);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(match IpNet::from(ip) {
            IpNet::V4(n) => Direct::Net4(n),
            IpNet::V6(n) => Direct::Net6(n),
        });
    }
    if let Some(domain) = entry.strip_prefix("*.").or_else(|| entry.strip_prefix('.')) {
        return host_name(domain)
            .map(Direct::Domain)
            .map_err(|why| format!("{entry:?} is not a `.domain` or `*.domain` pattern: {why}"));
    }
    host_name(entry)
        .map(Direct::Host)
        .map_err(|why| format!("{entry:?} is not a host, domain, IP literal or CIDR range: {why}"))
}

/// Parses a `pac.proxies` entry: `host:port` or `https://host:port`.
pub fn parse_endpoint(entry: &str) -> Result<Endpoint, String> {
    let (kind, rest) = match entry.strip_prefix("https://") {
        Some(rest) => ("HTTPS", rest),
        None => ("PROXY", entry),
    };
    let bad = |why: &str| format!("{entry:?} is not `host:port` or `https://host:port`: {why}");
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| bad("the port must be 1-65535"))?;
    let host = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: std::net::Ipv6Addr = v6.parse().map_err(|_| bad("not an IPv6 address"))?;
        format!("[{ip}]")
    } else {
        host_name(host).map_err(|why| bad(&why))?
    };
    Ok(Endpoint {
        kind,
        authority: format!("{host}:{port}"),
    })
}

/// Validates a DNS host name (or IPv4 literal) and returns it in lower case
/// without a trailing dot. Only letters, digits, `-`, `_` and `.` pass, so
/// the result can never break out of a JavaScript string.
pub fn host_name(name: &str) -> Result<String, String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err("must be 1 to 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each dot-separated label must be 1 to 63 characters".into());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("{c:?} is not allowed in a host name"));
        }
    }
    Ok(name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_entries() {
        let good = [
            (
                "intranet.corp.example",
                Direct::Host("intranet.corp.example".into()),
            ),
            ("Wiki.", Direct::Host("wiki".into())),
            (".corp.example", Direct::Domain("corp.example".into())),
            ("*.Corp.example", Direct::Domain("corp.example".into())),
            ("10.0.0.0/8", Direct::Net4("10.0.0.0/8".parse().unwrap())),
            ("192.0.2.7", Direct::Net4("192.0.2.7/32".parse().unwrap())),
            ("fd00::/8", Direct::Net6("fd00::/8".parse().unwrap())),
            (
                "[2001:db8::1]",
                Direct::Net6("2001:db8::1/128".parse().unwrap()),
            ),
        ];
        for (text, want) in good {
            assert_eq!(parse_direct(text), Ok(want), "{text}");
        }
        let bad = [
            "",
            "a b",
            "evil\".example",
            "x\\y",
            "a\nb",
            "a'b",
            "*.",
            ".",
            "a..b",
            "10.1.2.3/8",
            "10.0.0.0/33",
            "*.*.example",
            "https://x.example",
        ];
        for text in bad {
            assert!(parse_direct(text).is_err(), "{text:?} must be refused");
        }
    }

    #[test]
    fn endpoints() {
        let good = [
            ("proxy.corp.example:3128", "PROXY proxy.corp.example:3128"),
            ("10.1.1.1:8080", "PROXY 10.1.1.1:8080"),
            ("[2001:db8::1]:3128", "PROXY [2001:db8::1]:3128"),
            (
                "https://Proxy.corp.example:3129",
                "HTTPS proxy.corp.example:3129",
            ),
        ];
        for (text, want) in good {
            assert_eq!(
                parse_endpoint(text).map(|e| e.token()),
                Ok(want.into()),
                "{text}"
            );
        }
        for text in [
            "proxy",
            "proxy:0",
            "proxy:99999",
            "pro\"xy:1",
            "http://proxy:1",
            "[zz]:1",
            "a;DIRECT:1",
        ] {
            assert!(parse_endpoint(text).is_err(), "{text:?} must be refused");
        }
    }
}
