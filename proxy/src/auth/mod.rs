//! Admission: who is behind a connection. Proxy authentication (`407` with
//! `Proxy-Authenticate: Basic`) against a users file and an LDAP directory,
//! trusted identity headers from configured sources, and a per-address limit
//! on failures.
//! Credentials are never logged; a failed attempt is logged with the client
//! address and the user name only.

mod basic;
pub mod ldap;
mod rate;
mod users;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use moka::future::Cache;
use sha2::{Digest, Sha256};

pub use basic::parse_basic;
pub use ldap::{Directory, DirectoryError, DirectoryUser};
pub use rate::FailureLimiter;
pub use users::{UsersError, UsersFile};

use crate::config::IdentitySection;

/// An authenticated (or asserted) identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User name.
    pub user: String,
    /// Groups.
    pub groups: Vec<String>,
    /// How it was established: `basic`, `ldap`, `header`, `certificate`.
    pub method: &'static str,
}

/// The outcome of admission for one request.
#[derive(Debug, Clone)]
pub enum Admission {
    /// Let it through, with an identity when one was established.
    Admit(Option<Arc<Identity>>),
    /// Ask for credentials (407).
    Challenge,
    /// Too many failures from this address (429).
    Throttled,
}

/// Why authentication could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The users file is unusable.
    #[error(transparent)]
    Users(#[from] UsersError),
    /// The LDAP directory section is unusable.
    #[error(transparent)]
    Ldap(#[from] DirectoryError),
}

/// Authenticates proxy requests.
pub struct Authenticator {
    config: IdentitySection,
    users: Option<UsersFile>,
    ldap: Option<Directory>,
    verified: Cache<[u8; 32], Arc<Identity>>,
    failures: FailureLimiter,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("require", &self.config.require)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Loads the users file and sets up the LDAP directory the
    /// configuration names.
    pub fn new(config: &IdentitySection) -> Result<Self, AuthError> {
        let users = match &config.users_file {
            Some(path) => Some(UsersFile::load(path)?),
            None => None,
        };
        let ldap = match &config.ldap {
            Some(section) => Some(Directory::new(section)?),
            None => None,
        };
        Ok(Self {
            config: config.clone(),
            users,
            ldap,
            verified: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(config.credential_cache_ttl)
                .build(),
            failures: FailureLimiter::new(config.failed_limit, config.failed_window),
        })
    }

    /// The `Proxy-Authenticate` challenge.
    pub fn challenge(&self) -> String {
        format!(
            "Basic realm=\"{}\", charset=\"UTF-8\"",
            self.config.realm.replace('"', "")
        )
    }

    /// Decides admission for a request from `client` with `headers`.
    pub async fn admit(&self, client: IpAddr, headers: &HeaderMap) -> Admission {
        if let Some(identity) = self.trusted_header_identity(client, headers) {
            return Admission::Admit(Some(Arc::new(identity)));
        }
        let credentials = headers
            .get(http::header::PROXY_AUTHORIZATION)
            .and_then(|v| parse_basic(v.as_bytes()));
        // Without a users file or a directory there is nothing to check
        // credentials against: they are ignored (and never forwarded).
        let credentials = credentials.filter(|_| self.users.is_some() || self.ldap.is_some());
        let Some((user, password)) = credentials else {
            return if self.config.require {
                Admission::Challenge
            } else {
                Admission::Admit(None)
            };
        };
        if self.failures.is_throttled(client) {
            return Admission::Throttled;
        }
        match self.verify(&user, &password).await {
            Some(identity) => Admission::Admit(Some(identity)),
            None => {
                self.failures.record(client);
                tracing::warn!(client = %client, user = %user, "proxy authentication failed");
                Admission::Challenge
            }
        }
    }

    /// Checks a user name and password typed into the captive portal by
    /// `client`: `Admit(Some(identity))`, `Challenge` (wrong, or nothing to
    /// check them against) or `Throttled`. Failures count towards the same
    /// per-address limit as proxy authentication.
    pub async fn sign_in(&self, client: IpAddr, user: &str, password: &str) -> Admission {
        if self.users.is_none() && self.ldap.is_none() {
            return Admission::Challenge;
        }
        if self.failures.is_throttled(client) {
            return Admission::Throttled;
        }
        match self.verify(user, password).await {
            Some(identity) => Admission::Admit(Some(identity)),
            None => {
                self.failures.record(client);
                tracing::warn!(client = %client, user = %user, "portal sign-in failed");
                Admission::Challenge
            }
        }
    }

    /// Checks credentials: the users file first (a user it lists is decided
    /// by it alone), then the LDAP directory. Successes are cached by the
    /// SHA-256 of the credentials.
    async fn verify(&self, user: &str, password: &str) -> Option<Arc<Identity>> {
        // An empty password is never valid (and for LDAP would be an
        // unauthenticated bind that succeeds, RFC 4513 §5.1.2).
        if user.is_empty() || password.is_empty() {
            return None;
        }
        let key = credential_key(user, password);
        if let Some(hit) = self.verified.get(&key).await {
            return Some(hit);
        }
        let identity = match self.users.as_ref().and_then(|users| users.get(user)) {
            Some(entry) => Self::verify_file_entry(entry, password).await?,
            None => self.verify_ldap(user, password).await?,
        };
        let identity = Arc::new(identity);
        self.verified.insert(key, identity.clone()).await;
        Some(identity)
    }

    async fn verify_file_entry(entry: &users::UserEntry, password: &str) -> Option<Identity> {
        let (hash, password) = (entry.password.clone(), password.to_owned());
        let ok = tokio::task::spawn_blocking(move || users::verify_hash(&hash, &password))
            .await
            .unwrap_or(false);
        ok.then(|| Identity {
            user: entry.name.clone(),
            groups: entry.groups.clone(),
            method: "basic",
        })
    }

    async fn verify_ldap(&self, user: &str, password: &str) -> Option<Identity> {
        let directory = self.ldap.as_ref()?;
        match directory.authenticate(user, password).await {
            Ok(Some(found)) => Some(Identity {
                user: found.name,
                groups: found.groups,
                method: "ldap",
            }),
            Ok(None) => None,
            Err(e) => {
                // The error names the operation and the server's answer,
                // never the password.
                tracing::warn!(user = %user, error = %e, "LDAP authentication could not complete");
                None
            }
        }
    }

    fn trusted_header_identity(&self, client: IpAddr, headers: &HeaderMap) -> Option<Identity> {
        let trusted = &self.config.trusted_headers;
        if !trusted.sources.iter().any(|net| net.contains(&client)) {
            return None;
        }
        let user = headers.get(&trusted.user)?.to_str().ok()?.trim();
        if user.is_empty() {
            return None;
        }
        let groups = headers
            .get(&trusted.groups)
            .and_then(|v| v.to_str().ok())
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Some(Identity {
            user: user.to_owned(),
            groups,
            method: "header",
        })
    }

    /// Removes the trusted identity headers, so they never reach an origin
    /// and cannot be spoofed by clients outside the trusted sources.
    pub fn strip_identity_headers(&self, headers: &mut HeaderMap) {
        let trusted = &self.config.trusted_headers;
        headers.remove(&trusted.user);
        headers.remove(&trusted.groups);
    }
}

/// Cache key of verified credentials: their SHA-256, so no password is kept.
fn credential_key(user: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(user.as_bytes());
    h.update([0]);
    h.update(password.as_bytes());
    h.finalize().into()
}

/// How long an unused entry of the failure limiter lives by default.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
