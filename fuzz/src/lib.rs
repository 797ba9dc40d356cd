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
