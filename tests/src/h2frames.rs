//! Raw HTTP/2 frames, for what a conforming client library will not send
//! (an RFC 8441 `:protocol` the server never enabled) or will not withhold
//! (PING acknowledgements).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Frame type HEADERS (RFC 9113 §6.2).
pub const HEADERS: u8 = 1;
/// Frame type RST_STREAM (§6.4).
pub const RST_STREAM: u8 = 3;
/// Frame type SETTINGS (§6.5).
pub const SETTINGS: u8 = 4;
/// Frame type PING (§6.7).
pub const PING: u8 = 6;
/// Frame type GOAWAY (§6.8).
pub const GOAWAY: u8 = 7;
/// The END_HEADERS flag of HEADERS.
pub const END_HEADERS: u8 = 4;
/// The ACK flag of SETTINGS and PING.
pub const ACK: u8 = 1;
/// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3).
pub const ENABLE_CONNECT_PROTOCOL: u16 = 8;
/// Error code PROTOCOL_ERROR (§7).
pub const PROTOCOL_ERROR: u32 = 1;

/// One HTTP/2 frame as read off the wire.
#[derive(Debug)]
pub struct RawFrame {
    /// Frame type.
    pub kind: u8,
    /// Flags.
    pub flags: u8,
    /// Stream id (reserved bit cleared).
    pub stream: u32,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    kind: u8,
    flags: u8,
    stream: u32,
    payload: &[u8],
) {
    let len = u32::try_from(payload.len())
        .expect("small frame")
        .to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame).await.expect("write frame");
}

/// Reads one frame; `None` when the peer closed the connection.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Option<RawFrame> {
    let mut head = [0u8; 9];
    r.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await.ok()?;
    Some(RawFrame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    })
}

/// An HPACK header block of literal fields without indexing or Huffman
/// coding (names and values shorter than 127 bytes).
pub fn hpack_literals(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x00);
        block.push(u8::try_from(name.len()).expect("short name"));
        block.extend_from_slice(name.as_bytes());
        block.push(u8::try_from(value.len()).expect("short value"));
        block.extend_from_slice(value.as_bytes());
    }
    block
}

/// Reads frames until one on `stream` arrives, acknowledging the server's
/// SETTINGS and collecting their entries into `server_settings`. Fails the
/// test on GOAWAY or a closed connection.
pub async fn next_frame_on<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    stream: u32,
    server_settings: &mut Vec<(u16, u32)>,
) -> RawFrame {
    loop {
        let frame = read_frame(io)
            .await
            .expect("the proxy closed the connection");
        assert_ne!(frame.kind, GOAWAY, "the proxy closed the whole connection");
        if frame.kind == SETTINGS && frame.flags & ACK == 0 {
            for entry in frame.payload.chunks_exact(6) {
                server_settings.push((
                    u16::from_be_bytes([entry[0], entry[1]]),
                    u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]),
                ));
            }
            write_frame(io, SETTINGS, ACK, 0, &[]).await;
            continue;
        }
        if frame.stream == stream {
            return frame;
        }
    }
}
