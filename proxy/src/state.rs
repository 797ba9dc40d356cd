//! Everything a connection handler needs, built once at start-up and shared.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use certs::{
    Authority, CertCache, FixedLeaf, LeafOptions, Minter, UpstreamTls, UpstreamTlsOptions,
};
use rustls::server::ServerSessionMemoryCache;
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::config::Config;
use crate::metrics::{Metrics, ReasonLabels};
use crate::records::RecordSink;
use crate::upstream::plain::{self, PlainClient};
use crate::upstream::tls::TlsFailure;
use crate::upstream::Resolver;

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The CA or the upstream trust store could not be set up.
    #[error(transparent)]
    Certs(#[from] certs::CertError),
    /// A log file could not be opened.
    #[error("cannot open log {path}: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Policy, catalogue, geo or DLP rules could not be loaded.
    #[error(transparent)]
    Inspect(#[from] crate::inspect::InspectError),
    /// The usage database could not be opened.
    #[error(transparent)]
    Usage(#[from] crate::records::usage::UsageError),
    /// Proxy authentication could not be set up.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// A TLS server configuration could not be built.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// Shared state of a running proxy.
pub struct ProxyState {
    /// The configuration in force.
    pub config: Config,
    /// Minted leaves.
    pub certs: CertCache,
    /// Upstream TLS client configurations.
    pub upstream_tls: UpstreamTls,
    /// Destination resolution.
    pub resolver: Resolver,
    /// The pooled plain-HTTP client.
    pub plain: PlainClient,
    /// The plain-HTTP client of the transparent gateway: it connects to the
    /// original destination address (an IP literal in the request URI),
    /// marking its sockets with `transparent.upstream_mark`.
    pub transparent_plain: PlainClient,
    /// Client addresses bound to users by the captive portal, and the
    /// static `transparent.clients` map.
    pub transparent_identity: crate::listen::transparent::identity::ClientIdentities,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The access log.
    pub access: RecordSink,
    /// Proxy authentication and identity headers.
    pub auth: crate::auth::Authenticator,
    /// Classification, policy, geo and DLP.
    pub inspect: crate::inspect::Inspector,
    /// The DLP incident log.
    pub incidents: RecordSink,
    /// Warn acknowledgements.
    pub acks: crate::pipeline::warn::Acknowledgements,
    /// Device posture reports.
    pub posture: crate::device::PostureStore,
    /// Device agent tokens.
    pub device_tokens: crate::device::TokenCheck,
    /// Usage counters for the shadow-IT report.
    pub usage: crate::records::UsageRecorder,
    /// True once every listener is bound.
    pub ready: AtomicBool,
    /// Cancelled when the proxy shuts down.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Every connection task, so shutdown can wait for them.
    pub tasks: tokio_util::task::TaskTracker,
    /// `limits.max_connections` slots shared by every TCP listener and
    /// worker thread: the limit is for the whole process.
    pub connection_slots: Arc<tokio::sync::Semaphore>,
    /// The interception server configuration without a leaf (sharing the
    /// process's session cache and ticket keys): built once and cloned per
    /// connection, since building one validates the provider and allocates
    /// a session cache only to replace it.
    server_template: ServerConfig,
}

impl std::fmt::Debug for ProxyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyState").finish_non_exhaustive()
    }
}

impl ProxyState {
    /// Loads or generates the CA, builds the trust store, resolver, client and
    /// log sinks. Must run inside a tokio runtime.
    pub fn build(config: Config, data_dir: &std::path::Path) -> Result<Arc<Self>, StartError> {
        let connection_slots = Arc::new(tokio::sync::Semaphore::new(config.limits.max_connections));
        let authority = match (&config.ca.cert, &config.ca.key) {
            (Some(cert), Some(key)) => {
                Authority::from_files(cert, key, config.ca.chain.as_deref())?
            }
            _ => Authority::load_or_generate(data_dir)?,
        };
        let minter = Minter::new(
            Arc::new(authority),
            LeafOptions {
                validity: config.ca.leaf_validity,
                key_rotation: config.ca.leaf_key_rotation,
                ..LeafOptions::default()
            },
        )?;
        let certs = CertCache::new(
            Arc::new(minter),
            config.ca.cache_capacity,
            config.ca.cache_ttl,
        );
        let upstream_tls = UpstreamTls::new(&UpstreamTlsOptions {
            webpki_roots: config.upstream.webpki_roots,
            system_roots: config.upstream.system_roots,
            extra_roots: config.upstream.extra_roots.clone(),
        })?;
        for problem in &upstream_tls.system_store_errors {
            tracing::warn!(%problem, "system trust store");
        }
        let (resolver, dns_error) = Resolver::new(
            config.upstream.resolve.clone(),
            config.upstream.allow_private,
        );
        if let Some(e) = dns_error {
            tracing::warn!(error = %e, "system DNS configuration unavailable; only upstream.resolve and IP literals resolve");
        }
        let plain = plain::client(
            resolver.clone(),
            config.upstream.connect_timeout,
            config.upstream.pool_idle_timeout,
            None,
        );
        let transparent_plain = plain::client(
            resolver.clone(),
            config.upstream.connect_timeout,
            config.upstream.pool_idle_timeout,
            config.transparent.upstream_mark,
        );
        let transparent_identity =
            crate::listen::transparent::identity::ClientIdentities::load(&config.transparent)
                .map_err(crate::inspect::InspectError)?;
        let metrics = Arc::new(Metrics::default());
        let access = RecordSink::open(&config.log.access, metrics.clone()).map_err(|source| {
            StartError::Log {
                path: match &config.log.access {
                    crate::config::LogTarget::File(p) => p.clone(),
                    _ => PathBuf::from("-"),
                },
                source,
            }
        })?;
        let auth = crate::auth::Authenticator::new(&config.identity)?;
        let device_tokens = match &config.devices.tokens_file {
            None => crate::device::TokenCheck::default(),
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| crate::device::TokenCheck::parse(&t))
                .map_err(|e| crate::inspect::InspectError(format!("{}: {e}", path.display())))?,
        };
        let inspect = crate::inspect::Inspector::load(&config)?;
        let incidents =
            RecordSink::open(&config.log.incidents, metrics.clone()).map_err(|source| {
                StartError::Log {
                    path: match &config.log.incidents {
                        crate::config::LogTarget::File(p) => p.clone(),
                        _ => PathBuf::from("-"),
                    },
                    source,
                }
            })?;
        let usage = if config.usage.enabled {
            crate::records::UsageRecorder::start(
                &config.usage.database_path(data_dir),
                config.usage.flush_interval,
                config.usage.max_pending,
                metrics.clone(),
            )?
        } else {
            crate::records::UsageRecorder::off(metrics.clone())
        };
        Ok(Arc::new(Self {
            usage,
            auth,
            inspect,
            incidents,
            acks: Default::default(),
            posture: crate::device::PostureStore::new(config.devices.posture_ttl),
            device_tokens,
            config,
            certs,
            upstream_tls,
            resolver,
            plain,
            transparent_plain,
            transparent_identity,
            metrics,
            access,
            ready: AtomicBool::new(false),
            shutdown: tokio_util::sync::CancellationToken::new(),
            tasks: tokio_util::task::TaskTracker::new(),
            connection_slots,
            server_template: server_template()?,
        }))
    }

    /// The leaf for `name`: from the cache, or minted off the runtime threads.
    pub async fn leaf(&self, name: &str) -> Result<Arc<CertifiedKey>, Arc<certs::CertError>> {
        if let Some(hit) = self.certs.cached(name) {
            self.metrics.leaf_cache_hits.inc();
            return Ok(hit);
        }
        let certs = self.certs.clone();
        let owned = name.to_owned();
        let lookup = match tokio::task::spawn_blocking(move || certs.get(&owned)).await {
            Ok(result) => result?,
            Err(e) => {
                return Err(Arc::new(certs::CertError::BadName {
                    name: name.to_owned(),
                    reason: format!("minting task failed: {e}"),
                }))
            }
        };
        if lookup.minted {
            self.metrics.leaf_mints.inc();
        } else {
            self.metrics.leaf_cache_hits.inc();
        }
        Ok(lookup.key)
    }

    /// A server configuration presenting `leaf` and offering `alpn`, sharing
    /// the process's session cache and ticket keys.
    pub fn server_config(&self, leaf: Arc<CertifiedKey>, alpn: Vec<Vec<u8>>) -> Arc<ServerConfig> {
        let mut config = self.server_template.clone();
        config.cert_resolver = Arc::new(FixedLeaf(leaf));
        config.alpn_protocols = alpn;
        Arc::new(config)
    }

    /// Counts an upstream TLS failure by reason.
    pub fn count_tls_failure(&self, failure: &TlsFailure) {
        self.metrics
            .upstream_tls_errors
            .get_or_create(&ReasonLabels {
                reason: failure.label(),
            })
            .inc();
    }
}

/// The interception server configuration: TLS 1.3 and 1.2, no client
/// authentication, one session cache and one ticketer for the process, and
/// no leaf yet ([`ProxyState::server_config`] sets it per connection).
fn server_template() -> Result<ServerConfig, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(certs::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(NoLeafYet));
    config.session_storage = ServerSessionMemoryCache::new(16 * 1024);
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    Ok(config)
}

/// The template's resolver: never used for a handshake.
#[derive(Debug)]
struct NoLeafYet;

impl rustls::server::ResolvesServerCert for NoLeafYet {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        None
    }
}
