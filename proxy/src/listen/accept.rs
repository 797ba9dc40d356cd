//! The accept loop every TCP listener shares: at most
//! `limits.max_connections` connections at once, accept errors (EMFILE and
//! friends) survived, `TCP_NODELAY`, connection metrics, each connection on
//! its own tracked task, and a clean stop at shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::metrics::ListenerLabels;
use crate::state::ProxyState;

/// Accepts on `listener` until shutdown, serving each connection with
/// `serve`; `label` names the listener in the connection metrics.
pub async fn accept_loop<F, Fut>(
    state: Arc<ProxyState>,
    listener: TcpListener,
    label: &'static str,
    serve: F,
) where
    F: Fn(Arc<ProxyState>, TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(state.config.limits.max_connections));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = state.shutdown.cancelled() => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = state.shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: keep serving the clients we have.
                tracing::warn!(listener = label, error = %e, "accept failed");
                tokio::task::yield_now().await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = serve(state.clone(), stream, peer);
        let task_state = state.clone();
        state.tasks.spawn(async move {
            let _permit = permit;
            task_state
                .metrics
                .connections
                .get_or_create(&ListenerLabels { listener: label })
                .inc();
            task_state.metrics.connections_open.inc();
            connection.await;
            task_state.metrics.connections_open.dec();
        });
    }
}
