//! Proxy credentials checked against an LDAP directory: a simple bind over
//! LDAPS or StartTLS (plain LDAP only when configured), then the user's
//! groups looked up.
//!
//! The user's DN is either a template filled with the RFC 4514-escaped user
//! name, or found by a search whose filter carries the RFC 4515-escaped user
//! name and must match exactly one entry. An empty password is refused before
//! any connection: a simple bind with a DN and no password is an
//! *unauthenticated* bind, which servers answer with success (RFC 4513
//! §5.1.2). One authentication is one connection, bounded as a whole by the
//! configured timeout. Errors never carry the password.

mod template;

use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};

pub use template::{dn_value, fill, filter_value};

use crate::config::{LdapSection, LdapTransport};

/// LDAP result codes meaning "these credentials are not good" rather than
/// "the directory has a problem": invalidCredentials, noSuchObject,
/// invalidDNSyntax, inappropriateAuthentication.
const REJECTED: [u32; 4] = [49, 32, 34, 48];

/// Why the directory could not be set up, or could not answer.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The section is unusable (the same checks as config validation).
    #[error("identity.ldap: {0}")]
    Config(String),
    /// The trust anchors for the directory could not be loaded.
    #[error("identity.ldap.ca_file: {0}")]
    Trust(#[from] certs::CertError),
    /// Connecting, TLS, or the protocol failed.
    #[error("LDAP {op}: {source}")]
    Protocol {
        /// The operation: connect, bind, search, …
        op: &'static str,
        /// What ldap3 reported.
        source: Box<LdapError>,
    },
    /// The directory answered an operation with an unexpected result code.
    #[error("LDAP {op}: result code {rc} ({text})")]
    Refused {
        /// The operation.
        op: &'static str,
        /// The LDAP result code.
        rc: u32,
        /// The server's diagnostic text.
        text: String,
    },
    /// The user's entry lacks `user_attribute`.
    #[error("LDAP: the entry {dn} has no `{attribute}` naming the user")]
    NoUserName {
        /// The user's DN.
        dn: String,
        /// The configured `user_attribute`.
        attribute: String,
    },
    /// The whole authentication took longer than `timeout`.
    #[error("LDAP: timed out, no answer within {0:?}")]
    Timeout(Duration),
}

/// A user the directory vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// The DN bound as.
    pub dn: String,
    /// The user's name as the directory spells it (`user_attribute`).
    pub name: String,
    /// Values of `group_attribute` of the user's groups.
    pub groups: Vec<String>,
}

enum Locate {
    /// Bind to this DN template directly.
    Template(String),
    /// Search `base` with `filter` for the user's entry.
    Search { base: String, filter: String },
}

/// The configured directory. Cheap to share; each authentication opens its
/// own connection.
pub struct Directory {
    url: String,
    transport: LdapTransport,
    tls: Arc<rustls::ClientConfig>,
    locate: Locate,
    service: Option<(String, String)>,
    user_attribute: String,
    group_base: Option<String>,
    group_filter: String,
    group_attribute: String,
    timeout: Duration,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("url", &self.url)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// Builds the directory client: trust anchors (the `ca_file`, or the
    /// Mozilla and system roots), the service password read from its file.
    pub fn new(section: &LdapSection) -> Result<Self, DirectoryError> {
        let transport = section.transport().map_err(DirectoryError::Config)?;
        let own_roots = section.ca_file.is_none();
        let tls = certs::UpstreamTls::new(&certs::UpstreamTlsOptions {
            webpki_roots: own_roots,
            system_roots: own_roots,
            extra_roots: section.ca_file.iter().cloned().collect(),
        })?
        .config(certs::UpstreamAlpn::None);
        let locate = match (&section.bind_dn_template, &section.search_base) {
            (Some(template), None) => Locate::Template(template.clone()),
            (None, Some(base)) => Locate::Search {
                base: base.clone(),
                filter: section.search_filter.clone(),
            },
            _ => {
                return Err(DirectoryError::Config(
                    "set exactly one of `bind_dn_template` and `search_base`".into(),
                ))
            }
        };
        let service = match (&section.service_bind_dn, &section.service_password_file) {
            (Some(dn), Some(file)) => Some((
                dn.clone(),
                crate::config::read_service_password(file).map_err(DirectoryError::Config)?,
            )),
            (None, None) => None,
            _ => {
                return Err(DirectoryError::Config(
                    "`service_bind_dn` and `service_password_file` go together".into(),
                ))
            }
        };
        Ok(Self {
            url: section.url.clone(),
            transport,
            tls,
            locate,
            service,
            user_attribute: section.user_attribute.clone(),
            group_base: section.group_base.clone(),
            group_filter: section.group_filter.clone(),
            group_attribute: section.group_attribute.clone(),
            timeout: section.timeout,
        })
    }

