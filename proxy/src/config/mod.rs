//! The configuration file: one TOML document with a section per concern.
//!
//! Every struct denies unknown fields and every field has a default, so an
//! empty file (or no file) is a working configuration. [`load`] is the one
//! code path used by both `portcullis run` and `portcullis config check`.

mod ldap;
mod load;
mod locate;
mod pac;
mod quic;
mod transparent;
mod usage;

pub use ldap::{read_service_password, LdapSection, LdapTransport};
pub use load::{load, load_file, ConfigError, LoadedConfig};
pub use pac::PacSection;
pub use quic::{QuicAction, QuicSection};
pub use transparent::{ClientBinding, ListenAddrs, NoSni, RedirectMode, TransparentSection};
pub use usage::UsageSection;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the generated CA and other state. Default `./portcullis-data`;
    /// `--data-dir` overrides it.
    pub data_dir: Option<PathBuf>,
    /// The explicit proxy listener.
    pub proxy: ProxySection,
    /// The admin listener (health, readiness, metrics).
    pub admin: AdminSection,
    /// The interception CA and leaf certificates.
    pub ca: CaSection,
    /// Upstream connections: ports, destinations, DNS, trust.
    pub upstream: UpstreamSection,
    /// What is intercepted and what is not.
    pub inspection: InspectionSection,
    /// Connection and time limits.
    pub limits: LimitsSection,
    /// HTTP/2 limits on the client side of intercepted connections.
    pub http2: Http2Section,
    /// Logs.
    pub log: LogSection,
    /// Who is behind a connection.
    pub identity: IdentitySection,
    /// App catalogue, policy and geo.
    pub policy: PolicySection,
    /// Inline data-loss prevention.
    pub dlp: DlpSection,
    /// The HTTPS-proxy listener (TLS between client and proxy, client certificates).
    pub https_proxy: HttpsProxySection,
    /// Device identity and posture.
    pub devices: DevicesSection,
    /// Usage records for the shadow-IT report.
    pub usage: UsageSection,
    /// The QUIC listener: refuse (fall back to TCP) or intercept HTTP/3.
    pub quic: QuicSection,
    /// The proxy auto-config (PAC / WPAD) listener.
    pub pac: PacSection,
    /// The transparent gateway (redirected connections).
    pub transparent: TransparentSection,
}

/// `[proxy]`: the explicit forward proxy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySection {
    /// Address the explicit proxy listens on. Default `127.0.0.1:3128`.
    pub listen: SocketAddr,
}

impl Default for ProxySection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3128)),
        }
    }
}

/// `[admin]`: health, readiness and Prometheus metrics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Address of the admin listener, or `"off"`. Default `127.0.0.1:9090`.
    pub listen: Listen,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            listen: Listen::On(SocketAddr::from(([127, 0, 0, 1], 9090))),
        }
    }
}

/// A listener address or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// Listen on this address.
    On(SocketAddr),
    /// Do not listen.
    Off,
}

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text == "off" {
            return Ok(Self::Off);
        }
        text.parse().map(Self::On).map_err(|_| {
            serde::de::Error::custom(format!("expected `host:port` or \"off\", got {text:?}"))
        })
    }
}

/// `[ca]`: the interception CA and the leaves minted under it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaSection {
    /// PEM certificate of an existing CA or intermediate. When unset, a CA is
    /// generated in the data dir on first run.
    pub cert: Option<PathBuf>,
    /// PEM private key (P-256, P-384 or RSA) of `cert`; must be mode 0600.
    pub key: Option<PathBuf>,
    /// Optional PEM chain above `cert`, sent after every leaf.
    pub chain: Option<PathBuf>,
    /// Validity of minted leaves. Default 30 days (never past the CA's own expiry).
    #[serde(with = "humantime_serde")]
    pub leaf_validity: Duration,
    /// How long the shared leaf key is used before rotating. Default 24 hours.
    #[serde(with = "humantime_serde")]
    pub leaf_key_rotation: Duration,
    /// Maximum number of cached leaves. Default 10,000.
    pub cache_capacity: u64,
    /// How long a minted leaf stays cached (clamped below half its validity). Default 12 hours.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
}

impl Default for CaSection {
    fn default() -> Self {
        Self {
            cert: None,
            key: None,
            chain: None,
            leaf_validity: Duration::from_secs(30 * 24 * 3600),
            leaf_key_rotation: Duration::from_secs(24 * 3600),
            cache_capacity: 10_000,
            cache_ttl: Duration::from_secs(12 * 3600),
        }
    }
}

