//! `[quic]`: QUIC (UDP 443) reaching the proxy — refused so clients fall
//! back to inspected TCP, or intercepted as HTTP/3.

use std::time::Duration;

use serde::Deserialize;

use super::Listen;

/// What happens to QUIC connections that reach the QUIC listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuicAction {
    /// Refuse every connection at once (QUIC `CONNECTION_REFUSED`), so the
    /// client falls back to TCP, where it is inspected. The default.
    Block,
    /// Terminate QUIC with a minted leaf and inspect HTTP/3 like any other
    /// intercepted request.
    Intercept,
}

/// `[quic]`: the QUIC listener, for UDP 443 routed to the proxy (TPROXY at a
/// transparent gateway, see the README's rules).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuicSection {
    /// UDP address, or `"off"` (the default). Off, the gateway's firewall
    /// must drop or reject UDP 443 itself.
    pub listen: Listen,
    /// `block` (default) or `intercept`.
    pub action: QuicAction,
    /// TCP port intercepted HTTP/3 requests are forwarded to (the origin's
    /// HTTPS port). Default 443.
    pub upstream_port: u16,
    /// Most QUIC connections open at once; further ones are refused (the
    /// client falls back to TCP). Default 10,000.
    pub max_connections: usize,
    /// Most concurrent request streams per connection. Default 100.
    pub max_concurrent_streams: u32,
    /// A connection with no traffic this long is closed. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Largest HTTP/3 header section accepted from a client. Default 64 KiB.
    pub max_field_section_size: u64,
}

impl Default for QuicSection {
    fn default() -> Self {
        Self {
            listen: Listen::Off,
            action: QuicAction::Block,
            upstream_port: 443,
            max_connections: 10_000,
            max_concurrent_streams: 100,
            idle_timeout: Duration::from_secs(30),
            max_field_section_size: 64 * 1024,
        }
    }
}

impl QuicSection {
    /// True when HTTP/3 is intercepted (so its `Alt-Svc` advertisements may
    /// stay: a client that follows them is still inspected).
    pub fn intercepts(&self) -> bool {
        matches!(self.listen, Listen::On(_)) && self.action == QuicAction::Intercept
    }
}
