//! A real HTTP/3 client (quinn + h3) for the QUIC interception tests.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, Request, StatusCode};
use rustls_pki_types::CertificateDer;

/// An HTTP/3 connection to `server_name` through the QUIC listener at `addr`.
pub struct H3Client {
    send: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    endpoint: quinn::Endpoint,
}

/// A complete HTTP/3 response.
pub struct H3Response {
    /// Status.
    pub status: StatusCode,
    /// Header fields.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl H3Client {
    /// Connects, trusting only `root` (the proxy's interception CA).
    pub async fn connect(
        addr: SocketAddr,
        server_name: &str,
        root: CertificateDer<'static>,
    ) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root).map_err(|e| e.to_string())?;
        let mut tls = rustls::ClientConfig::builder_with_provider(certs::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h3".to_vec()];
        let crypto =
            quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| e.to_string())?;
        let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr"))
            .map_err(|e| e.to_string())?;
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
        let conn = endpoint
            .connect(addr, server_name)
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| format!("QUIC connect: {e}"))?;
        let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn))
            .await
            .map_err(|e| format!("HTTP/3 setup: {e}"))?;
        tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        Ok(Self { send, endpoint })
    }

    /// Sends `method path` with `body` (empty: no DATA frames) and reads the
    /// whole response.
    pub async fn request(
        &mut self,
        method: &str,
        url: &str,
        body: Bytes,
    ) -> Result<H3Response, String> {
        let req = Request::builder()
            .method(method)
            .uri(url)
            .body(())
            .map_err(|e| e.to_string())?;
        let mut stream = self
            .send
            .send_request(req)
            .await
            .map_err(|e| format!("send request: {e}"))?;
        // Large bodies in pieces, as a real client sends them.
        for piece in body.chunks(64 * 1024) {
            stream
                .send_data(Bytes::copy_from_slice(piece))
                .await
                .map_err(|e| format!("send data: {e}"))?;
        }
        stream.finish().await.map_err(|e| format!("finish: {e}"))?;
        let resp = stream
            .recv_response()
            .await
            .map_err(|e| format!("response: {e}"))?;
        let mut out = BytesMut::new();
        while let Some(mut chunk) = stream
            .recv_data()
            .await
            .map_err(|e| format!("response body: {e}"))?
        {
            out.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
        }
        Ok(H3Response {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: out.freeze(),
        })
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.endpoint.close(0u32.into(), b"done");
    }
}