/// `[upstream]`: where the proxy may connect and whom it trusts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamSection {
    /// Ports `CONNECT` may target. Default `[443]`.
    pub connect_ports: Vec<u16>,
    /// Permit loopback, private, link-local and cloud-metadata destinations. Default false.
    pub allow_private: bool,
    /// Host → addresses, overriding DNS (split horizon, tests).
    pub resolve: BTreeMap<String, Vec<IpAddr>>,
    /// Additional PEM trust anchors for upstream certificates.
    pub extra_roots: Vec<PathBuf>,
    /// Trust the Mozilla root set compiled in. Default true.
    pub webpki_roots: bool,
    /// Trust the operating system's store. Default true.
    pub system_roots: bool,
    /// TCP connect timeout; exceeding it answers 504. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Upstream TLS handshake timeout. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub tls_handshake_timeout: Duration,
    /// How long an idle pooled plain-HTTP upstream connection is kept. Default 90 s.
    #[serde(with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
}

impl Default for UpstreamSection {
    fn default() -> Self {
        Self {
            connect_ports: vec![443],
            allow_private: false,
            resolve: BTreeMap::new(),
            extra_roots: Vec::new(),
            webpki_roots: true,
            system_roots: true,
            connect_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
        }
    }
}

/// What to do with a `CONNECT` tunnel whose first bytes are not TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NonTls {
    /// Refuse it (a blind relay would be a DLP bypass). The default.
    #[default]
    Block,
    /// Relay it blind and record it as a tunnel.
    Tunnel,
}

/// `[inspection]`: what is intercepted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InspectionSection {
    /// Hosts relayed blind instead of intercepted: exact names, or `*.example.com`
    /// / `.example.com` for a domain and its subdomains.
    pub bypass: Vec<String>,
    /// Non-TLS payloads inside `CONNECT`: `"block"` (default) or `"tunnel"`.
    pub non_tls: NonTls,
}

/// `[limits]`: resource bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Maximum concurrent client connections over every TCP listener and
    /// worker thread, tunnels included (an upgraded `CONNECT` counts until
    /// it closes); further clients wait in the accept backlog. Default
    /// 10,000.
    pub max_connections: usize,
    /// Maximum size of a request head (request line and headers); larger gets 431. Default 64 KiB.
    pub max_header_bytes: usize,
    /// Time a client has to send a complete request head, also the idle
    /// keep-alive limit of HTTP/1.1 connections; the connection is closed. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time a client has to finish its TLS handshake inside a tunnel. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub client_handshake_timeout: Duration,
    /// A blind tunnel or upgraded connection with no traffic either way this
    /// long is closed. Default 5 min.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// On SIGINT/SIGTERM, how long open connections may finish. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Proxy worker threads, each with its own event loop and its own
    /// `SO_REUSEPORT` listener, so a connection stays on one core. 0 (the
    /// default) means one per available core.
    pub worker_threads: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_header_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(30),
            client_handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(10),
            worker_threads: 0,
        }
    }
}

/// `[http2]`: limits of HTTP/2 connections served to clients: inside
/// intercepted tunnels, and the HTTPS-proxy listener's own HTTP/2 (CONNECT
/// streams).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http2Section {
    /// Concurrent streams per connection. Default 100.
    pub max_concurrent_streams: u32,
    /// Maximum decoded header list size. Default 64 KiB.
    pub max_header_list_size: u32,
    /// Streams reset by the client before the proxy accepted them, kept
    /// pending at most (CVE-2023-44487 rapid reset). Default 20.
    pub max_pending_reset_streams: usize,
    /// Streams the proxy may reset for protocol errors before closing the connection. Default 64.
    pub max_local_error_reset_streams: usize,
    /// Largest frame payload accepted. Default 16 KiB (the protocol minimum).
    pub max_frame_size: u32,
    /// How often an idle connection is probed with a PING; `0s` sends none.
    /// Default 30 s.
    #[serde(with = "humantime_serde")]
    pub keep_alive_interval: Duration,
    /// A connection whose PING is not answered this long is closed. Default 20 s.
    #[serde(with = "humantime_serde")]
    pub keep_alive_timeout: Duration,
    /// An HTTP/2 connection to the HTTPS-proxy listener with no request
    /// being answered and no tunnel open this long is closed (GOAWAY).
    /// Default 3 min.
    #[serde(with = "humantime_serde")]
    pub connection_idle_timeout: Duration,
}

