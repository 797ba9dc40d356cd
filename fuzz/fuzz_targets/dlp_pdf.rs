//! Arbitrary PDFs (streams, dictionaries, strings, deflate data): never
//! panics, memory stays bounded by the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{fuzz_decoder, typed};

fuzz_target!(|data: &[u8]| {
    // The magic routes the body to the PDF reader; the rest is the input.
    fuzz_decoder(data, &["application/pdf"], typed, b"%PDF-1.7\n");
});
