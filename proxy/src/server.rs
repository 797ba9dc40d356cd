//! Starting and stopping a whole proxy: state, listeners, graceful shutdown.
//! `portcullis run` and the end-to-end tests both go through [`Server::start`].
//!
//! Connections are served thread-per-core: each worker thread runs its own
//! single-threaded tokio runtime with its own `SO_REUSEPORT` listener, so a
//! connection, its upstream connection and its tasks stay on one core and
//! never pay for cross-thread wake-ups (measured: about 40% of proxy CPU per
//! keep-alive request under a work-stealing runtime).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

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
    /// Where the HTTPS-proxy listener listens, unless it is off.
    pub https_addr: Option<SocketAddr>,
    /// Where the QUIC listener listens (UDP), unless it is off.
    pub quic_addr: Option<SocketAddr>,
    /// Where the PAC listener (`/proxy.pac`, `/wpad.dat`) listens, unless it is off.
    pub pac_addr: Option<SocketAddr>,
    /// Where the transparent gateway listens (empty when it is off).
    pub transparent_addrs: Vec<SocketAddr>,
    workers: tokio::sync::Mutex<Vec<oneshot::Receiver<()>>>,
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
    /// The HTTPS-proxy listener could not be configured.
    #[error(transparent)]
    HttpsProxy(#[from] crate::listen::https::HttpsProxyError),
    /// The QUIC listener could not be started.
    #[error(transparent)]
    Quic(#[from] crate::quic::QuicError),
    /// The PAC file could not be generated from `[pac]`.
    #[error(transparent)]
    Pac(#[from] crate::pac::PacError),
    /// A worker thread could not be started.
    #[error("cannot start a worker thread: {0}")]
    Worker(std::io::Error),
}

impl Server {
    /// Builds the state, binds every listener and starts serving. Must run
    /// inside a tokio runtime (the admin listener runs on it).
    pub async fn start(config: Config, data_dir: &Path) -> Result<Self, ServeError> {
        certs::install_process_provider();
        let proxy_listen = config.proxy.listen;
        let admin_listen = config.admin.listen;
        let threads = match config.limits.worker_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let state = ProxyState::build(config, data_dir)?;
        let bind_err = |source| ServeError::Bind {
            what: "proxy",
            addr: proxy_listen,
            source,
        };
        let first = reuseport_listener(proxy_listen).map_err(bind_err)?;
        let proxy_addr = first.local_addr().map_err(bind_err)?;
        let mut listeners = vec![first];
        for _ in 1..threads {
            listeners.push(reuseport_listener(proxy_addr).map_err(bind_err)?);
        }
        // The transparent gateway: per address, one listener per worker.
        let mut transparent: Vec<Vec<std::net::TcpListener>> =
            (0..threads).map(|_| Vec::new()).collect();
        let mut transparent_addrs = Vec::new();
        let mode = state.config.transparent.mode;
        for &addr in &state.config.transparent.listen.0 {
            let bind = |source| ServeError::Bind {
                what: "transparent",
                addr,
                source,
            };
            let first =
                crate::listen::transparent::original_dst::listener(addr, mode).map_err(bind)?;
            let local = first.local_addr().map_err(bind)?;
            transparent_addrs.push(local);
            transparent[0].push(first);
            for per_worker in transparent.iter_mut().skip(1) {
                per_worker.push(
                    crate::listen::transparent::original_dst::listener(local, mode)
                        .map_err(bind)?,
                );
            }
        }
        let admin = match admin_listen {
            Listen::On(addr) => {
                let listener =
                    TcpListener::bind(addr)
                        .await
                        .map_err(|source| ServeError::Bind {
                            what: "admin",
                            addr,
                            source,
                        })?;
                let local = listener.local_addr().map_err(|source| ServeError::Bind {
                    what: "admin",
                    addr,
                    source,
                })?;
                Some((local, listener))
            }
            Listen::Off => None,
        };
        let admin_addr = admin.as_ref().map(|(a, _)| *a);
        let mut workers = Vec::new();
        for (i, (listener, transparent)) in listeners.into_iter().zip(transparent).enumerate() {
            workers.push(
                spawn_worker(i, state.clone(), listener, transparent)
                    .map_err(ServeError::Worker)?,
            );
        }
        if let Some((_, listener)) = admin {
            tokio::spawn(crate::admin::serve(state.clone(), listener));
        }
        let https_addr = match state.config.https_proxy.listen {
            Listen::Off => None,
            Listen::On(addr) => {
                let acceptor = crate::listen::https::acceptor(&state).await?;
                let bind = |source| ServeError::Bind {
                    what: "https_proxy",
                    addr,
                    source,
                };
                let listener = TcpListener::bind(addr).await.map_err(bind)?;
                let local = listener.local_addr().map_err(bind)?;
                let task_state = state.clone();
                tokio::spawn(async move {
                    crate::listen::explicit::serve_with(task_state, listener, Some(acceptor)).await;
                });
                Some(local)
            }
        };
        let quic_addr = match state.config.quic.listen {
            Listen::Off => None,
            Listen::On(addr) => {
                let (local, done) = spawn_quic(state.clone(), addr)?;
                workers.push(done);
                Some(local)
            }
        };
        let pac_addr = start_pac(&state).await?;
        state.ready.store(true, Ordering::Relaxed);
        Ok(Self {
            state,
            proxy_addr,
            admin_addr,
            https_addr,
            quic_addr,
            pac_addr,
            transparent_addrs,
            workers: tokio::sync::Mutex::new(workers),
        })
    }

    /// Stops accepting, lets open connections finish for up to
    /// `limits.shutdown_grace`, then returns.
    pub async fn shutdown(&self) {
        self.state.ready.store(false, Ordering::Relaxed);
        self.state.shutdown.cancel();
        self.state.tasks.close();
        for worker in self.workers.lock().await.drain(..) {
            let _ = worker.await;
        }
        self.state.access.finish();
        self.state.incidents.finish();
        self.state.usage.finish();
    }
}

/// Generates the PAC file once and serves it, when `pac.listen` is on.
async fn start_pac(state: &Arc<ProxyState>) -> Result<Option<SocketAddr>, ServeError> {
    let pac = &state.config.pac;
    let Listen::On(addr) = pac.listen else {
        return Ok(None);
    };
    let script = crate::pac::Script::generate(pac)?;
    let file = Arc::new(crate::listen::pac::PacFile::new(script, pac.cache_max_age));
    let bind = |source| ServeError::Bind {
        what: "pac",
        addr,
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind)?;
    let local = listener.local_addr().map_err(bind)?;
    tokio::spawn(crate::listen::pac::serve(
        file,
        listener,
        state.shutdown.clone(),
    ));
    Ok(Some(local))
}

/// Runs the QUIC listener on a thread of its own (one event loop for the UDP
/// socket and its connections, in the network namespace the proxy started
/// in); returns its address once bound, and a receiver that completes when
/// it has stopped.
fn spawn_quic(
    state: Arc<ProxyState>,
    addr: SocketAddr,
) -> Result<(SocketAddr, oneshot::Receiver<()>), ServeError> {
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    let done = spawn_event_loop("portcullis-quic".into(), state, move |state| async move {
        let bound = crate::quic::endpoint(&state, addr).and_then(|endpoint| {
            let local = endpoint
                .local_addr()
                .map_err(|source| crate::quic::QuicError::Bind { addr, source })?;
            Ok((endpoint, local))
        });
        match bound {
            Ok((endpoint, local)) => {
                let _ = bound_tx.send(Ok(local));
                crate::quic::serve(state, endpoint).await;
            }
            Err(e) => {
                let _ = bound_tx.send(Err(e));
            }
        }
    })
    .map_err(ServeError::Worker)?;
    let local = bound_rx
        .recv()
        .map_err(|_| crate::quic::QuicError::Config("the QUIC thread ended".into()))??;
    Ok((local, done))
}

/// Runs `serve` on a thread of its own with a single-threaded runtime; once
/// it returns (shutdown), the connections it started get
/// `limits.shutdown_grace` to finish. The receiver completes when the
/// thread is done.
fn spawn_event_loop<F, Fut>(
    name: String,
    state: Arc<ProxyState>,
    serve: F,
) -> std::io::Result<oneshot::Receiver<()>>
where
    F: FnOnce(Arc<ProxyState>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new().name(name).spawn(move || {
        runtime.block_on(async move {
            serve(state.clone()).await;
            let grace = state.config.limits.shutdown_grace;
            if tokio::time::timeout(grace, state.tasks.wait())
                .await
                .is_err()
            {
                tracing::warn!(
                    open = state.tasks.len(),
                    "shutdown grace period over; closing remaining connections"
                );
            }
        });
        let _ = done_tx.send(());
    })?;
    Ok(done_rx)
}

/// A non-blocking listener on `addr` that other sockets may share with
/// `SO_REUSEPORT` (the kernel spreads connections across them).
fn reuseport_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

fn spawn_worker(
    index: usize,
    state: Arc<ProxyState>,
    listener: std::net::TcpListener,
    transparent: Vec<std::net::TcpListener>,
) -> std::io::Result<oneshot::Receiver<()>> {
    spawn_event_loop(
        format!("portcullis-worker-{index}"),
        state,
        move |state| async move {
            // Keep the timer wheel's next wake-up within half a second:
            // tokio wakes its own driver (an eventfd write and a spurious
            // epoll return) whenever a timer is armed earlier than the next
            // wake-up — which hyper's per-request header timeout otherwise
            // does on every keep-alive request.
            tokio::spawn(async {
                let mut tick = tokio::time::interval(Duration::from_millis(500));
                loop {
                    tick.tick().await;
                }
            });
            let explicit = async {
                match TcpListener::from_std(listener) {
                    Ok(listener) => crate::listen::explicit::serve(state.clone(), listener).await,
                    Err(e) => tracing::error!(error = %e, "worker cannot use its listener"),
                }
            };
            let transparent =
                futures_util::future::join_all(transparent.into_iter().map(|listener| {
                    let state = state.clone();
                    async move {
                        match TcpListener::from_std(listener) {
                            Ok(listener) => {
                                crate::listen::transparent::serve(state, listener).await
                            }
                            Err(e) => tracing::error!(
                                error = %e,
                                "worker cannot use its transparent listener"
                            ),
                        }
                    }
                }));
            // Accepting stops at shutdown.
            tokio::join!(explicit, transparent);
        },
    )
}
