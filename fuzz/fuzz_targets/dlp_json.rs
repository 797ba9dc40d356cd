//! Arbitrary JSON, urlencoded and text bodies: never panics, memory stays bounded by the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{fuzz_decoder, typed};

fuzz_target!(|data: &[u8]| {
    let types = [
        "application/json",
        "application/x-www-form-urlencoded",
        "application/ld+json",
        "text/plain",
    ];
    fuzz_decoder(data, &types, typed, b"");
});
