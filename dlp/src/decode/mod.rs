//! Decoding bodies for scanning: content codings, media types, archives.
//!
//! [`BodyScanner`] is push-based like [`crate::Stream`]: feed raw body chunks
//! as they arrive (still content-encoded), receive findings as soon as they
//! are certain, and a [`BodyReport`] at the end. The pipeline is
//!
//! ```text
//! Content-Encoding (gzip | deflate | br | zstd, bomb limits)
//!   → media type (multipart/form-data parts | urlencoded | JSON | other)
//!     → per file part: SHA-256, magic-byte sniffing,
//!       ZIP / Office Open XML members (nested up to a depth)
//!       | PDF (raw, then the text of its streams as part `<part>#text`)
//!       | text
//!         → engine stream per part
//! ```
//!
//! Memory stays bounded: decoders write into the scanner in small pieces;
//! only ZIP archives (their directory is at the end) and PDFs (their
//! streams are inflated whole, one at a time) are buffered, each up to
//! [`Limits::max_archive_bytes`]. Exceeding a limit stops decoding and the
//! report says "undecodable: too large" ([`DecodeError::TooLarge`]); the
//! proxy decides what that means. Malformed input is reported as an error
//! value, never a panic.

mod archive;
mod coding;
mod json;
mod multipart;
mod part;
mod pdf;
mod sniff;
mod text;

pub use multipart::PartHeaders;
pub use sniff::{sniff, FileType, SNIFF_LEN};

use crate::error::DecodeError;
use crate::finding::Finding;
use crate::Engine;
use std::collections::HashSet;
use std::sync::Arc;

/// Decompression-bomb and resource limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most decoded bytes per body, summed over content decoding and archive
    /// members (default 256 MiB).
    pub max_decoded_bytes: u64,
    /// Most decoded bytes per encoded byte, enforced once 1 MiB has been
    /// decoded (default 200).
    pub max_ratio: u64,
    /// Largest ZIP archive buffered for member extraction, PDF buffered for
    /// text extraction, or PDF stream inflated (default 32 MiB).
    pub max_archive_bytes: usize,
    /// Deepest archive nesting opened (default 3; 0: archives and PDFs are
    /// not opened).
    pub max_depth: u32,
    /// Most multipart parts or archive members (default 1000).
    pub max_parts: usize,
    /// Largest multipart part header block (default 16 KiB).
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_decoded_bytes: 256 << 20,
            max_ratio: 200,
            max_archive_bytes: 32 << 20,
            max_depth: 3,
            max_parts: 1000,
            max_header_bytes: 16 << 10,
        }
    }
}

/// SHA-256 digests of files to block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocklist {
    digests: HashSet<[u8; 32]>,
}

impl Blocklist {
    /// An empty list.
    pub fn new() -> Blocklist {
        Blocklist::default()
    }

    /// Parses hex digests (64 hex digits each); returns the first bad entry
    /// as the error.
    pub fn from_hex<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Blocklist, String> {
        let mut list = Blocklist::default();
        for item in items {
            let digest = parse_hex(item.trim()).ok_or_else(|| item.to_string())?;
            list.digests.insert(digest);
        }
        Ok(list)
    }

    /// Adds a digest.
    pub fn insert(&mut self, digest: [u8; 32]) {
        self.digests.insert(digest);
    }

    /// `true` when `digest` is listed.
    pub fn contains(&self, digest: &[u8; 32]) -> bool {
        self.digests.contains(digest)
    }

    /// Number of digests.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// `true` when empty.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
}

fn parse_hex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the scanner learned about one file part (the whole body, a
/// multipart part, or an archive member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// Path of the part: multipart filename or field name, archive member
    /// path (`outer.zip/inner/file.txt`); `None` for a plain body.
    pub path: Option<Arc<str>>,
    /// Multipart headers, when the part came from a multipart body.
    pub headers: Option<PartHeaders>,
    /// Type sniffed from the bytes.
    pub file_type: FileType,
    /// Size in bytes (after content and transfer decoding).
    pub size: u64,
    /// SHA-256 of the bytes, computed when a blocklist is set or the part is
    /// a file (named, an archive member, or a non-text type); `None` for
    /// plain text bodies without a blocklist.
    pub sha256: Option<[u8; 32]>,
    /// The digest is on the blocklist.
    pub blocklisted: bool,
}

/// Metadata of a body, from its HTTP headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyMeta {
    /// `Content-Encoding` value (e.g. `gzip`), if any.
    pub content_encoding: Option<String>,
    /// `Content-Type` value (e.g. `multipart/form-data; boundary=x`), if any.
    pub content_type: Option<String>,
}

/// The outcome of scanning a body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyReport {
    /// Findings not yet returned by [`BodyScanner::feed`].
    pub findings: Vec<Finding>,
    /// Every file part, in the order they ended.
    pub parts: Vec<PartInfo>,
    /// Why (part of) the body could not be decoded, if it could not.
    pub error: Option<DecodeError>,
}

impl BodyReport {
    /// `true` when a bomb limit stopped decoding ("undecodable: too large").
    pub fn too_large(&self) -> bool {
        matches!(self.error, Some(DecodeError::TooLarge(_)))
    }

    /// `true` when some part's SHA-256 is on the blocklist.
    pub fn blocklisted(&self) -> bool {
        self.parts.iter().any(|p| p.blocklisted)
    }
}

/// Scans one HTTP body: decodes as bytes arrive and feeds the engine.
pub struct BodyScanner {
    layer: coding::Layer,
}

impl std::fmt::Debug for BodyScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyScanner").finish_non_exhaustive()
    }
}

impl BodyScanner {
    /// A scanner for a body with `meta`. An unsupported Content-Encoding is
    /// not an error here: the scanner reports it as the body's error and
    /// scans nothing (the bytes cannot be read).
    pub fn new(
        engine: &Engine,
        meta: &BodyMeta,
        limits: Limits,
        blocklist: Arc<Blocklist>,
    ) -> BodyScanner {
        let content = part::Content::new(
            engine.clone(),
            meta.content_type.as_deref(),
            limits,
            blocklist,
        );
        BodyScanner {
            layer: coding::Layer::new(meta.content_encoding.as_deref(), content),
        }
    }

    /// Feeds the next raw (still content-encoded) chunk; returns findings
    /// confirmed so far.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Finding> {
        self.layer.feed(chunk)
    }

    /// Ends the body.
    pub fn finish(self) -> BodyReport {
        self.layer.finish()
    }

    /// `true` once decoding has stopped (limit exceeded or corrupt input);
    /// further chunks are only counted.
    pub fn stopped(&self) -> bool {
        self.layer.stopped()
    }
}

/// Scans a complete body at once.
pub fn scan_body(
    engine: &Engine,
    meta: &BodyMeta,
    body: &[u8],
    limits: Limits,
    blocklist: Arc<Blocklist>,
) -> BodyReport {
    let mut s = BodyScanner::new(engine, meta, limits, blocklist);
    let mut findings = s.feed(body);
    let mut report = s.finish();
    findings.append(&mut report.findings);
    report.findings = findings;
    report
}
