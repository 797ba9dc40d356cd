//! The upstream TLS handshake, with failures classified into the reasons an
//! operator and a user can act on.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A verified upstream TLS connection.
pub type UpstreamTlsStream = TlsStream<TcpStream>;

/// What the upstream handshake negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The ALPN protocol the origin selected, if any.
    pub alpn: Option<Vec<u8>>,
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: &'static str,
}

impl Negotiated {
    /// True when the origin selected HTTP/2.
    pub fn is_h2(&self) -> bool {
        self.alpn.as_deref() == Some(b"h2")
    }

    /// The ALPN protocol as text, for records.
    pub fn alpn_text(&self) -> Option<String> {
        self.alpn
            .as_deref()
            .map(|a| String::from_utf8_lossy(a).into_owned())
    }
}

/// Why the upstream TLS handshake failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsFailure {
    /// The origin's certificate failed verification.
    #[error("upstream certificate {reason}: {detail}")]
    Certificate {
        /// Short reason: `expired`, `unknown issuer`, `name mismatch`, …
        reason: &'static str,
        /// rustls's full description.
        detail: String,
    },
    /// The handshake failed for another reason.
    #[error("upstream TLS handshake failed: {0}")]
    Handshake(String),
    /// The handshake did not finish in time.
    #[error("upstream TLS handshake timed out")]
    Timeout,
    /// The name cannot be used for TLS.
    #[error("invalid upstream server name {0:?}")]
    BadName(String),
}

impl TlsFailure {
    /// The metric label of this failure.
    pub fn label(&self) -> &'static str {
        match self {
            TlsFailure::Certificate { reason, .. } => reason,
            TlsFailure::Handshake(_) => "handshake",
            TlsFailure::Timeout => "timeout",
            TlsFailure::BadName(_) => "bad name",
        }
    }
}

/// The server name to verify for `host` (a DNS name or an IP literal).
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsFailure> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned()).map_err(|_| TlsFailure::BadName(host.to_owned()))
}

/// Runs the TLS handshake over `tcp` and verifies the origin's certificate for `host`.
pub async fn handshake(
    config: Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
    timeout: Duration,
) -> Result<(UpstreamTlsStream, Negotiated), TlsFailure> {
    let name = server_name(host)?;
    let connect = TlsConnector::from(config).connect(name, tcp);
    let stream = match tokio::time::timeout(timeout, connect).await {
        Err(_) => return Err(TlsFailure::Timeout),
        Ok(Err(e)) => return Err(classify(&e)),
        Ok(Ok(s)) => s,
    };
    let (_, conn) = stream.get_ref();
    let negotiated = Negotiated {
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        version: match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            _ => "TLSv1.2",
        },
    };
    Ok((stream, negotiated))
}

fn classify(e: &std::io::Error) -> TlsFailure {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return TlsFailure::Handshake(e.to_string());
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => TlsFailure::Certificate {
            reason: certificate_reason(cert),
            detail: tls.to_string(),
        },
        other => TlsFailure::Handshake(other.to_string()),
    }
}

fn certificate_reason(e: &CertificateError) -> &'static str {
    use CertificateError as C;
    match e {
        C::Expired | C::ExpiredContext { .. } => "expired",
        C::NotValidYet | C::NotValidYetContext { .. } => "not yet valid",
        C::UnknownIssuer => "unknown issuer",
        C::NotValidForName | C::NotValidForNameContext { .. } => "name mismatch",
        C::BadSignature
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => "bad signature",
        C::Revoked => "revoked",
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => "wrong purpose",
        C::BadEncoding => "bad encoding",
        _ => "invalid",
    }
}
