//! `[transparent]`: the transparent gateway — connections redirected to the
//! proxy by iptables/nftables (REDIRECT or TPROXY), whose destination comes
//! from the socket rather than from a proxy request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[transparent]`: the transparent gateway listener. Off unless `listen`
/// names at least one address.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransparentSection {
    /// Address or list of addresses the redirected connections arrive on
    /// (both port 80 and port 443 traffic: TLS and plain HTTP are told apart
    /// by their first byte). Default none (off).
    pub listen: ListenAddrs,
    /// How connections are redirected: `"redirect"` (default; the original
    /// destination from `SO_ORIGINAL_DST`) or `"tproxy"` (the socket's own
    /// local address, with `IP_TRANSPARENT` listeners).
    pub mode: RedirectMode,
    /// TLS without a server name (SNI): `"block"` (default) or
    /// `"intercept_by_address"` (intercept with a leaf minted for the
    /// destination IP address).
    pub no_sni: NoSni,
    /// `SO_MARK` set on every upstream socket the transparent gateway opens,
    /// so firewall rules can exempt the proxy's own traffic
    /// (`-m mark ! --mark N`). Default none.
    pub upstream_mark: Option<u32>,
    /// Client address → identity: a static map for clients that cannot
    /// authenticate to a proxy. The first matching entry wins.
    pub clients: Vec<ClientBinding>,
    /// A TOML file of further `[[client]]` tables (same fields as
    /// `clients`), read at start-up and consulted after `clients`.
    pub clients_file: Option<PathBuf>,
    /// The captive portal for clients the map does not name.
    pub portal: PortalSection,
}

/// `[transparent.portal]`: a sign-in page for unidentified clients. Their
/// plain-HTTP requests are redirected to it; their HTTPS connections get a
/// page asking them to open any `http://` page first. Signing in (users
/// file or LDAP, as proxy authentication) binds the client address to the
/// user for `ttl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalSection {
    /// Turn the portal on. Default false.
    pub enabled: bool,
    /// How long a sign-in binds the client address to the user. Default 8 h.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Most client addresses bound at once (least recently used beyond).
    /// Default 100,000.
    pub capacity: u64,
}

impl Default for PortalSection {
    fn default() -> Self {
        Self {
            enabled: false,
            ttl: Duration::from_secs(8 * 3600),
            capacity: 100_000,
        }
    }
}

impl TransparentSection {
    /// True when at least one transparent listener is configured.
    pub fn enabled(&self) -> bool {
        !self.listen.0.is_empty()
    }
}

/// One address or a list of addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenAddrs(pub Vec<SocketAddr>);

impl<'de> Deserialize<'de> for ListenAddrs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let texts = match OneOrMany::deserialize(d)? {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(ts) => ts,
        };
        texts
            .iter()
            .map(|t| {
                t.parse().map_err(|_| {
                    serde::de::Error::custom(format!("expected `host:port`, got {t:?}"))
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// How redirected connections reach the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RedirectMode {
    /// NAT `REDIRECT`: the destination is read with `SO_ORIGINAL_DST`.
    #[default]
    Redirect,
    /// `TPROXY`: the connection keeps its destination as the local address.
    Tproxy,
}

/// What to do with TLS that names no server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NoSni {
    /// Refuse the connection: nothing names what it is for. The default.
    #[default]
    Block,
    /// Intercept, naming the destination by its IP address.
    InterceptByAddress,
}

/// `[[transparent.clients]]`: a network whose connections belong to a user
/// and/or device.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientBinding {
    /// A network (`10.0.5.0/24`) or a single address (`10.0.5.7`).
    #[serde(deserialize_with = "network_or_address")]
    pub network: ipnet::IpNet,
    /// The user the traffic is attributed to.
    pub user: Option<String>,
    /// The user's groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The device id the traffic is attributed to.
    pub device: Option<String>,
}

fn network_or_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ipnet::IpNet, D::Error> {
    let text = String::deserialize(d)?;
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Ok(net);
    }
    text.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| {
            serde::de::Error::custom(format!("expected a network or an address, got {text:?}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrapper {
        transparent: TransparentSection,
    }

    fn parse(text: &str) -> Result<TransparentSection, toml::de::Error> {
        toml::from_str::<Wrapper>(text).map(|w| w.transparent)
    }

    #[test]
    fn listen_is_one_or_many_and_clients_take_addresses() {
        let one = parse("[transparent]\nlisten = \"0.0.0.0:15001\"").unwrap();
        assert_eq!(one.listen.0.len(), 1);
        assert_eq!(one.mode, RedirectMode::Redirect);
        assert_eq!(one.no_sni, NoSni::Block);
        let many = parse(
            "[transparent]\nlisten = [\"0.0.0.0:15001\", \"[::]:15001\"]\nmode = \"tproxy\"\n\
             no_sni = \"intercept_by_address\"\nupstream_mark = 7\n\
             [[transparent.clients]]\nnetwork = \"10.0.5.7\"\nuser = \"alice\"\n\
             [[transparent.clients]]\nnetwork = \"fd00::/64\"\ndevice = \"lab\"",
        )
        .unwrap();
        assert_eq!(many.listen.0.len(), 2);
        assert_eq!(many.mode, RedirectMode::Tproxy);
        assert_eq!(many.upstream_mark, Some(7));
        assert!(many.clients[0]
            .network
            .contains(&"10.0.5.7".parse::<std::net::IpAddr>().unwrap()));
        assert!(many.clients[1]
            .network
            .contains(&"fd00::9".parse::<std::net::IpAddr>().unwrap()));
        assert!(parse("[transparent]\nlisten = \"nope\"").is_err());
        assert!(parse("[transparent]\nmode = \"nat\"").is_err());
        assert!(parse("[[transparent.clients]]\nnetwork = \"10.0.0.300\"").is_err());
    }
}
