//! Arbitrary multipart/form-data bodies: never panics, memory stays bounded by the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{fuzz_decoder, typed};

fuzz_target!(|data: &[u8]| {
    fuzz_decoder(data, &["multipart/form-data; boundary=XyZ"], typed, b"");
});
