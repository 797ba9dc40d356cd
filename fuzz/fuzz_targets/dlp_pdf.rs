//! Arbitrary PDFs (streams, dictionaries, strings, deflate data): never
//! panics, memory stays bounded by the limits.
#![no_main]

use std::sync::{Arc, OnceLock};

use dlp::decode::{Blocklist, BodyMeta, BodyScanner, Limits};
use dlp::{Engine, RulePack};
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::compile(&RulePack::builtin().expect("built-in pack")).expect("compiles"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let meta = BodyMeta {
        content_encoding: None,
        content_type: Some("application/pdf".to_string()),
    };
    let limits = Limits {
        max_decoded_bytes: 4 << 20,
        max_archive_bytes: 1 << 20,
        ..Limits::default()
    };
    let mut s = BodyScanner::new(engine(), &meta, limits, Arc::new(Blocklist::new()));
    // The magic routes the body to the PDF reader; the rest is the input.
    let _ = s.feed(b"%PDF-1.7\n");
    for chunk in body.chunks(usize::from(selector >> 2).max(1)) {
        let _ = s.feed(chunk);
    }
    let _ = s.finish();
});
