//! The media-type stage ([`Content`]) and per-file-part scanning
//! ([`PartScanner`]): hashing, sniffing, archive buffering, text extraction,
//! and the engine stream.

use super::json::JsonText;
use super::multipart::{self, Event, Multipart, PartHeaders};
use super::sniff::{sniff, FileType, SNIFF_LEN};
use super::text::{Base64, Extract, UrlEncoded, XmlText};
use super::{archive, Blocklist, BodyReport, Limits, PartInfo};
use crate::error::DecodeError;
use crate::finding::Finding;
use crate::{Engine, Stream};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Arc;

/// How a part's bytes become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextKind {
    Plain,
    Json,
    UrlEncoded,
    Xml,
}

impl TextKind {
    pub fn from_media_type(ct: Option<&str>) -> TextKind {
        let Some(ct) = ct else { return TextKind::Plain };
        let mt = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mt == "application/json" || mt.ends_with("+json") {
            TextKind::Json
        } else if mt == "application/x-www-form-urlencoded" {
            TextKind::UrlEncoded
        } else {
            TextKind::Plain
        }
    }

    fn extractor(self) -> Option<Box<dyn Extract>> {
        match self {
            TextKind::Plain => None,
            TextKind::Json => Some(Box::new(JsonText::default())),
            TextKind::UrlEncoded => Some(Box::new(UrlEncoded::default())),
            TextKind::Xml => Some(Box::new(XmlText::default())),
        }
    }
}

/// Shared state of one body's scan.
pub(crate) struct Ctx {
    pub engine: Engine,
    pub limits: Limits,
    pub blocklist: Arc<Blocklist>,
    pub findings: Vec<Finding>,
    pub parts: Vec<PartInfo>,
    pub error: Option<DecodeError>,
    /// Bytes produced by archive members.
    pub archive_bytes: u64,
}

impl Ctx {
    pub fn fail(&mut self, e: DecodeError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
}

enum Route {
    /// Waiting for enough bytes to sniff.
    Pending,
    /// Scanning text through an optional extractor.
    Text(Option<Box<dyn Extract>>),
    /// Buffering a ZIP archive.
    Archive(Vec<u8>),
    /// Scanning a PDF raw while buffering it for text extraction.
    Pdf(Vec<u8>),
    /// The archive outgrew its buffer: only hashed.
    Skipped,
}

/// One file part being scanned.
pub(crate) struct PartScanner {
    path: Option<Arc<str>>,
    headers: Option<PartHeaders>,
    kind: TextKind,
    transfer: Option<Base64>,
    depth: u32,
    /// `None` until the part is known to need a digest (see `decide`).
    hasher: Option<Sha256>,
    size: u64,
    head: Vec<u8>,
    file_type: FileType,
    route: Route,
    stream: Stream,
    scratch: Vec<u8>,
}

impl PartScanner {
    pub fn new(
        ctx: &Ctx,
        path: Option<Arc<str>>,
        headers: Option<PartHeaders>,
        kind: TextKind,
        depth: u32,
    ) -> PartScanner {
        let transfer = headers
            .as_ref()
            .and_then(|h| h.transfer_encoding.as_deref())
            .filter(|t| *t == "base64")
            .map(|_| Base64::default());
        PartScanner {
            path,
            headers,
            kind,
            transfer,
            depth,
            hasher: None,
            size: 0,
            head: Vec::new(),
            file_type: FileType::Unknown,
            route: Route::Pending,
            stream: ctx.engine.stream(),
            scratch: Vec::new(),
        }
    }

    fn label(&self, mut found: Vec<Finding>, ctx: &mut Ctx) {
        for f in &mut found {
            f.part = self.path.clone();
        }
        ctx.findings.append(&mut found);
    }

    /// Feeds part bytes (as transmitted: transfer decoding happens here).
    pub fn push(&mut self, data: &[u8], ctx: &mut Ctx) {
        if let Some(t) = &mut self.transfer {
            let mut decoded = Vec::with_capacity(data.len() / 4 * 3 + 3);
            if let Err(e) = t.push(data, &mut decoded) {
                ctx.fail(e);
                self.transfer = None;
                return self.bytes(data, ctx);
            }
            return self.bytes(&decoded, ctx);
        }
        self.bytes(data, ctx)
    }

    fn bytes(&mut self, data: &[u8], ctx: &mut Ctx) {
        if data.is_empty() {
            return;
        }
        self.size += data.len() as u64;
        if let Route::Pending = self.route {
            let need = SNIFF_LEN - self.head.len();
            let take = need.min(data.len());
            self.head.extend_from_slice(&data[..take]);
            if self.head.len() < SNIFF_LEN {
                return;
            }
            self.decide(ctx);
            let head = std::mem::take(&mut self.head);
            self.route_bytes(&head, ctx);
            let rest = &data[take..];
            self.hash(rest);
            return self.route_bytes(rest, ctx);
        }
        self.hash(data);
        self.route_bytes(data, ctx)
    }

