//! What the body-decoder fuzz targets share: the compiled built-in pack and
//! a scanner with small limits fed in the chunk size the input chooses.

use std::sync::{Arc, OnceLock};

use dlp::decode::{Blocklist, BodyMeta, BodyScanner, Limits};
use dlp::{Engine, RulePack};

/// The built-in pack, compiled once per process.
pub fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        Engine::compile(&RulePack::builtin().expect("built-in pack")).expect("compiles")
    })
}

/// The decoder targets' input: its first byte selects, its rest is the
/// body. The selector's two low bits pick one of `variants` (a content type
/// or a content coding, which `meta` turns into headers), its six high bits
/// the chunk size; `prefix` (a format's magic) is fed first.
pub fn fuzz_decoder(
    data: &[u8],
    variants: &[&str],
    meta: impl FnOnce(&str) -> BodyMeta,
    prefix: &[u8],
) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let variant = variants[usize::from(selector & 3) % variants.len()];
    scan_body(&meta(variant), prefix, body, usize::from(selector >> 2));
}

/// Headers declaring `content_type` and no content coding.
pub fn typed(content_type: &str) -> BodyMeta {
    BodyMeta {
        content_encoding: None,
        content_type: Some(content_type.to_string()),
    }
}

/// Scans `prefix` and then `body` (in chunks of `chunk` bytes) as a body
/// with these headers, under limits small enough for a fuzzer: it must not
/// panic, and memory stays bounded by the limits.
pub fn scan_body(meta: &BodyMeta, prefix: &[u8], body: &[u8], chunk: usize) {
    let limits = Limits {
        max_decoded_bytes: 4 << 20,
        max_archive_bytes: 1 << 20,
        ..Limits::default()
    };
    let mut s = BodyScanner::new(engine(), meta, limits, Arc::new(Blocklist::new()));
    let _ = s.feed(prefix);
    for piece in body.chunks(chunk.max(1)) {
        let _ = s.feed(piece);
    }
    let _ = s.finish();
}
