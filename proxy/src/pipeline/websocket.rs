//! WebSocket frames (RFC 6455) as the DLP stage sees them: client frames are
//! unmasked (§5.3), fragments reassembled into messages, permessage-deflate
//! (RFC 7692) inflated, so a secret split across masked, fragmented,
//! compressed frames is scanned as one message. The raw frames of a data
//! message are held until the message has been scanned, then forwarded
//! unchanged; control frames pass at once.

use bytes::{Buf, Bytes, BytesMut};
use flate2::{Decompress, FlushDecompress, Status};

/// What the parser produced from the bytes pushed so far.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEvent {
    /// Raw bytes to forward now (control frames).
    Forward(Bytes),
    /// A complete data message: its decoded payload, and its raw frames to
    /// forward if the scan allows.
    Message {
        /// Unmasked, reassembled, inflated payload.
        payload: Vec<u8>,
        /// The message's frames exactly as received.
        raw: Bytes,
    },
}

/// Why the stream cannot be relayed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WsError {
    /// A message or frame over the limit.
    #[error("WebSocket message larger than {0} bytes")]
    TooLarge(usize),
    /// Not valid framing or compression.
    #[error("malformed WebSocket stream: {0}")]
    Malformed(&'static str),
}

/// One direction of a WebSocket connection.
pub struct WsParser {
    buf: BytesMut,
    held: BytesMut,
    message: Vec<u8>,
    in_message: bool,
    compressed: bool,
    inflater: Option<Decompress>,
    reset_context: bool,
    max_message: usize,
}

impl WsParser {
    /// A parser; `deflate` when permessage-deflate was negotiated, with
    /// `no_context_takeover` when this direction resets its window per message.
    pub fn new(deflate: bool, no_context_takeover: bool, max_message: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            held: BytesMut::new(),
            message: Vec::new(),
            in_message: false,
            compressed: false,
            inflater: deflate.then(|| Decompress::new(false)),
            reset_context: no_context_takeover,
            max_message,
        }
    }

    /// Bytes buffered (bounded by the message limit plus one frame header).
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.held.len() + self.message.len()
    }

    /// Pushes received bytes; returns the events completed by them.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<WsEvent>, WsError> {
        self.buf.extend_from_slice(data);
        let mut events = Vec::new();
        while let Some((header_len, payload_len)) = self.frame_len()? {
            let total = header_len + payload_len;
            if self.buf.len() < total {
                break;
            }
            let raw = self.buf.split_to(total).freeze();
            self.frame(raw, header_len, &mut events)?;
        }
        Ok(events)
    }

    fn frame_len(&self) -> Result<Option<(usize, usize)>, WsError> {
        let b = &self.buf[..];
        if b.len() < 2 {
            return Ok(None);
        }
        let masked = b[1] & 0x80 != 0;
        let (len, mut header) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as u64, 4),
            127 if b.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(n), 10)
            }
            126 | 127 => return Ok(None),
            n => (n as u64, 2),
        };
        if masked {
            header += 4;
        }
        if len > self.max_message as u64 {
            return Err(WsError::TooLarge(self.max_message));
        }
        Ok(Some((header, len as usize)))
    }

    fn frame(
        &mut self,
        raw: Bytes,
        header_len: usize,
        events: &mut Vec<WsEvent>,
    ) -> Result<(), WsError> {
        let fin = raw[0] & 0x80 != 0;
        let rsv1 = raw[0] & 0x40 != 0;
        let opcode = raw[0] & 0x0f;
        let masked = raw[1] & 0x80 != 0;
        let mut payload = raw[header_len..].to_vec();
        if masked {
            let key = &raw[header_len - 4..header_len];
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        match opcode {
            0x8..=0xf => {
                if !fin || payload.len() > 125 {
                    return Err(WsError::Malformed("fragmented or oversized control frame"));
                }
                events.push(WsEvent::Forward(raw));
            }
            0x0..=0x2 => {
                if opcode == 0 && !self.in_message {
                    return Err(WsError::Malformed("continuation without a message"));
                }
                if opcode != 0 {
                    if self.in_message {
                        return Err(WsError::Malformed("new message inside a fragmented one"));
                    }
                    self.in_message = true;
                    self.compressed = rsv1;
                    if rsv1 && self.inflater.is_none() {
                        return Err(WsError::Malformed(
                            "compressed frame without permessage-deflate",
                        ));
                    }
                }
                if self.message.len() + payload.len() > self.max_message {
                    return Err(WsError::TooLarge(self.max_message));
                }
                self.message.extend_from_slice(&payload);
                self.held.extend_from_slice(&raw);
                if fin {
                    let payload = std::mem::take(&mut self.message);
                    let payload = if self.compressed {
                        self.inflate(&payload)?
                    } else {
                        payload
                    };
                    self.in_message = false;
                    events.push(WsEvent::Message {
                        payload,
                        raw: self.held.split().freeze(),
                    });
                }
            }
            _ => return Err(WsError::Malformed("reserved opcode")),
        }
        Ok(())
    }

    fn inflate(&mut self, compressed: &[u8]) -> Result<Vec<u8>, WsError> {
        let max = self.max_message;
        let reset = self.reset_context;
        let inflater = self.inflater.as_mut().ok_or(WsError::Malformed(
            "compressed frame without permessage-deflate",
        ))?;
        if reset {
            inflater.reset(false);
        }
        // RFC 7692 §7.2.2: append the empty stored block the sender removed.
        let mut input = Vec::with_capacity(compressed.len() + 4);
        input.extend_from_slice(compressed);
        input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        let mut input = &input[..];
        let mut out = Vec::with_capacity(compressed.len() * 4);
        loop {
            let before_in = inflater.total_in();
            out.reserve(16 * 1024);
            let status = inflater
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .map_err(|_| WsError::Malformed("bad permessage-deflate data"))?;
            let consumed = (inflater.total_in() - before_in) as usize;
            input.advance(consumed);
            if out.len() > max {
                return Err(WsError::TooLarge(max));
            }
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
            if status == Status::StreamEnd || (consumed == 0 && out.len() < out.capacity()) {
                return Ok(out);
            }
        }
    }
}

