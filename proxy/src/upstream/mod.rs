//! Everything on the origin side: name resolution with destination checks,
//! TCP connects with timeouts, verified TLS sessions and the plain-HTTP pool.

pub mod connect;
pub mod destination;
pub mod plain;
pub mod resolve;
pub mod session;
pub mod tls;

pub use connect::{connect_tcp, ConnectError};
pub use resolve::{ResolveError, Resolver};
pub use session::UpstreamSession;
