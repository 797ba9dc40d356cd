//! Arbitrary JSON, urlencoded and text bodies: never panics, memory stays bounded by the limits.
#![no_main]

use dlp::decode::BodyMeta;
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::scan_body;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let meta = BodyMeta {
        content_encoding: None,
        content_type: Some(
            [
                "application/json",
                "application/x-www-form-urlencoded",
                "application/ld+json",
                "text/plain",
            ][usize::from(selector & 3)]
            .to_string(),
        ),
    };
    scan_body(&meta, b"", body, usize::from(selector >> 2));
});
