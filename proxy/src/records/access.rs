//! The access log record: one per request (and one per tunnel).
//!
//! Schema (JSON object per line): `time` (RFC 3339 UTC), `request_id`,
//! `client` (ip:port), `user` (null when unauthenticated), `device`, `method`,
//! `scheme`, `host`, `port`, `path` (without the query string, which can
//! carry tokens), `status` (0 when no response was sent), `bytes_in`
//! (request body or client→origin tunnel bytes), `bytes_out` (response body
//! or origin→client bytes), `duration_us`, `mode` (`intercepted`, `tunnel`,
//! `plain`), `listener` (`explicit` for the proxy protocol, `transparent`
//! for redirected connections, `quic`), `tls_version` and `alpn` of the
//! upstream connection (null for plain), `proxy_protocol` (what the client
//! spoke to the proxy listener: `http/1.1` or `h2`), `client_alpn` (what it
//! spoke inside an intercepted connection), `error` (null or why it failed),
//! and the inspection outcome:
//! `app`, `category`, `instance`, `activity`, `registrable_domain`, `rule`
//! (policy rule id or `default`), `action`, `dlp` (DLP rule ids that
//! fired), `unscanned` (forwarded over the hold limit without a full scan).
//! Bodies, credentials and cookies are never recorded.

use std::net::SocketAddr;

use serde::Serialize;

use super::json_line::JsonObject;

/// How a request reached its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// TLS terminated and re-originated by the proxy.
    Intercepted,
    /// Bytes relayed blind (bypass, or non-TLS allowed by configuration).
    Tunnel,
    /// Plain HTTP forwarded in absolute form.
    Plain,
}

impl Mode {
    /// The label used in metrics and in the access log.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Intercepted => "intercepted",
            Mode::Tunnel => "tunnel",
            Mode::Plain => "plain",
        }
    }
}

/// Which listener a connection arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Listener {
    /// The explicit proxy protocol (plain or HTTPS-proxy listener).
    #[default]
    Explicit,
    /// The transparent gateway (REDIRECT or TPROXY).
    Transparent,
    /// The QUIC listener (UDP 443 routed to the proxy).
    Quic,
}

impl Listener {
    /// The name written in the access log.
    pub fn label(self) -> &'static str {
        match self {
            Listener::Explicit => "explicit",
            Listener::Transparent => "transparent",
            Listener::Quic => "quic",
        }
    }
}

/// The protocol a client spoke to the proxy listener itself (not inside
/// its tunnel): HTTP/1.1, or HTTP/2 on the HTTPS-proxy listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProxyProtocol {
    /// HTTP/1.1 (`http/1.1`).
    #[serde(rename = "http/1.1")]
    Http1,
    /// HTTP/2 (`h2`): each `CONNECT` is one stream of a shared connection.
    #[serde(rename = "h2")]
    Http2,
}

impl ProxyProtocol {
    /// The name written in the access log.
    pub fn label(self) -> &'static str {
        match self {
            ProxyProtocol::Http1 => "http/1.1",
            ProxyProtocol::Http2 => "h2",
        }
    }
}

/// One access-log line.
#[derive(Debug, Clone, Serialize)]
pub struct AccessRecord {
    /// When the request started, RFC 3339 UTC.
    pub time: String,
    /// Unique id of the request, also shown on error pages.
    pub request_id: String,
    /// Client address.
    pub client: SocketAddr,
    /// Authenticated or asserted user, when known.
    pub user: Option<String>,
    /// Device id (from its certificate), when known.
    pub device: Option<String>,
    /// Request method (`CONNECT` for tunnel records).
    pub method: String,
    /// `https` or `http`.
    pub scheme: &'static str,
    /// Destination host.
    pub host: String,
    /// Destination port.
    pub port: u16,
    /// Request path without the query.
    pub path: String,
    /// Status answered to the client; 0 when none was.
    pub status: u16,
    /// Bytes from the client towards the origin (body or tunnel).
    pub bytes_in: u64,
    /// Bytes from the origin towards the client (body or tunnel).
    pub bytes_out: u64,
    /// Microseconds from request start to the end of the response.
    pub duration_us: u64,
    /// How the request was handled.
    pub mode: Mode,
    /// Which listener the connection arrived on.
    pub listener: Listener,
    /// Upstream TLS version (`TLSv1.3`, `TLSv1.2`), when TLS was used upstream.
    pub tls_version: Option<&'static str>,
    /// Upstream ALPN (`h2`, `http/1.1`), when negotiated.
    pub alpn: Option<String>,
    /// The protocol the client spoke to the proxy inside an intercepted
    /// connection: `http/1.1`, `h2`, or `h3` (QUIC).
    pub client_alpn: Option<&'static str>,
    /// What the client spoke to the proxy listener, when it came through one.
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Why the request failed, when it did.
    pub error: Option<String>,
    /// Catalogue app id (`unknown` for unknown hosts), when classified.
    pub app: Option<String>,
    /// App category.
    pub category: Option<String>,
    /// Tenant / workspace / org the request reveals.
    pub instance: Option<String>,
    /// Activity (login, upload, download, share, post, delete, edit).
    pub activity: Option<String>,
    /// Registrable domain of the host (shadow-IT grouping).
    pub registrable_domain: Option<String>,
    /// The policy rule that decided (`default` when none matched).
    pub rule: Option<String>,
    /// The action taken: allow, block, bypass, warn, isolate_downloads, log_only.
    pub action: Option<&'static str>,
    /// DLP rule ids that fired (never the matched values).
    pub dlp: Vec<String>,
    /// Set when the body was forwarded without a complete scan (over the hold limit).
    pub unscanned: bool,
}

