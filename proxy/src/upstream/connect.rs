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
    connect_addrs_marked(host, port, addrs, timeout, None).await
}

/// Like [`connect_addrs`], with `SO_MARK` set to `mark` on each socket (so
/// firewall rules can tell the proxy's own connections from redirected ones).
pub async fn connect_addrs_marked(
    host: &str,
    port: u16,
    addrs: &[IpAddr],
    timeout: Duration,
    mark: Option<u32>,
) -> Result<(TcpStream, SocketAddr), ConnectError> {
    let mut last = None;
    for &ip in addrs {
        let addr = SocketAddr::new(ip, port);
        match tokio::time::timeout(timeout, open(addr, mark)).await {
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

/// One TCP connect to `addr`, marked with `mark` when given.
async fn open(addr: SocketAddr, mark: Option<u32>) -> std::io::Result<TcpStream> {
    let Some(mark) = mark else {
        return TcpStream::connect(addr).await;
    };
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    set_mark(socket2::SockRef::from(&socket), mark)?;
    socket.connect(addr).await
}

/// Sets `SO_MARK` on any socket the proxy opens upstream (TCP or UDP).
#[cfg(target_os = "linux")]
pub(crate) fn set_mark(socket: socket2::SockRef<'_>, mark: u32) -> std::io::Result<()> {
    socket.set_mark(mark)
}

/// Sets `SO_MARK` on any socket the proxy opens upstream (TCP or UDP).
#[cfg(not(target_os = "linux"))]
pub(crate) fn set_mark(_: socket2::SockRef<'_>, _: u32) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "SO_MARK needs Linux",
    ))
}
