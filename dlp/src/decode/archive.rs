//! ZIP archives and Office Open XML documents: members are extracted (with
//! size, ratio and nesting limits) and scanned as parts of their own.

use super::part::{Ctx, PartScanner, TextKind};
use crate::error::DecodeError;
use std::io::{Cursor, Read};
use std::sync::Arc;

/// Member names of a buffered archive (empty when it does not parse).
pub(crate) fn names(buf: &[u8]) -> Vec<String> {
    match zip::ZipArchive::new(Cursor::new(buf)) {
        Ok(z) => z.file_names().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    }
}

fn member_kind(name: &str) -> TextKind {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".xml") || lower.ends_with(".rels") {
        TextKind::Xml
    } else if lower.ends_with(".json") {
        TextKind::Json
    } else {
        TextKind::Plain
    }
}

/// Scans every member of the archive in `buf`.
pub(crate) fn scan(buf: &[u8], parent: Option<&str>, depth: u32, ctx: &mut Ctx) {
    let mut zip = match zip::ZipArchive::new(Cursor::new(buf)) {
        Ok(z) => z,
        Err(e) => {
            return ctx.fail(DecodeError::Malformed {
                format: "zip",
                message: e.to_string(),
            })
        }
    };
    if zip.len() > ctx.limits.max_parts {
        return ctx.fail(DecodeError::TooLarge("too many archive members"));
    }
    let mut chunk = vec![0u8; 64 << 10];
    for i in 0..zip.len() {
        let mut file = match zip.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                ctx.fail(DecodeError::Malformed {
                    format: "zip",
                    message: e.to_string(),
                });
                continue;
            }
        };
        if !file.is_file() {
            continue;
        }
        let name = file.name().to_string();
        let path: Arc<str> = match parent {
            Some(p) => Arc::from(format!("{p}/{name}")),
            None => Arc::from(name.as_str()),
        };
        let compressed = file.compressed_size().max(1);
        let mut part = PartScanner::new(ctx, Some(path), None, member_kind(&name), depth + 1);
        let mut produced: u64 = 0;
        loop {
            let n = match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    ctx.fail(DecodeError::Malformed {
                        format: "zip",
                        message: format!("{name}: {e}"),
                    });
                    break;
                }
            };
            produced += n as u64;
            ctx.archive_bytes += n as u64;
            if ctx.archive_bytes > ctx.limits.max_decoded_bytes
                || (produced > 1 << 20
                    && produced > compressed.saturating_mul(ctx.limits.max_ratio))
            {
                ctx.fail(DecodeError::TooLarge(
                    "archive member expands beyond the limits",
                ));
                part.finish(ctx);
                return;
            }
            part.push(&chunk[..n], ctx);
        }
        part.finish(ctx);
    }
}