/// The permessage-deflate parameters a `Sec-WebSocket-Extensions` response
/// value negotiated: (enabled, client_no_context_takeover, server_no_context_takeover).
pub fn negotiated_deflate(extensions: Option<&str>) -> (bool, bool, bool) {
    let Some(value) = extensions else {
        return (false, false, false);
    };
    for ext in value.split(',') {
        let mut params = ext.split(';').map(str::trim);
        if params.next() == Some("permessage-deflate") {
            let params: Vec<&str> = params.collect();
            let has = |p: &str| {
                params
                    .iter()
                    .any(|x| x.split('=').next().map(str::trim) == Some(p))
            };
            return (
                true,
                has("client_no_context_takeover"),
                has("server_no_context_takeover"),
            );
        }
    }
    (false, false, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(m | n as u8),
            n if n < 65536 => {
                out.push(m | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(m | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(k) => {
                out.extend_from_slice(&k);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => out.extend_from_slice(payload),
        }
        out
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut c = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(data.len() + 64);
        c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        out
    }

    #[test]
    fn a_secret_split_across_masked_fragmented_compressed_frames_is_reassembled() {
        let secret = b"aws_secret_access_key = sf2rcDkdfrUnW5gcF/Ha6ili8GjHEAD6+Wj9Kfzj";
        let compressed = deflate(secret);
        let (a, b) = compressed.split_at(compressed.len() / 2);
        let mut wire = frame(false, true, 0x1, a, Some([1, 2, 3, 4]));
        wire.extend(frame(true, false, 0x9, b"ping", Some([9, 9, 9, 9])));
        wire.extend(frame(true, false, 0x0, b, Some([5, 6, 7, 8])));
        let mut p = WsParser::new(true, false, 1 << 20);
        let mut events = Vec::new();
        for byte in &wire {
            events.extend(p.push(std::slice::from_ref(byte)).unwrap());
        }
        assert_eq!(events.len(), 2);
        assert!(
            matches!(&events[0], WsEvent::Forward(_)),
            "ping passes at once"
        );
        match &events[1] {
            WsEvent::Message { payload, raw } => {
                assert_eq!(payload, secret);
                assert_eq!(raw.len() + 10, wire.len(), "raw frames kept for forwarding");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.buffered(), 0);
    }

    #[test]
    fn context_takeover_spans_messages_and_limits_hold() {
        let mut c = Compress::new(Compression::default(), false);
        let mut p = WsParser::new(true, false, 1 << 20);
        for text in [b"hello hello hello".as_slice(), b"hello hello hello again"] {
            let mut out = Vec::with_capacity(128);
            c.compress_vec(text, &mut out, FlushCompress::Sync).unwrap();
            out.truncate(out.len() - 4);
            let events = p.push(&frame(true, true, 0x1, &out, None)).unwrap();
            assert!(matches!(&events[0], WsEvent::Message { payload, .. } if payload == text));
        }
        let mut small = WsParser::new(false, false, 10);
        assert_eq!(
            small.push(&frame(true, false, 0x2, &[0; 11], None)),
            Err(WsError::TooLarge(10))
        );
        let mut bad = WsParser::new(false, false, 100);
        assert!(bad.push(&frame(true, true, 0x1, b"x", None)).is_err());
    }

    #[test]
    fn extension_negotiation() {
        assert_eq!(negotiated_deflate(None), (false, false, false));
        assert_eq!(
            negotiated_deflate(Some(
                "permessage-deflate; client_no_context_takeover; server_max_window_bits=10"
            )),
            (true, true, false)
        );
    }
}
