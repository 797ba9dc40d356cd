//! Who is behind a redirected connection, without proxy authentication: the
//! static `transparent.clients` map from client address to user and device.

use std::net::IpAddr;
use std::sync::Arc;

use crate::auth::Identity;
use crate::config::{ClientBinding, TransparentSection};
use crate::device::CertDevice;

/// Client address → identity and device.
#[derive(Debug, Default)]
pub struct ClientIdentities {
    bindings: Vec<Binding>,
}

#[derive(Debug)]
struct Binding {
    network: ipnet::IpNet,
    identity: Option<Arc<Identity>>,
    device: Option<Arc<CertDevice>>,
}

impl ClientIdentities {
    /// The map configured in `[transparent]`.
    pub fn new(config: &TransparentSection) -> Self {
        Self {
            bindings: config.clients.iter().map(Binding::from).collect(),
        }
    }

    /// The user and device the first entry containing `client` names.
    pub fn lookup(&self, client: IpAddr) -> (Option<Arc<Identity>>, Option<Arc<CertDevice>>) {
        let client = canonical(client);
        self.bindings
            .iter()
            .find(|b| b.network.contains(&client))
            .map(|b| (b.identity.clone(), b.device.clone()))
            .unwrap_or_default()
    }
}

impl From<&ClientBinding> for Binding {
    fn from(c: &ClientBinding) -> Self {
        Self {
            network: c.network,
            identity: c.user.as_ref().map(|user| {
                Arc::new(Identity {
                    user: user.clone(),
                    groups: c.groups.clone(),
                    method: "address",
                })
            }),
            device: c.device.as_ref().map(|id| {
                Arc::new(CertDevice {
                    id: id.clone(),
                    user: c.user.clone(),
                })
            }),
        }
    }
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) is matched
/// as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_network_wins() {
        let config: TransparentSection = toml::from_str(
            "[[clients]]\nnetwork = \"10.0.5.7\"\nuser = \"alice\"\ndevice = \"alice-laptop\"\n\
             [[clients]]\nnetwork = \"10.0.5.0/24\"\nuser = \"lab\"\ngroups = [\"staff\"]\n",
        )
        .unwrap();
        let map = ClientIdentities::new(&config);
        let (who, device) = map.lookup("10.0.5.7".parse().unwrap());
        assert_eq!(who.unwrap().user, "alice");
        assert_eq!(device.unwrap().id, "alice-laptop");
        let (who, device) = map.lookup("::ffff:10.0.5.9".parse().unwrap());
        let who = who.unwrap();
        assert_eq!((who.user.as_str(), who.method), ("lab", "address"));
        assert_eq!(who.groups, ["staff"]);
        assert!(device.is_none());
        assert!(map.lookup("10.0.6.1".parse().unwrap()).0.is_none());
    }
}
