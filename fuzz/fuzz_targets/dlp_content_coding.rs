//! Arbitrary bytes declared gzip, deflate, br or zstd: never panics, memory stays bounded by the limits.
#![no_main]

use dlp::decode::BodyMeta;
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::scan_body;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let meta = BodyMeta {
        content_encoding: Some(
            ["gzip", "deflate", "br", "zstd"][usize::from(selector & 3)].to_string(),
        ),
        content_type: None,
    };
    scan_body(&meta, b"", body, usize::from(selector >> 2));
});
