//! The first bytes of a redirected connection: a TLS ClientHello (read whole,
//! for its server name) or something else (plain HTTP, presumably). The bytes
//! read are kept so they can be replayed to whoever serves the connection.

use std::time::Duration;

use rustls::server::Acceptor;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The most bytes read while looking for a complete ClientHello.
const MAX_HELLO: usize = 16 * 1024;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// What a connection started with.
#[derive(Debug, PartialEq, Eq)]
pub enum Opening {
    /// A TLS ClientHello naming `sni` (lower-cased), or no server.
    Tls {
        /// The server name indication, when sent.
        sni: Option<String>,
    },
    /// Not TLS.
    Other,
}

/// Reads until the ClientHello is complete (or the first bytes show it is not
/// TLS); returns what it is and every byte read.
pub async fn read_opening<IO: AsyncRead + Unpin>(
    stream: &mut IO,
    timeout: Duration,
) -> Result<(Opening, Vec<u8>), String> {
    match tokio::time::timeout(timeout, read(stream)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no complete opening within {timeout:?}")),
    }
}

async fn read<IO: AsyncRead + Unpin>(stream: &mut IO) -> Result<(Opening, Vec<u8>), String> {
    let mut bytes = Vec::with_capacity(2048);
    let mut acceptor = Acceptor::default();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("client read: {e}"))?;
        if n == 0 {
            return Err("client closed the connection before a complete opening".into());
        }
        bytes.extend_from_slice(&chunk[..n]);
        if bytes[0] != TLS_HANDSHAKE {
            return Ok((Opening::Other, bytes));
        }
        let mut fresh = &chunk[..n];
        while !fresh.is_empty() {
            acceptor
                .read_tls(&mut fresh)
                .map_err(|e| format!("invalid TLS record: {e}"))?;
        }
        match acceptor.accept() {
            Ok(Some(accepted)) => {
                let sni = accepted
                    .client_hello()
                    .server_name()
                    .map(|s| s.trim_end_matches('.').to_ascii_lowercase());
                return Ok((Opening::Tls { sni }, bytes));
            }
            Ok(None) if bytes.len() < MAX_HELLO => continue,
            Ok(None) => return Err(format!("ClientHello larger than {MAX_HELLO} bytes")),
            Err((e, _)) => return Err(format!("invalid TLS ClientHello: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_is_other_and_kept() {
        let mut input: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let (opening, bytes) = read_opening(&mut input, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(opening, Opening::Other);
        assert!(bytes.starts_with(b"GET / "));
    }

    #[tokio::test]
    async fn garbage_tls_is_an_error() {
        let mut input: &[u8] = &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5];
        assert!(read_opening(&mut input, Duration::from_secs(1))
            .await
            .is_err());
    }
}
