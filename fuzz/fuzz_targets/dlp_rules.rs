//! Arbitrary rule-file text through the parser and compiler: never panics.
#![no_main]

use dlp::{Engine, RulePack};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pack) = RulePack::parse(text, "fuzz.yaml") {
        if let Ok(engine) = Engine::compile(&pack) {
            let _ = engine.scan(text.as_bytes());
            let _ = engine.check_examples(&pack);
        }
    }
});
