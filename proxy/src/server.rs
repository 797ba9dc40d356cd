//! Starting and stopping a whole proxy: state, listeners, graceful shutdown.
//! `portcullis run` and the end-to-end tests both go through [`Server::start`].

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::{Config, Listen};
use crate::state::{ProxyState, StartError};

/// A running proxy.
pub struct Server {
    /// Shared state (metrics, configuration, CA).
    pub state: Arc<ProxyState>,
    /// Where the explicit proxy listens.
    pub proxy_addr: SocketAddr,
    /// Where the admin listener listens, unless it is off.
    pub admin_addr: Option<SocketAddr>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// State could not be built.
    #[error(transparent)]
    Start(#[from] StartError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

impl Server {
    /// Builds the state, binds every listener and starts serving. Must run
    /// inside a multi-threaded tokio runtime.
    pub async fn start(config: Config, data_dir: &Path) -> Result<Self, ServeError> {
        certs::install_process_provider();
        let proxy_listen = config.proxy.listen;
        let admin_listen = config.admin.listen;
        let state = ProxyState::build(config, data_dir)?;
        let proxy = bind("proxy", proxy_listen).await?;
        let proxy_addr = local_addr("proxy", proxy_listen, &proxy)?;
        let admin = match admin_listen {
            Listen::On(addr) => {
                let listener = bind("admin", addr).await?;
                Some((local_addr("admin", addr, &listener)?, listener))
            }
            Listen::Off => None,
        };
        let admin_addr = admin.as_ref().map(|(a, _)| *a);
        tokio::spawn(crate::listen::explicit::serve(state.clone(), proxy));
        if let Some((_, listener)) = admin {
            tokio::spawn(crate::admin::serve(state.clone(), listener));
        }
        state.ready.store(true, Ordering::Relaxed);
        Ok(Self {
            state,
            proxy_addr,
            admin_addr,
        })
    }

    /// Stops accepting, lets open connections finish for up to
    /// `limits.shutdown_grace`, then returns.
    pub async fn shutdown(&self) {
        self.state.ready.store(false, Ordering::Relaxed);
        self.state.shutdown.cancel();
        self.state.tasks.close();
        let grace = self.state.config.limits.shutdown_grace;
        if tokio::time::timeout(grace, self.state.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.state.tasks.len(),
                "shutdown grace period over; closing remaining connections"
            );
        }
    }
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { what, addr, source })
}

fn local_addr(
    what: &'static str,
    addr: SocketAddr,
    l: &TcpListener,
) -> Result<SocketAddr, ServeError> {
    l.local_addr()
        .map_err(|source| ServeError::Bind { what, addr, source })
}