impl Default for Http2Section {
    fn default() -> Self {
        Self {
            max_concurrent_streams: 100,
            max_header_list_size: 64 * 1024,
            max_pending_reset_streams: 20,
            max_local_error_reset_streams: 64,
            max_frame_size: 16 * 1024,
            keep_alive_interval: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(20),
            connection_idle_timeout: Duration::from_secs(180),
        }
    }
}

/// Where a log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard output.
    Stdout,
    /// Not written.
    Off,
    /// Appended to this file.
    File(PathBuf),
}

impl<'de> Deserialize<'de> for LogTarget {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(match text.as_str() {
            "stdout" | "-" => Self::Stdout,
            "off" => Self::Off,
            "" => {
                return Err(serde::de::Error::custom(
                    "expected \"stdout\", \"off\" or a path",
                ))
            }
            _ => Self::File(PathBuf::from(text)),
        })
    }
}

/// `[log]`: records and diagnostics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// Access log (JSON lines): `"stdout"` (default), `"off"` or a file path.
    pub access: LogTarget,
    /// DLP incident log (JSON lines, `"record": "incident"`): `"stdout"`
    /// (default), `"off"` or a file path. Never holds the matched values.
    pub incidents: LogTarget,
    /// Operator diagnostics filter (tracing `EnvFilter` syntax), written to
    /// standard error. Default `"info"`; `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            access: LogTarget::Stdout,
            incidents: LogTarget::Stdout,
            level: "info".into(),
        }
    }
}

impl InspectionSection {
    /// True when `host` matches an entry of `bypass`.
    pub fn is_bypassed(&self, host: &str) -> bool {
        crate::hostmatch::matches_any(&self.bypass, host)
    }
}

/// `[identity]`: proxy authentication and trusted identity headers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySection {
    /// Require proxy authentication: requests without valid credentials get
    /// 407. Default false.
    pub require: bool,
    /// Realm shown in the `Proxy-Authenticate` challenge. Default `Portcullis`.
    pub realm: String,
    /// Users file (TOML `[[user]]` tables with argon2 or bcrypt hashes and groups).
    pub users_file: Option<PathBuf>,
    /// How long verified credentials are remembered (by their SHA-256). Default 5 min.
    #[serde(with = "humantime_serde")]
    pub credential_cache_ttl: Duration,
    /// Failed attempts allowed per client address per window; then 429. Default 10.
    pub failed_limit: u32,
    /// The failure window. Default 1 min.
    #[serde(with = "humantime_serde")]
    pub failed_window: Duration,
    /// Identity asserted in headers by a trusted front end.
    pub trusted_headers: TrustedHeadersSection,
    /// LDAP directory checked after the users file. Absent: no LDAP.
    pub ldap: Option<LdapSection>,
}

impl Default for IdentitySection {
    fn default() -> Self {
        Self {
            require: false,
            realm: "Portcullis".into(),
            users_file: None,
            credential_cache_ttl: Duration::from_secs(300),
            failed_limit: 10,
            failed_window: Duration::from_secs(60),
            trusted_headers: TrustedHeadersSection::default(),
            ldap: None,
        }
    }
}

/// `[identity.trusted_headers]`: user and groups asserted by an identity-aware
/// load balancer or endpoint agent. Accepted only from `sources`; stripped
/// from every request, so they never reach an origin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustedHeadersSection {
    /// Client networks whose identity headers are believed. Default none.
    pub sources: Vec<ipnet::IpNet>,
    /// Header carrying the user name. Default `x-authenticated-user`.
    pub user: String,
    /// Header carrying comma-separated groups. Default `x-authenticated-groups`.
    pub groups: String,
}

impl Default for TrustedHeadersSection {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            user: "x-authenticated-user".into(),
            groups: "x-authenticated-groups".into(),
        }
    }
}

