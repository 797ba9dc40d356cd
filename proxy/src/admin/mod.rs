//! The admin listener: `/healthz`, `/readyz`, `/metrics` (Prometheus text)
//! and the device agent API `POST /v1/posture` (JSON body, `Authorization:
//! Bearer <device token>`; 204 on success, 401 for a wrong token, 400 for a
//! malformed report).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::state::ProxyState;

/// The admin routes.
pub fn router(state: Arc<ProxyState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/posture", axum::routing::post(posture))
        .with_state(state)
}

/// Serves the admin routes on `listener` until shutdown.
pub async fn serve(state: Arc<ProxyState>, listener: TcpListener) {
    let shutdown = state.shutdown.clone();
    let app = router(state);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::error!(error = %e, "admin listener failed");
    }
}

async fn readyz(State(state): State<Arc<ProxyState>>) -> impl IntoResponse {
    if state.ready.load(Ordering::Relaxed) && !state.shutdown.is_cancelled() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn metrics(State(state): State<Arc<ProxyState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

async fn posture(
    State(state): State<Arc<ProxyState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    let report: crate::device::PostureReport = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("malformed posture report: {e}\n"),
            )
        }
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !state.device_tokens.verify(&report.device_id, token) {
        tracing::warn!(device = %report.device_id, "posture report with a wrong token");
        return (
            StatusCode::UNAUTHORIZED,
            "unknown device or wrong token\n".to_owned(),
        );
    }
    state.posture.put(report);
    (StatusCode::NO_CONTENT, String::new())
}
