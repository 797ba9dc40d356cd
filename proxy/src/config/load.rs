//! Reading and validating the configuration file.

use std::fmt;
use std::path::{Path, PathBuf};

use super::locate::{field_at, line_col, span_of};
use super::Config;

/// A configuration error naming the file, line, column and field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `<embedded defaults>`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Dotted field path, when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A parsed and validated configuration with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: Config,
    /// The file it was read from; `None` for the embedded defaults.
    pub path: Option<PathBuf>,
}

/// Reads and validates `path`, or returns the embedded defaults when `None`.
pub fn load(path: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
    match path {
        None => Ok(LoadedConfig {
            config: Config::default(),
            path: None,
        }),
        Some(path) => load_file(path),
    }
}

/// Reads `path`, parses it and runs every start-up validation on it.
pub fn load_file(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: None,
        column: None,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    let config = parse(&text, &file)?;
    Ok(LoadedConfig {
        config,
        path: Some(path.to_owned()),
    })
}

/// Parses and validates configuration `text`; `file` names it in errors.
pub(crate) fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start);
        let (line, column) = offset.map(|o| line_col(text, o)).unzip();
        ConfigError {
            file: file.to_owned(),
            line,
            column,
            field: offset.and_then(|o| field_at(text, o)),
            message: e.message().to_owned(),
        }
    })?;
    validate(&config).map_err(|(path, message)| {
        // A field left out points at the nearest enclosing table that is present.
        let offset = (1..=path.len())
            .rev()
            .find_map(|n| span_of(text, &path[..n]));
        let (line, column) = offset.map(|o| line_col(text, o)).unzip();
        ConfigError {
            file: file.to_owned(),
            line,
            column,
            field: Some(path.join(".")),
            message,
        }
    })?;
    Ok(config)
}