    fn hash(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.hasher {
            h.update(data);
        }
    }

    /// Sniffs the buffered head and routes the part. A digest is computed
    /// when something can use it: a blocklist is set (it may name any
    /// content), or the part is a file — a named part, an archive member or
    /// a sniffed non-text type — whose hash incident records carry for
    /// forensics. Hashing every JSON API body would cost more than scanning it.
    fn decide(&mut self, ctx: &Ctx) {
        self.file_type = sniff(&self.head);
        let is_file =
            self.path.is_some() || !matches!(self.file_type, FileType::Text | FileType::Unknown);
        if !ctx.blocklist.is_empty() || is_file {
            let mut hasher = Sha256::new();
            hasher.update(&self.head);
            self.hasher = Some(hasher);
        }
        let open = self.depth < ctx.limits.max_depth;
        self.route = match self.file_type {
            FileType::Zip if open => Route::Archive(Vec::new()),
            FileType::Pdf if open => Route::Pdf(Vec::new()),
            _ => Route::Text(self.kind.extractor()),
        };
    }

    fn route_bytes(&mut self, data: &[u8], ctx: &mut Ctx) {
        if data.is_empty() {
            return;
        }
        match &mut self.route {
            Route::Pending | Route::Skipped => {}
            Route::Archive(buf) => {
                if buf.len() + data.len() > ctx.limits.max_archive_bytes {
                    buf.clear();
                    buf.shrink_to_fit();
                    self.route = Route::Skipped;
                    ctx.fail(DecodeError::TooLarge(
                        "archive larger than the buffering limit",
                    ));
                } else {
                    buf.extend_from_slice(data);
                }
            }
            Route::Pdf(buf) => {
                if buf.len() + data.len() > ctx.limits.max_archive_bytes {
                    // Too large to extract text from: scan it raw only.
                    self.route = Route::Text(None);
                    ctx.fail(DecodeError::TooLarge(
                        "PDF larger than the buffering limit: text not extracted",
                    ));
                } else {
                    buf.extend_from_slice(data);
                }
                let found = self.stream.feed(data);
                self.label(found, ctx);
            }
            Route::Text(None) => {
                let found = self.stream.feed(data);
                self.label(found, ctx);
            }
            Route::Text(Some(x)) => {
                self.scratch.clear();
                if let Err(e) = x.push(data, &mut self.scratch) {
                    // Keep scanning the rest of the part as raw bytes.
                    ctx.fail(e);
                    self.route = Route::Text(None);
                    let mut scratch = std::mem::take(&mut self.scratch);
                    scratch.extend_from_slice(data);
                    let found = self.stream.feed(&scratch);
                    self.scratch = scratch;
                    return self.label(found, ctx);
                }
                let found = self.stream.feed(&self.scratch);
                self.label(found, ctx);
            }
        }
    }

    /// Ends the part and records its [`PartInfo`].
    pub fn finish(mut self, ctx: &mut Ctx) {
        if let Some(mut t) = self.transfer.take() {
            let mut rest = Vec::new();
            if let Err(e) = t.end(&mut rest) {
                ctx.fail(e);
            }
            self.bytes(&rest, ctx);
        }
        if let Route::Pending = self.route {
            self.decide(ctx);
            let head = std::mem::take(&mut self.head);
            self.route_bytes(&head, ctx);
        }
        let route = std::mem::replace(&mut self.route, Route::Skipped);
        let digest: Option<[u8; 32]> = self.hasher.take().map(|h| h.finalize().into());
        let mut info = PartInfo {
            path: self.path.clone(),
            headers: self.headers.take(),
            file_type: self.file_type,
            size: self.size,
            sha256: digest,
            blocklisted: digest.is_some_and(|d| ctx.blocklist.contains(&d)),
        };
        match route {
            Route::Text(x) => {
                if let Some(mut x) = x {
                    self.scratch.clear();
                    if let Err(e) = x.end(&mut self.scratch) {
                        ctx.fail(e);
                    }
                    let found = self.stream.feed(&self.scratch);
                    self.label(found, ctx);
                }
                ctx.parts.push(info);
            }
            Route::Archive(buf) => {
                let members = archive::names(&buf);
                info.file_type = super::sniff::zip_kind(members.iter().map(String::as_str));
                ctx.parts.push(info);
                archive::scan(&buf, self.path.as_deref(), self.depth, ctx);
            }
            Route::Pdf(buf) => {
                ctx.parts.push(info);
                super::pdf::scan(&buf, self.path.as_deref(), self.depth, ctx);
            }
            Route::Pending | Route::Skipped => ctx.parts.push(info),
        }
        let stream = std::mem::replace(&mut self.stream, ctx.engine.stream());
        let found = stream.finish();
        self.label(found, ctx);
    }
}

enum Body {
    Single(PartScanner),
    Multipart(Multipart, Option<PartScanner>),
    /// Multipart that broke: the rest is scanned raw.
    Fallback(PartScanner),
    Done,
}

/// The media-type stage: an `io::Write` that content decoders write into.
pub(crate) struct Content {
    ctx: Ctx,
    body: Body,
    encoded: u64,
    decoded: u64,
}

impl Content {
    pub fn new(
        engine: Engine,
        content_type: Option<&str>,
        limits: Limits,
        blocklist: Arc<Blocklist>,
    ) -> Content {
        let ctx = Ctx {
            engine,
            limits,
            blocklist,
            findings: Vec::new(),
            parts: Vec::new(),
            error: None,
            archive_bytes: 0,
        };
        let is_multipart = content_type
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mt| mt.trim().to_ascii_lowercase().starts_with("multipart/"));
        let body = match content_type
            .and_then(multipart::boundary)
            .filter(|_| is_multipart)
        {
            Some(b) => Body::Multipart(
                Multipart::new(&b, ctx.limits.max_parts, ctx.limits.max_header_bytes),
                None,
            ),
            None => Body::Single(PartScanner::new(
                &ctx,
                None,
                None,
                TextKind::from_media_type(content_type),
                0,
            )),
        };
        Content {
            ctx,
            body,
            encoded: 0,
            decoded: 0,
        }
    }

