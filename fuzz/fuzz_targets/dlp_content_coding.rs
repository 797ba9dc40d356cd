//! Arbitrary bytes declared gzip, deflate, br or zstd: never panics, memory stays bounded by the limits.
#![no_main]

use dlp::decode::BodyMeta;
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::fuzz_decoder;

fuzz_target!(|data: &[u8]| {
    let coded = |coding: &str| BodyMeta {
        content_encoding: Some(coding.to_string()),
        content_type: None,
    };
    fuzz_decoder(data, &["gzip", "deflate", "br", "zstd"], coded, b"");
});
