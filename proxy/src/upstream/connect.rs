//! TCP connects to a destination: every resolved address in turn, each
//! attempt bounded by the configured connect timeout.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

use super::{ResolveError, Resolver};

/// Why no TCP connection could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Name resolution failed or the destination is restricted.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// Every address refused or was unreachable.
    #[error("cannot connect to {host}:{port}: {reason}")]
    Unreachable {
        /// Destination host.
        host: String,
        /// Destination port.
        port: u16,
        /// The last error.
        reason: String,
    },
    /// The connect timeout expired.
    #[error("connecting to {host}:{port} timed out after {timeout:?}")]
    Timeout {
        /// Destination host.
        host: String,
        /// Destination port.
        port: u16,
        /// The timeout.
        timeout: Duration,
    },
}

impl ConnectError {
    /// The HTTP status a client is answered with: 403 for a restricted
    /// destination, 504 for a timeout, 502 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            ConnectError::Resolve(ResolveError::Restricted { .. }) => 403,
            ConnectError::Timeout { .. } => 504,
            _ => 502,
        }
    }
}

/// Resolves `host` and connects to `port` on the first address that answers.
pub async fn connect_tcp(
    resolver: &Resolver,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), ConnectError> {
    let addrs = resolver.resolve(host).await?;
    connect_addrs(host, port, &addrs, timeout).await
}

/// Connects to the first of `addrs` that answers within `timeout` each.
pub async fn connect_addrs(
    host: &str,
    port: u16,
    addrs: &[IpAddr],
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), ConnectError> {
    let mut last = None;
    for &ip in addrs {
        let addr = SocketAddr::new(ip, port);
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, addr));
            }
            Ok(Err(e)) => last = Some(Err(e.to_string())),
            Err(_) => last = Some(Ok(())),
        }
    }
    Err(match last {
        Some(Ok(())) => ConnectError::Timeout {
            host: host.to_owned(),
            port,
            timeout,
        },
        Some(Err(reason)) => ConnectError::Unreachable {
            host: host.to_owned(),
            port,
            reason,
        },
        None => ConnectError::Unreachable {
            host: host.to_owned(),
            port,
            reason: "no addresses".into(),
        },
    })
}
