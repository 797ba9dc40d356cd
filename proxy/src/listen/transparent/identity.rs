//! Who is behind a redirected connection, without proxy authentication: the
//! static `transparent.clients` map from client address to user and device,
//! then the addresses bound by a captive-portal sign-in (bounded, expiring).

use std::time::Duration;

use moka::sync::Cache;

use std::net::IpAddr;
use std::sync::Arc;

use crate::auth::Identity;
use crate::config::{ClientBinding, TransparentSection};
use crate::device::CertDevice;

/// Client address → identity and device.
#[derive(Debug)]
pub struct ClientIdentities {
    bindings: Vec<Binding>,
    signed_in: Cache<IpAddr, Arc<Identity>>,
}

/// The `transparent.clients_file` format.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsFile {
    #[serde(default)]
    client: Vec<ClientBinding>,
}

#[derive(Debug)]
struct Binding {
    network: ipnet::IpNet,
    identity: Option<Arc<Identity>>,
    device: Option<Arc<CertDevice>>,
}

impl ClientIdentities {
    /// The map configured in `[transparent]`: `clients`, then the entries of
    /// `clients_file`.
    pub fn load(config: &TransparentSection) -> Result<Self, String> {
        let mut map = Self::with_portal(config, config.portal.ttl, config.portal.capacity);
        if let Some(path) = &config.clients_file {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let file: ClientsFile =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            map.bindings.extend(file.client.iter().map(Binding::from));
        }
        Ok(map)
    }

    fn with_portal(config: &TransparentSection, ttl: Duration, capacity: u64) -> Self {
        Self {
            bindings: config.clients.iter().map(Binding::from).collect(),
            signed_in: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Binds `client` to `identity` (a portal sign-in) until the portal TTL
    /// passes.
    pub fn bind(&self, client: IpAddr, identity: Arc<Identity>) {
        self.signed_in.insert(canonical(client), identity);
    }

    /// The user and device the first entry containing `client` names.
    pub fn lookup(&self, client: IpAddr) -> (Option<Arc<Identity>>, Option<Arc<CertDevice>>) {
        let client = canonical(client);
        let (identity, device) = self
            .bindings
            .iter()
            .find(|b| b.network.contains(&client))
            .map(|b| (b.identity.clone(), b.device.clone()))
            .unwrap_or_default();
        match identity {
            Some(identity) => (Some(identity), device),
            None => (self.signed_in.get(&client), device),
        }
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
        let map = ClientIdentities::load(&config).unwrap();
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

    #[test]
    fn clients_file_entries_come_after_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clients.toml");
        std::fs::write(
            &path,
            "[[client]]\nnetwork = \"10.0.8.0/24\"\nuser = \"from-file\"\n\
             [[client]]\nnetwork = \"10.0.5.7\"\nuser = \"shadowed\"\n",
        )
        .unwrap();
        let mut config: TransparentSection =
            toml::from_str("[[clients]]\nnetwork = \"10.0.5.7\"\nuser = \"alice\"\n").unwrap();
        config.clients_file = Some(path.clone());
        let map = ClientIdentities::load(&config).unwrap();
        assert_eq!(
            map.lookup("10.0.8.9".parse().unwrap()).0.unwrap().user,
            "from-file"
        );
        assert_eq!(
            map.lookup("10.0.5.7".parse().unwrap()).0.unwrap().user,
            "alice"
        );
        std::fs::write(&path, "[[client]]\nnetwork = \"nope\"\n").unwrap();
        let err = ClientIdentities::load(&config).unwrap_err();
        assert!(
            err.contains("clients.toml") && err.contains("nope"),
            "{err}"
        );
    }

    #[test]
    fn portal_bindings_expire() {
        let map = ClientIdentities::with_portal(
            &TransparentSection::default(),
            Duration::from_millis(50),
            10,
        );
        let client: IpAddr = "10.0.7.1".parse().unwrap();
        map.bind(
            client,
            Arc::new(Identity {
                user: "bob".into(),
                groups: Vec::new(),
                method: "portal",
            }),
        );
        assert_eq!(map.lookup(client).0.unwrap().user, "bob");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while map.lookup(client).0.is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "binding never expired"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
