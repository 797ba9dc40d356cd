//! Where a redirected connection was going, and listeners able to receive
//! redirected connections.
//!
//! With NAT `REDIRECT` the kernel rewrote the destination to the proxy; the
//! original one is kept by conntrack and read with `SO_ORIGINAL_DST` (IPv4)
//! or `IP6T_SO_ORIGINAL_DST` (IPv6). With `TPROXY` nothing was rewritten:
//! the accepted socket's local address *is* the original destination, and
//! the listener needs `IP_TRANSPARENT` / `IPV6_TRANSPARENT` to accept
//! connections for addresses that are not its own.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::TcpStream;

use crate::config::RedirectMode;

/// The destination the client connected to before redirection.
pub fn original_destination(stream: &TcpStream, mode: RedirectMode) -> std::io::Result<SocketAddr> {
    match mode {
        RedirectMode::Tproxy => stream.local_addr(),
        RedirectMode::Redirect => nat_original_destination(stream),
    }
}

#[cfg(target_os = "linux")]
fn nat_original_destination(stream: &TcpStream) -> std::io::Result<SocketAddr> {
    let socket = SockRef::from(stream);
    let local = stream.local_addr()?;
    let original = if local.is_ipv6() {
        socket.original_dst_ipv6()?
    } else {
        socket.original_dst()?
    };
    original.as_socket().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the original destination is not an IP address",
        )
    })
}

#[cfg(not(target_os = "linux"))]
fn nat_original_destination(_: &TcpStream) -> std::io::Result<SocketAddr> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "SO_ORIGINAL_DST needs Linux",
    ))
}

/// A non-blocking listener on `addr`, shared with `SO_REUSEPORT` by every
/// worker; IPv6 listeners are IPv6-only (so `0.0.0.0:P` and `[::]:P` can
/// both be bound); with TPROXY the socket is transparent.
pub fn listener(addr: SocketAddr, mode: RedirectMode) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if mode == RedirectMode::Tproxy {
        set_transparent(&socket, addr.is_ipv6())?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

#[cfg(target_os = "linux")]
fn set_transparent(socket: &Socket, ipv6: bool) -> std::io::Result<()> {
    if !ipv6 {
        return socket.set_ip_transparent(true);
    }
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor, a pointer to a live c_int and its
    // exact size, as setsockopt(2) requires.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_IPV6,
            libc::IPV6_TRANSPARENT,
            std::ptr::from_ref(&on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_transparent(_: &Socket, _: bool) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "TPROXY needs Linux",
    ))
}