    /// Checks `user` / `password` against the directory: `Ok(Some)` with the
    /// user's DN and groups when the bind succeeds, `Ok(None)` when the
    /// directory rejects them (or does not know the user), `Err` when it
    /// could not be asked. An empty user or password is `Ok(None)` without
    /// any connection.
    pub async fn authenticate(
        &self,
        user: &str,
        password: &str,
    ) -> Result<Option<DirectoryUser>, DirectoryError> {
        if user.is_empty() || password.is_empty() {
            return Ok(None);
        }
        tokio::time::timeout(self.timeout, self.authenticate_within(user, password))
            .await
            .map_err(|_| DirectoryError::Timeout(self.timeout))?
    }

    async fn authenticate_within(
        &self,
        user: &str,
        password: &str,
    ) -> Result<Option<DirectoryUser>, DirectoryError> {
        let mut ldap = self.connect().await?;
        let outcome = self.bind_and_look_up(&mut ldap, user, password).await;
        // Best effort: the connection is closed when `ldap` drops anyway.
        let _ = ldap.unbind().await;
        outcome
    }

    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_config(self.tls.clone())
            .set_starttls(self.transport == LdapTransport::StartTls);
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(protocol("connect"))?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        Ok(ldap)
    }

    async fn bind_and_look_up(
        &self,
        ldap: &mut Ldap,
        user: &str,
        password: &str,
    ) -> Result<Option<DirectoryUser>, DirectoryError> {
        let dn = match &self.locate {
            Locate::Template(template) => fill(template, &[("user", &dn_value(user))]),
            Locate::Search { base, filter } => {
                self.bind_service(ldap).await?;
                let filter = fill(filter, &[("user", &filter_value(user))]);
                match self.find_user(ldap, base, &filter).await? {
                    Some(dn) => dn,
                    None => return Ok(None),
                }
            }
        };
        if !bind(ldap, &dn, password, "bind").await? {
            return Ok(None);
        }
        // The entry and the groups are read as the service account when
        // there is one, otherwise as the user just bound.
        self.bind_service(ldap).await?;
        let name = self.read_name(ldap, &dn, user).await?;
        let groups = match &self.group_base {
            Some(base) => {
                let filter = fill(
                    &self.group_filter,
                    &[("dn", &filter_value(&dn)), ("user", &filter_value(&name))],
                );
                self.find_groups(ldap, base, &filter).await?
            }
            None => Vec::new(),
        };
        Ok(Some(DirectoryUser { dn, name, groups }))
    }

    /// The value of `user_attribute` in the entry `dn` that equals `typed`
    /// ignoring case, or else its first value.
    async fn read_name(
        &self,
        ldap: &mut Ldap,
        dn: &str,
        typed: &str,
    ) -> Result<String, DirectoryError> {
        let op = "user entry read";
        let attribute = self.user_attribute.as_str();
        let (entries, _) = ldap
            .search(dn, Scope::Base, "(objectClass=*)", vec![attribute])
            .await
            .and_then(ldap3::SearchResult::success)
            .map_err(protocol(op))?;
        let values: Vec<String> = entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .flat_map(|e| SearchEntry::construct(e).attrs)
            .filter(|(name, _)| name.eq_ignore_ascii_case(attribute))
            .flat_map(|(_, values)| values)
            .collect();
        let chosen = values
            .iter()
            .find(|v| v.to_lowercase() == typed.to_lowercase())
            .or(values.first());
        chosen.cloned().ok_or_else(|| DirectoryError::NoUserName {
            dn: dn.to_owned(),
            attribute: attribute.to_owned(),
        })
    }

    async fn bind_service(&self, ldap: &mut Ldap) -> Result<(), DirectoryError> {
        let Some((dn, password)) = &self.service else {
            return Ok(());
        };
        if bind(ldap, dn, password, "service bind").await? {
            Ok(())
        } else {
            Err(DirectoryError::Refused {
                op: "service bind",
                rc: 49,
                text: format!("the directory refused the credentials of {dn}"),
            })
        }
    }

    /// The DN of the one entry `filter` matches under `base`; `None` when
    /// none or several match.
    async fn find_user(
        &self,
        ldap: &mut Ldap,
        base: &str,
        filter: &str,
    ) -> Result<Option<String>, DirectoryError> {
        let op = "user search";
        let result = ldap
            .with_search_options(ldap3::SearchOptions::new().sizelimit(2))
            .search(base, Scope::Subtree, filter, vec!["1.1"])
            .await
            .map_err(protocol(op))?;
        let (entries, res) = (result.0, result.1);
        match res.rc {
            0 => {}
            // sizeLimitExceeded: several entries match.
            4 => return Ok(None),
            // noSuchObject: the base is missing.
            32 => return Ok(None),
            rc => {
                return Err(DirectoryError::Refused {
                    op,
                    rc,
                    text: res.text,
                })
            }
        }
        let mut dns = entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .map(|e| SearchEntry::construct(e).dn);
        match (dns.next(), dns.next()) {
            (Some(dn), None) => Ok(Some(dn)),
            _ => Ok(None),
        }
    }

    async fn find_groups(
        &self,
        ldap: &mut Ldap,
        base: &str,
        filter: &str,
    ) -> Result<Vec<String>, DirectoryError> {
        let op = "group search";
        let (entries, _) = ldap
            .search(
                base,
                Scope::Subtree,
                filter,
                vec![self.group_attribute.as_str()],
            )
            .await
            .and_then(ldap3::SearchResult::success)
            .map_err(protocol(op))?;
        let mut groups = Vec::new();
        for entry in entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
        {
            let entry = SearchEntry::construct(entry);
            for (attr, values) in entry.attrs {
                if attr.eq_ignore_ascii_case(&self.group_attribute) {
                    groups.extend(values);
                }
            }
        }
        groups.sort();
        groups.dedup();
        Ok(groups)
    }
}