type Invalid = (Vec<&'static str>, String);

/// Semantic checks serde cannot express; each failure names its field path.
fn validate(c: &Config) -> Result<(), Invalid> {
    let fail = |path: &[&'static str], msg: String| Err((path.to_vec(), msg));
    match (&c.ca.cert, &c.ca.key) {
        (Some(_), None) => {
            return fail(
                &["ca", "cert"],
                "`ca.key` must be set with `ca.cert`".into(),
            )
        }
        (None, Some(_)) => {
            return fail(&["ca", "key"], "`ca.cert` must be set with `ca.key`".into())
        }
        _ => {}
    }
    if c.ca.chain.is_some() && c.ca.cert.is_none() {
        return fail(
            &["ca", "chain"],
            "`ca.chain` needs `ca.cert` and `ca.key`".into(),
        );
    }
    for (field, file) in [
        ("cert", &c.ca.cert),
        ("key", &c.ca.key),
        ("chain", &c.ca.chain),
    ] {
        if let Some(file) = file {
            if !file.is_file() {
                return fail(&["ca", field], format!("{}: no such file", file.display()));
            }
        }
    }
    if c.ca.cache_capacity == 0 {
        return fail(&["ca", "cache_capacity"], "must be at least 1".into());
    }
    if c.ca.leaf_validity.as_secs() < 3600 {
        return fail(&["ca", "leaf_validity"], "must be at least 1h".into());
    }
    if c.upstream.connect_ports.is_empty() || c.upstream.connect_ports.contains(&0) {
        return fail(
            &["upstream", "connect_ports"],
            "must list at least one port, none of them 0".into(),
        );
    }
    for root in &c.upstream.extra_roots {
        if !root.is_file() {
            return fail(
                &["upstream", "extra_roots"],
                format!("{}: no such file", root.display()),
            );
        }
    }
    for host in c.upstream.resolve.keys() {
        if !crate::hostmatch::is_valid_pattern(host) || host.starts_with('*') {
            return fail(
                &["upstream", "resolve"],
                format!("{host:?} is not a host name"),
            );
        }
    }
    if !c.upstream.webpki_roots && !c.upstream.system_roots && c.upstream.extra_roots.is_empty() {
        return fail(
            &["upstream", "webpki_roots"],
            "no upstream trust anchors left: enable webpki_roots or system_roots, or list extra_roots"
                .into(),
        );
    }
    for pattern in &c.inspection.bypass {
        if !crate::hostmatch::is_valid_pattern(pattern) {
            return fail(
                &["inspection", "bypass"],
                format!("{pattern:?} is not a host, `*.domain` or `.domain` pattern"),
            );
        }
    }
    if c.limits.max_connections == 0 {
        return fail(&["limits", "max_connections"], "must be at least 1".into());
    }
    if !(1024..=1024 * 1024).contains(&c.limits.max_header_bytes) {
        return fail(
            &["limits", "max_header_bytes"],
            "must be between 1024 and 1048576".into(),
        );
    }
    if !(16_384..=16_777_215).contains(&c.http2.max_frame_size) {
        return fail(
            &["http2", "max_frame_size"],
            "must be between 16384 and 16777215 (RFC 9113 §4.2)".into(),
        );
    }
    for (field, value) in [
        ("keep_alive_timeout", c.http2.keep_alive_timeout),
        ("connection_idle_timeout", c.http2.connection_idle_timeout),
    ] {
        if value.is_zero() {
            return fail(&["http2", field], "must be longer than 0s".into());
        }
    }
    if c.http2.max_concurrent_streams == 0 {
        return fail(
            &["http2", "max_concurrent_streams"],
            "must be at least 1".into(),
        );
    }
    for (field, name) in [
        ("user", &c.identity.trusted_headers.user),
        ("groups", &c.identity.trusted_headers.groups),
    ] {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || name.bytes().any(|b| b.is_ascii_uppercase())
        {
            return fail(
                &["identity", "trusted_headers", field],
                format!("{name:?} is not a lower-case header name"),
            );
        }
    }
    if let Some(users) = &c.identity.users_file {
        if let Err(e) = crate::auth::UsersFile::load(users) {
            return fail(&["identity", "users_file"], e.to_string());
        }
    }
    if let Some(ldap) = &c.identity.ldap {
        super::ldap::validate(ldap)?;
    }
    if c.identity.require && c.identity.users_file.is_none() && c.identity.ldap.is_none() {
        return fail(
            &["identity", "require"],
            "proxy authentication is required but neither `identity.users_file` nor \
             `[identity.ldap]` is configured"
                .into(),
        );
    }
    for check in &c.devices.require {
        if !["disk_encryption", "edr_running", "firewall", "screen_lock"].contains(&check.as_str())
        {
            return fail(
                &["devices", "require"],
                format!(
                    "{check:?} is not one of disk_encryption, edr_running, firewall, screen_lock"
                ),
            );
        }
    }
    if let Some(ca) = &c.devices.ca {
        if !ca.is_file() {
            return fail(
                &["devices", "ca"],
                format!("{}: no such file", ca.display()),
            );
        }
    }
    if c.devices.require_certificate && c.devices.ca.is_none() {
        return fail(
            &["devices", "require_certificate"],
            "a device certificate is required but no `devices.ca` is configured".into(),
        );
    }
    if let Some(tokens) = &c.devices.tokens_file {
        let text = std::fs::read_to_string(tokens).map_err(|e| {
            (
                vec!["devices", "tokens_file"],
                format!("{}: {e}", tokens.display()),
            )
        })?;
        if let Err(e) = crate::device::TokenCheck::parse(&text) {
            return fail(
                &["devices", "tokens_file"],
                format!("{}: {e}", tokens.display()),
            );
        }
    }
    if c.usage.flush_interval < std::time::Duration::from_millis(100) {
        return fail(
            &["usage", "flush_interval"],
            "must be at least 100ms".into(),
        );
    }
    if c.quic.max_concurrent_streams == 0 {
        return fail(
            &["quic", "max_concurrent_streams"],
            "must be at least 1".into(),
        );
    }
    if c.quic.upstream_port == 0 {
        return fail(&["quic", "upstream_port"], "must be a port number".into());
    }
    if c.usage.max_pending == 0 {
        return fail(&["usage", "max_pending"], "must be at least 1".into());
    }
    if c.usage.database.as_deref().is_some_and(Path::is_dir) {
        return fail(
            &["usage", "database"],
            "is a directory; name the database file".into(),
        );
    }
    super::pac::validate(&c.pac)?;
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&c.log.level) {
        return fail(&["log", "level"], format!("not a valid filter: {e}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_is_the_default() {
        let c = parse("", "x.toml").unwrap();
        assert_eq!(c.proxy.listen.to_string(), "127.0.0.1:3128");
        assert_eq!(c.upstream.connect_ports, vec![443]);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let cases = [
            ("[proxy]\nlisten = \"nope\"\n", 2, "proxy.listen"),
            ("[proxy]\n\nlisen = \"127.0.0.1:1\"\n", 3, "proxy.lisen"),
            (
                "[upstream]\nconnect_ports = []\n",
                2,
                "upstream.connect_ports",
            ),
            ("[inspection]\nbypass = [\"a b\"]\n", 2, "inspection.bypass"),
            (
                "[limits]\nheader_read_timeout = \"ten\"\n",
                2,
                "limits.header_read_timeout",
            ),
            ("[http2]\nmax_frame_size = 10\n", 2, "http2.max_frame_size"),
            (
                "[http2]\nkeep_alive_timeout = \"0s\"\n",
                2,
                "http2.keep_alive_timeout",
            ),
            (
                "[http2]\n\nconnection_idle_timeout = \"0s\"\n",
                3,
                "http2.connection_idle_timeout",
            ),
            ("[usage]\nmax_pending = 0\n", 2, "usage.max_pending"),
            (
                "[usage]\nflush_interval = \"1ms\"\n",
                2,
                "usage.flush_interval",
            ),
            (
                "[ca]\ncert = \"/nonexistent.pem\"\nkey = \"/nonexistent.key\"\n",
                2,
                "ca.cert",
            ),
            (
                "[identity.ldap]\nbind_dn_template = \"uid={user},dc=x\"\nurl = \"ldap://dir.example\"\n",
                3,
                "identity.ldap.url",
            ),
            (
                "[identity.ldap]\nurl = \"ldaps://dir.example\"\nstarttls = true\nsearch_base = \"dc=x\"\n",
                3,
                "identity.ldap.starttls",
            ),
            (
                "[identity.ldap]\nurl = \"ldaps://dir.example\"\nsearch_base = \"dc=x\"\nsearch_filter = \"(uid=x)\"\n",
                4,
                "identity.ldap.search_filter",
            ),
            (
                "[identity.ldap]\nurl = \"ldaps://dir.example\"\nsearch_base = \"dc=x\"\nservice_bind_dn = \"cn=p\"\n",
                4,
                "identity.ldap.service_bind_dn",
            ),
            ("[proxy]\n\n[pac]\nlisten = \"0.0.0.0:8080\"\n", 3, "pac.proxies"),
            (
                "[pac]\nproxies = [\"p.example:3128\"]\ndirect = [\"a\\\"b\"]\n",
                3,
                "pac.direct",
            ),
            ("[pac]\nproxies = [\"p.example\"]\n", 2, "pac.proxies"),
            ("[pac]\ncache_max_age = \"soon\"\n", 2, "pac.cache_max_age"),
        ];
        for (text, line, field) in cases {
            let err = parse(text, "p.toml").unwrap_err();
            assert_eq!(err.line, Some(line), "{text}: {err}");
            assert_eq!(err.field.as_deref(), Some(field), "{text}: {err}");
            assert!(
                err.to_string().starts_with(&format!("p.toml:{line}:")),
                "{err}"
            );
        }
    }
}