    pub fn fail(&mut self, e: DecodeError) {
        self.ctx.fail(e);
    }

    pub fn error(&self) -> Option<&DecodeError> {
        self.ctx.error.as_ref()
    }

    pub fn count_encoded(&mut self, n: usize) {
        self.encoded += n as u64;
    }

    pub fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.ctx.findings)
    }

    fn push(&mut self, data: &[u8]) {
        let ctx = &mut self.ctx;
        match &mut self.body {
            Body::Single(p) | Body::Fallback(p) => p.push(data, ctx),
            Body::Multipart(m, current) => {
                let mut handler = |e: Event<'_>| -> Result<(), DecodeError> {
                    match e {
                        Event::Start(h) => {
                            if let Some(p) = current.take() {
                                p.finish(ctx);
                            }
                            let label =
                                h.filename.clone().or_else(|| h.name.clone()).map(Arc::from);
                            let kind = TextKind::from_media_type(h.content_type.as_deref());
                            *current = Some(PartScanner::new(ctx, label, Some(h), kind, 0));
                        }
                        Event::Data(d) => {
                            if let Some(p) = current.as_mut() {
                                p.push(d, ctx);
                            }
                        }
                        Event::End => {
                            if let Some(p) = current.take() {
                                p.finish(ctx);
                            }
                        }
                    }
                    Ok(())
                };
                if let Err(e) = m.push(data, &mut handler) {
                    ctx.fail(e);
                    if let Some(p) = current.take() {
                        p.finish(ctx);
                    }
                    let label: Arc<str> = Arc::from("(malformed multipart)");
                    let rest = m.take_rest();
                    let mut fallback = PartScanner::new(ctx, Some(label), None, TextKind::Plain, 0);
                    fallback.push(&rest, ctx);
                    self.body = Body::Fallback(fallback);
                }
            }
            Body::Done => {}
        }
    }

    pub fn finish(&mut self) -> BodyReport {
        let body = std::mem::replace(&mut self.body, Body::Done);
        let ctx = &mut self.ctx;
        match body {
            Body::Single(p) | Body::Fallback(p) => p.finish(ctx),
            Body::Multipart(mut m, mut current) => {
                let mut handler = |e: Event<'_>| -> Result<(), DecodeError> {
                    match e {
                        Event::Data(d) => {
                            if let Some(p) = current.as_mut() {
                                p.push(d, ctx);
                            }
                        }
                        Event::End => {
                            if let Some(p) = current.take() {
                                p.finish(ctx);
                            }
                        }
                        Event::Start(_) => {}
                    }
                    Ok(())
                };
                let r = m.end(&mut handler);
                if let Some(p) = current.take() {
                    p.finish(ctx);
                }
                if let Err(e) = r {
                    ctx.fail(e);
                }
            }
            Body::Done => {}
        }
        BodyReport {
            findings: std::mem::take(&mut ctx.findings),
            parts: std::mem::take(&mut ctx.parts),
            error: ctx.error.take(),
        }
    }
}

impl Write for Content {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.decoded += buf.len() as u64;
        let limits = &self.ctx.limits;
        let too_large = if self.decoded > limits.max_decoded_bytes {
            Some("decoded size limit")
        } else if self.decoded > 1 << 20
            && self.decoded > self.encoded.saturating_mul(limits.max_ratio)
        {
            Some("compression ratio limit")
        } else {
            None
        };
        if let Some(what) = too_large {
            self.ctx.fail(DecodeError::TooLarge(what));
            return Err(std::io::Error::other("dlp: decoding limit exceeded"));
        }
        self.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