/// A fresh random request id: 16 lower-case hex digits.
pub fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let id = rand::random::<u64>();
    (0..16)
        .rev()
        .map(|i| char::from(HEX[((id >> (i * 4)) & 0xf) as usize]))
        .collect()
}

/// Now, formatted as RFC 3339 UTC with microseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

impl AccessRecord {
    /// A record for a request starting now; fill in the outcome later.
    pub fn start(
        client: SocketAddr,
        method: &str,
        scheme: &'static str,
        host: &str,
        port: u16,
        path: &str,
        mode: Mode,
    ) -> Self {
        Self {
            time: now_rfc3339(),
            request_id: new_request_id(),
            client,
            user: None,
            device: None,
            method: method.to_owned(),
            scheme,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
            status: 0,
            bytes_in: 0,
            bytes_out: 0,
            duration_us: 0,
            mode,
            listener: Listener::Explicit,
            tls_version: None,
            alpn: None,
            client_alpn: None,
            proxy_protocol: None,
            error: None,
            app: None,
            category: None,
            instance: None,
            activity: None,
            registrable_domain: None,
            rule: None,
            action: None,
            dlp: Vec::new(),
            unscanned: false,
        }
    }
}

impl AccessRecord {
    /// The record as one JSON line (without the newline): the same bytes
    /// `serde_json::to_string` writes for it, written without serde's
    /// per-key escaping (see [`super::json_line`]).
    pub fn to_json_line(&self) -> String {
        let mut line = String::with_capacity(640);
        let mut o = JsonObject::new(&mut line);
        o.str("time", &self.time);
        o.str("request_id", &self.request_id);
        o.display("client", self.client);
        o.opt_str("user", self.user.as_deref());
        o.opt_str("device", self.device.as_deref());
        o.str("method", &self.method);
        o.str("scheme", self.scheme);
        o.str("host", &self.host);
        o.u64("port", self.port.into());
        o.str("path", &self.path);
        o.u64("status", self.status.into());
        o.u64("bytes_in", self.bytes_in);
        o.u64("bytes_out", self.bytes_out);
        o.u64("duration_us", self.duration_us);
        o.str("mode", self.mode.label());
        o.str("listener", self.listener.label());
        o.opt_str("tls_version", self.tls_version);
        o.opt_str("alpn", self.alpn.as_deref());
        o.opt_str("client_alpn", self.client_alpn);
        o.opt_str(
            "proxy_protocol",
            self.proxy_protocol.map(ProxyProtocol::label),
        );
        o.opt_str("error", self.error.as_deref());
        o.opt_str("app", self.app.as_deref());
        o.opt_str("category", self.category.as_deref());
        o.opt_str("instance", self.instance.as_deref());
        o.opt_str("activity", self.activity.as_deref());
        o.opt_str("registrable_domain", self.registrable_domain.as_deref());
        o.opt_str("rule", self.rule.as_deref());
        o.opt_str("action", self.action);
        o.str_list("dlp", &self.dlp);
        o.bool("unscanned", self.unscanned);
        o.finish();
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written line must stay exactly what serde writes: a field
    /// added to the struct but not to `to_json_line` fails here.
    #[test]
    fn the_json_line_is_what_serde_writes() {
        let mut bare = AccessRecord::start(
            "[::1]:41000".parse().unwrap(),
            "GET",
            "https",
            "example.com",
            443,
            "/",
            Mode::Intercepted,
        );
        assert_eq!(bare.to_json_line(), serde_json::to_string(&bare).unwrap());
        assert_eq!(bare.request_id.len(), 16);
        assert!(bare
            .request_id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));

        bare.user = Some("alice \"the admin\"".into());
        bare.device = Some("dev\u{1}".into());
        bare.path = "/a\\b/주민등록번호\n".into();
        bare.status = 502;
        bare.bytes_in = u64::MAX;
        bare.bytes_out = 7;
        bare.duration_us = 1234;
        bare.listener = Listener::Quic;
        bare.tls_version = Some("TLSv1.3");
        bare.alpn = Some("h2".into());
        bare.client_alpn = Some("h3");
        bare.proxy_protocol = Some(ProxyProtocol::Http2);
        bare.error = Some("upstream said \"no\"\t(reset)".into());
        bare.app = Some("box".into());
        bare.category = Some("storage".into());
        bare.instance = Some("contoso".into());
        bare.activity = Some("upload".into());
        bare.registrable_domain = Some("box.com".into());
        bare.rule = Some("default".into());
        bare.action = Some("block");
        bare.dlp = vec!["credit_card".into(), "kr_rrn".into()];
        bare.unscanned = true;
        assert_eq!(bare.to_json_line(), serde_json::to_string(&bare).unwrap());
        for (mode, listener, protocol) in [
            (Mode::Tunnel, Listener::Transparent, ProxyProtocol::Http1),
            (Mode::Plain, Listener::Explicit, ProxyProtocol::Http2),
        ] {
            bare.mode = mode;
            bare.listener = listener;
            bare.proxy_protocol = Some(protocol);
            assert_eq!(bare.to_json_line(), serde_json::to_string(&bare).unwrap());
        }
    }
}