/// `[policy]`: what apps are, and what to do about them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySection {
    /// Policy file (YAML, see the `policy` crate). Without one everything is
    /// allowed and nothing is scanned.
    pub file: Option<PathBuf>,
    /// Catalogue files extending or overriding the built-in app catalogue.
    pub catalog: Vec<PathBuf>,
    /// App review statuses (sanctioned, tolerated, unsanctioned, unreviewed).
    pub app_status: Option<PathBuf>,
    /// MaxMind-format country database (GeoLite2-Country, DB-IP country).
    pub geoip: Option<PathBuf>,
    /// CIDR → country/site overrides (YAML).
    pub geo_overrides: Option<PathBuf>,
    /// IANA time zone for time-of-day conditions. Default `UTC`.
    pub time_zone: String,
}

impl Default for PolicySection {
    fn default() -> Self {
        Self {
            file: None,
            catalog: Vec::new(),
            app_status: None,
            geoip: None,
            geo_overrides: None,
            time_zone: "UTC".into(),
        }
    }
}

/// What to do with an upload larger than `dlp.hold_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OverLimit {
    /// Refuse it (413): it cannot be scanned before it leaves. The default.
    #[default]
    Block,
    /// Forward it unscanned beyond the limit and flag the record.
    AllowFlag,
}

/// `[dlp]`: inline scanning of bodies the policy asks to scan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DlpSection {
    /// Rule file replacing the built-in pack.
    pub rules: Option<PathBuf>,
    /// Largest upload held for scanning before it is forwarded. Default 16 MiB.
    pub hold_limit: u64,
    /// Uploads over `hold_limit`: `"block"` (default) or `"allow_flag"`.
    pub over_limit: OverLimit,
    /// File of SHA-256 digests (hex, one per line, `#` comments) of files to block.
    pub blocklist: Option<PathBuf>,
    /// Most decoded bytes per body (decompression bomb bound). Default 256 MiB.
    pub max_decoded_bytes: u64,
    /// Most decoded bytes per encoded byte. Default 200.
    pub max_ratio: u64,
    /// Largest ZIP archive buffered to read its members. Default 32 MiB.
    pub max_archive_bytes: usize,
    /// Deepest archive nesting opened. Default 3.
    pub max_depth: u32,
}

impl Default for DlpSection {
    fn default() -> Self {
        Self {
            rules: None,
            hold_limit: 16 * 1024 * 1024,
            over_limit: OverLimit::Block,
            blocklist: None,
            max_decoded_bytes: 256 << 20,
            max_ratio: 200,
            max_archive_bytes: 32 << 20,
            max_depth: 3,
        }
    }
}

/// `[https_proxy]`: an explicit proxy spoken over TLS — HTTP/1.1, or HTTP/2
/// when the client negotiates `h2` (each `CONNECT` a stream, limits from
/// `[http2]`) — which asks clients for a certificate from the device CA to
/// identify the device.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpsProxySection {
    /// Address, or `"off"` (the default).
    pub listen: Listen,
    /// The name clients use for the proxy; its certificate is minted by the
    /// interception CA. Default `portcullis.local`.
    pub name: String,
}

impl Default for HttpsProxySection {
    fn default() -> Self {
        Self {
            listen: Listen::Off,
            name: "portcullis.local".into(),
        }
    }
}

/// `[devices]`: which certificates identify devices, and posture rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevicesSection {
    /// PEM file of the CA that issues device certificates. Without it no
    /// client certificate is requested and every device is unmanaged.
    pub ca: Option<PathBuf>,
    /// Refuse TLS clients without a valid device certificate. Default false.
    pub require_certificate: bool,
    /// Take the user from the certificate's e-mail SAN when no other identity
    /// is established. Default false.
    pub certificate_user: bool,
    /// Agent tokens file (TOML `[tokens]` device id = SHA-256 hex of its token)
    /// for `POST /v1/posture` on the admin listener.
    pub tokens_file: Option<PathBuf>,
    /// How long a posture report counts; older is stale (non-compliant). Default 1 h.
    #[serde(with = "humantime_serde")]
    pub posture_ttl: Duration,
    /// Checks a managed device must pass to be compliant. Default all four:
    /// `disk_encryption`, `edr_running`, `firewall`, `screen_lock`.
    pub require: Vec<String>,
}

impl Default for DevicesSection {
    fn default() -> Self {
        Self {
            ca: None,
            require_certificate: false,
            certificate_user: false,
            tokens_file: None,
            posture_ttl: Duration::from_secs(3600),
            require: ["disk_encryption", "edr_running", "firewall", "screen_lock"]
                .map(String::from)
                .to_vec(),
        }
    }
}
