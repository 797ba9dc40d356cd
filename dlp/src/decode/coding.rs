//! Content-Encoding decoders with bomb limits. Each decoder writes into
//! [`Content`] (an `io::Write`), which enforces the output and ratio limits
//! by refusing writes, so a bomb never expands further than one write.

use super::part::Content;
use super::BodyReport;
use crate::error::DecodeError;
use crate::finding::Finding;
use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};
use std::io::Write;

/// Largest compressed slice handed to a decoder at once.
const SLICE: usize = 16 << 10;
/// zstd window limit for the content coding (RFC 9659: 8 MiB).
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

enum Decoder {
    Identity,
    Gzip(GzDecoder<Content>),
    Zlib(ZlibDecoder<Content>),
    Raw(DeflateDecoder<Content>),
    /// `deflate` before the first two bytes tell zlib from raw deflate.
    Deflate(Vec<u8>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Content>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Content>>),
}

/// The content-coding layer in front of [`Content`].
pub(crate) struct Layer {
    decoder: Decoder,
    /// Present while the decoder does not own it.
    content: Option<Content>,
    failed: bool,
}

fn zlib_header(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] & 0x0f == 8 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0
}

impl Layer {
    pub fn new(coding: Option<&str>, mut content: Content) -> Layer {
        let coding = coding
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let (decoder, content) = match coding.as_str() {
            "" | "identity" => (Decoder::Identity, Some(content)),
            "gzip" | "x-gzip" => (Decoder::Gzip(GzDecoder::new(content)), None),
            "deflate" => (Decoder::Deflate(Vec::new()), Some(content)),
            "br" => (
                Decoder::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                    content, 4096,
                ))),
                None,
            ),
            "zstd" => match zstd_decoder(content) {
                Ok(d) => (Decoder::Zstd(Box::new(d)), None),
                Err(c) => {
                    let mut c = *c;
                    c.fail(DecodeError::Corrupt {
                        coding: "zstd",
                        message: "decoder initialisation failed".into(),
                    });
                    return Layer {
                        decoder: Decoder::Identity,
                        content: Some(c),
                        failed: true,
                    };
                }
            },
            other => {
                content.fail(DecodeError::UnsupportedCoding(other.to_string()));
                return Layer {
                    decoder: Decoder::Identity,
                    content: Some(content),
                    failed: true,
                };
            }
        };
        Layer {
            decoder,
            content,
            failed: false,
        }
    }

    fn content(&mut self) -> Option<&mut Content> {
        match &mut self.decoder {
            Decoder::Identity | Decoder::Deflate(_) => self.content.as_mut(),
            Decoder::Gzip(d) => Some(d.get_mut()),
            Decoder::Zlib(d) => Some(d.get_mut()),
            Decoder::Raw(d) => Some(d.get_mut()),
            Decoder::Brotli(d) => Some(d.get_mut()),
            Decoder::Zstd(d) => Some(d.get_mut()),
        }
    }

    pub fn stopped(&self) -> bool {
        self.failed
    }

    fn coding_name(&self) -> &'static str {
        match self.decoder {
            Decoder::Identity => "identity",
            Decoder::Gzip(_) => "gzip",
            Decoder::Zlib(_) | Decoder::Raw(_) | Decoder::Deflate(_) => "deflate",
            Decoder::Brotli(_) => "br",
            Decoder::Zstd(_) => "zstd",
        }
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match &mut self.decoder {
            Decoder::Identity => match self.content.as_mut() {
                Some(c) => c.write_all(data),
                None => Ok(()),
            },
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Zlib(d) => d.write_all(data),
            Decoder::Raw(d) => d.write_all(data),
            Decoder::Brotli(d) => d.write_all(data),
            Decoder::Zstd(d) => d.write_all(data),
            Decoder::Deflate(head) => {
                head.extend_from_slice(data);
                if head.len() < 2 {
                    return Ok(());
                }
                let head = std::mem::take(head);
                let Some(content) = self.content.take() else {
                    return Ok(());
                };
                self.decoder = if zlib_header(&head) {
                    Decoder::Zlib(ZlibDecoder::new(content))
                } else {
                    Decoder::Raw(DeflateDecoder::new(content))
                };
                self.write(&head)
            }
        }
    }

    fn on_error(&mut self, e: std::io::Error) {
        self.failed = true;
        let coding = self.coding_name();
        if let Some(c) = self.content() {
            if c.error().is_none() {
                c.fail(DecodeError::Corrupt {
                    coding,
                    message: e.to_string(),
                });
            }
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Finding> {
        if !self.failed {
            for slice in chunk.chunks(SLICE) {
                if let Some(c) = self.content() {
                    c.count_encoded(slice.len());
                }
                if let Err(e) = self.write(slice) {
                    self.on_error(e);
                    break;
                }
            }
        }
        self.content()
            .map(Content::take_findings)
            .unwrap_or_default()
    }

    pub fn finish(mut self) -> BodyReport {
        if !self.failed {
            let r = match &mut self.decoder {
                Decoder::Identity => Ok(()),
                Decoder::Gzip(d) => d.try_finish(),
                Decoder::Zlib(d) => d.try_finish(),
                Decoder::Raw(d) => d.try_finish(),
                Decoder::Brotli(d) => d
                    .close()
                    .map_err(|e| std::io::Error::other(format!("{e:?}"))),
                Decoder::Zstd(d) => d.flush(),
                Decoder::Deflate(head) => {
                    if head.is_empty() {
                        Ok(())
                    } else {
                        Err(std::io::Error::other("truncated deflate stream"))
                    }
                }
            };
            if let Err(e) = r {
                self.on_error(e);
            }
        }
        match self.content() {
            Some(c) => c.finish(),
            None => BodyReport::default(),
        }
    }
}

fn zstd_decoder(
    content: Content,
) -> Result<zstd::stream::write::Decoder<'static, Content>, Box<Content>> {
    let mut raw = match zstd::stream::raw::Decoder::new() {
        Ok(r) => r,
        Err(_) => return Err(Box::new(content)),
    };
    if raw
        .set_parameter(zstd::stream::raw::DParameter::WindowLogMax(
            ZSTD_WINDOW_LOG_MAX,
        ))
        .is_err()
    {
        return Err(Box::new(content));
    }
    Ok(zstd::stream::write::Decoder::with_decoder(content, raw))
}
