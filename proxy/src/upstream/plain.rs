//! Plain-HTTP forwarding: a pooled hyper client whose connector applies the
//! same resolution, destination checks and connect timeout as tunnels.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::connect::connect_addrs_marked;
use super::{ConnectError, Resolver};
use crate::pipeline::body::ProxyBody;

/// Connects plain-HTTP origins through the proxy's [`Resolver`].
#[derive(Clone, Debug)]
pub struct PlainConnector {
    resolver: Resolver,
    timeout: Duration,
    mark: Option<u32>,
}

impl tower_service::Service<Uri> for PlainConnector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let resolver = self.resolver.clone();
        let timeout = self.timeout;
        let mark = self.mark;
        Box::pin(async move {
            let host = uri.host().unwrap_or_default().to_owned();
            let port = uri.port_u16().unwrap_or(80);
            let addrs = resolver.resolve(&host).await?;
            let (tcp, _) = connect_addrs_marked(&host, port, &addrs, timeout, mark).await?;
            Ok(TokioIo::new(tcp))
        })
    }
}

/// The pooled plain-HTTP client.
pub type PlainClient = Client<PlainConnector, ProxyBody>;

/// Builds the plain-HTTP client; `mark` is set as `SO_MARK` on its sockets.
pub fn client(
    resolver: Resolver,
    connect_timeout: Duration,
    idle: Duration,
    mark: Option<u32>,
) -> PlainClient {
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(idle)
        .set_host(false)
        .build(PlainConnector {
            resolver,
            timeout: connect_timeout,
            mark,
        })
}

/// The connect error behind a client error, if that is what failed.
pub fn connect_error(e: &hyper_util::client::legacy::Error) -> Option<&ConnectError> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(c) = s.downcast_ref::<ConnectError>() {
            return Some(c);
        }
        source = s.source();
    }
    None
}

/// Shared handle to the client.
pub type SharedPlainClient = Arc<PlainClient>;
