//! The PAC listener: serves the proxy auto-config file generated at start-up
//! (see [`crate::pac`]) as `/proxy.pac` (browsers, group policy) and
//! `/wpad.dat` (WPAD discovery via DNS or DHCP).
//!
//! `GET` and `HEAD` only (others get 405), every other path 404. Responses
//! carry `Content-Type: application/x-ns-proxy-autoconfig`,
//! `Cache-Control: max-age=N` and a strong `ETag` (SHA-256 of the file), and a
//! matching `If-None-Match` gets 304 without a body.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::pac::Script;

/// The media type of PAC files (what browsers and WPAD clients expect).
pub const CONTENT_TYPE: &str = "application/x-ns-proxy-autoconfig";

/// A PAC file ready to serve: body and headers computed once.
#[derive(Debug, Clone)]
pub struct PacFile {
    body: Bytes,
    etag: HeaderValue,
    cache_control: HeaderValue,
}

impl PacFile {
    /// Prepares `script` for serving with `Cache-Control: max-age=<max_age>`.
    pub fn new(script: Script, max_age: Duration) -> Self {
        let digest = Sha256::digest(script.text.as_bytes());
        // Hex digits and quotes only: always a valid header value.
        let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16])))
            .unwrap_or_else(|_| HeaderValue::from_static("\"pac\""));
        let cache_control = HeaderValue::from_str(&format!("max-age={}", max_age.as_secs()))
            .unwrap_or_else(|_| HeaderValue::from_static("max-age=300"));
        Self {
            body: Bytes::from(script.text),
            etag,
            cache_control,
        }
    }

    /// The `ETag` value, quotes included.
    pub fn etag(&self) -> &str {
        self.etag.to_str().unwrap_or_default()
    }

    /// True when an `If-None-Match` header lists this file's tag or `*`
    /// (weak comparison, RFC 9110 §13.1.2).
    fn not_modified(&self, headers: &HeaderMap) -> bool {
        let ours = self.etag.as_bytes();
        headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == ours)
    }
}

/// The PAC routes.
pub fn router(file: Arc<PacFile>) -> Router {
    Router::new()
        .route("/proxy.pac", get(pac))
        .route("/wpad.dat", get(pac))
        .with_state(file)
}

/// Serves `file` on `listener` until `shutdown` is cancelled.
pub async fn serve(file: Arc<PacFile>, listener: TcpListener, shutdown: CancellationToken) {
    if let Err(e) = axum::serve(listener, router(file))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::error!(error = %e, "PAC listener failed");
    }
}

async fn pac(State(file): State<Arc<PacFile>>, headers: HeaderMap) -> Response {
    let common = [
        (header::ETAG, file.etag.clone()),
        (header::CACHE_CONTROL, file.cache_control.clone()),
    ];
    if file.not_modified(&headers) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        StatusCode::OK,
        common,
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        file.body.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_forms() {
        let file = PacFile::new(
            Script {
                text: "function FindProxyForURL(u, h) { return \"DIRECT\"; }".into(),
            },
            Duration::from_secs(60),
        );
        let tag = file.etag().to_owned();
        assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() == 34);
        let table = [
            (vec![tag.clone()], true),
            (vec![format!("W/{tag}")], true),
            (vec![format!("\"other\", {tag}")], true),
            (vec!["\"other\"".into(), tag.clone()], true),
            (vec!["*".into()], true),
            (vec!["\"other\"".into()], false),
            (vec![tag.trim_matches('"').to_owned()], false),
            (vec![], false),
        ];
        for (values, want) in table {
            let mut headers = HeaderMap::new();
            for v in &values {
                headers.append(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            }
            assert_eq!(file.not_modified(&headers), want, "{values:?}");
        }
        assert_eq!(file.cache_control, "max-age=60");
    }
}
