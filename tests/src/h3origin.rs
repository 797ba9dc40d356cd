//! The HTTP/3 side of a test origin (quinn + h3) on the same port number
//! as its TCP listener, for origins built with `OriginOptions::h3`.
//!
//! Routes: `GET /bytes/N` (N deterministic bytes), `POST /sha256` (JSON with
//! length and hash of the body), anything else: a short text naming the
//! origin and the protocol.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use http::{Response, StatusCode};
use rustls::sign::CertifiedKey;

use crate::origin::{OriginStats, Seen};

type Stream = h3::server::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

/// Serves HTTP/3 on UDP `addr` with `cert` until the test ends.
pub fn spawn(addr: SocketAddr, cert: Arc<CertifiedKey>, stats: Arc<OriginStats>) {
    let mut tls = rustls::ServerConfig::builder_with_provider(certs::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(certs::FixedLeaf(cert)));
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).expect("QUIC TLS");
    let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let endpoint = quinn::Endpoint::server(config, addr).expect("bind UDP");
    tokio::spawn(async move {
        while let Some(incoming) = endpoint.accept().await {
            let stats = stats.clone();
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                stats.handshakes.fetch_add(1, Ordering::SeqCst);
                let Ok(mut h3) =
                    h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(conn)).await
                else {
                    return;
                };
                while let Ok(Some(resolver)) = h3.accept().await {
                    let stats = stats.clone();
                    tokio::spawn(async move {
                        if let Ok((req, stream)) = resolver.resolve_request().await {
                            let _ = route(req, stream, stats).await;
                        }
                    });
                }
            });
        }
    });
}

async fn route(
    req: http::Request<()>,
    mut stream: Stream,
    stats: Arc<OriginStats>,
) -> Result<(), h3::error::StreamError> {
    let path = req.uri().path().to_owned();
    stats.seen.lock().expect("lock").push(Seen {
        method: req.method().to_string(),
        path: path.clone(),
        version: http::Version::HTTP_3,
        headers: req.headers().clone(),
    });
    let mut body = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await? {
        let n = chunk.remaining();
        stats.body_bytes.fetch_add(n as u64, Ordering::SeqCst);
        body.extend_from_slice(&chunk.copy_to_bytes(n));
    }
    let payload = if let Some(n) = path.strip_prefix("/bytes/") {
        Bytes::from(crate::pattern(n.parse().unwrap_or(0)))
    } else if path == "/sha256" {
        let json = serde_json::json!({
            "len": body.len(),
            "sha256": crate::sha256_hex(&body),
            "protocol": "h3",
        });
        Bytes::from(json.to_string())
    } else {
        Bytes::from(format!("origin h3 {} {}", req.method(), path))
    };
    let head = Response::builder()
        .status(StatusCode::OK)
        .header("content-length", payload.len())
        .body(())
        .expect("response");
    stream.send_response(head).await?;
    for piece in payload.chunks(64 * 1024) {
        stream.send_data(Bytes::copy_from_slice(piece)).await?;
    }
    stream.finish().await
}