/// Wraps an ldap3 error of operation `op`.
fn protocol(op: &'static str) -> impl FnOnce(LdapError) -> DirectoryError {
    move |source| DirectoryError::Protocol {
        op,
        source: Box::new(source),
    }
}

/// A simple bind: `Ok(true)` on success, `Ok(false)` when the directory
/// rejects the credentials. Never called with an empty password.
async fn bind(
    ldap: &mut Ldap,
    dn: &str,
    password: &str,
    op: &'static str,
) -> Result<bool, DirectoryError> {
    if password.is_empty() {
        return Ok(false);
    }
    let res = ldap.simple_bind(dn, password).await.map_err(protocol(op))?;
    match res.rc {
        0 => Ok(true),
        rc if REJECTED.contains(&rc) => Ok(false),
        rc => Err(DirectoryError::Refused {
            op,
            rc,
            text: res.text,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory(url: &str) -> Directory {
        Directory::new(&LdapSection {
            url: url.into(),
            bind_dn_template: Some("uid={user},dc=example,dc=org".into()),
            timeout: Duration::from_secs(2),
            ..Default::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn empty_credentials_never_reach_the_directory() {
        // A listener that counts connections: none may arrive.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dir = directory(&format!("ldaps://{}", listener.local_addr().unwrap()));
        for (user, password) in [("alice", ""), ("", "pw"), ("", "")] {
            assert_eq!(dir.authenticate(user, password).await.unwrap(), None);
        }
        let accepted = tokio::time::timeout(Duration::from_millis(1), listener.accept()).await;
        assert!(accepted.is_err(), "no connection was made");
    }

    #[tokio::test]
    async fn an_unreachable_directory_is_an_error_without_the_password() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = directory(&format!("ldaps://{addr}"))
            .authenticate("alice", "s3cret-pw")
            .await
            .unwrap_err();
        assert!(!err.to_string().contains("s3cret-pw"), "{err}");
    }

    #[tokio::test]
    async fn a_silent_directory_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut dir = directory(&format!("ldaps://{}", listener.local_addr().unwrap()));
        dir.timeout = Duration::from_millis(200);
        let started = std::time::Instant::now();
        // The TLS handshake never completes: ldap3's connect timeout or ours
        // fires, whichever comes first.
        let err = dir.authenticate("alice", "pw").await.unwrap_err();
        assert!(err.to_string().contains("time"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
