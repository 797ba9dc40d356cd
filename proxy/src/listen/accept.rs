//! The accept loop every TCP listener shares: at most
//! `limits.max_connections` connections at once over all listeners and
//! worker threads, accept errors (EMFILE and
//! friends) survived, `TCP_NODELAY`, connection metrics, each connection on
//! its own tracked task, and a clean stop at shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

use crate::metrics::ListenerLabels;
use crate::state::ProxyState;

/// A connection's place under `limits.max_connections`, released when the
/// last clone is dropped: a tunnel that outlives its proxy-protocol
/// connection (an upgraded `CONNECT`) keeps a clone, so it keeps counting.
pub type ConnectionSlot = Arc<tokio::sync::OwnedSemaphorePermit>;

/// Accepts on `listener` until shutdown, serving each connection with
/// `serve`; `label` names the listener in the connection metrics.
pub async fn accept_loop<F, Fut>(
    state: Arc<ProxyState>,
    listener: TcpListener,
    label: &'static str,
    serve: F,
) where
    F: Fn(Arc<ProxyState>, TcpStream, SocketAddr, ConnectionSlot) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = state.connection_slots.clone();
    loop {
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
        // Accepted first, then a slot: the slots are shared by every worker's
        // listener, so a worker must not hold one while waiting for a client
        // that the kernel queued on another worker's socket. This worker
        // accepts nothing more until its client has a slot.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = state.shutdown.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        let slot: ConnectionSlot = Arc::new(permit);
        let connection = serve(state.clone(), stream, peer, slot.clone());
        let task_state = state.clone();
        state.tasks.spawn(async move {
            let _slot = slot;
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
