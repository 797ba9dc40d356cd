//! Arbitrary PDFs (streams, dictionaries, strings, deflate data): never
//! panics, memory stays bounded by the limits.
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
        content_type: Some("application/pdf".to_string()),
    };
    // The magic routes the body to the PDF reader; the rest is the input.
    scan_body(&meta, b"%PDF-1.7\n", body, usize::from(selector >> 2));
});
