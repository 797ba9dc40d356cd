//! Arbitrary bytes through the built-in pack in arbitrary chunkings: never
//! panics, and every chunking finds exactly what a one-shot scan finds.
#![no_main]

use dlp::Finding;
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::engine;

fn sorted(mut v: Vec<Finding>) -> Vec<Finding> {
    v.sort_by(|a, b| (a.start, &a.rule, a.end).cmp(&(b.start, &b.rule, b.end)));
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let e = engine();
    let whole = sorted(e.scan(body));
    let mut s = e.stream();
    let mut got = Vec::new();
    for chunk in body.chunks(usize::from(step).max(1)) {
        got.extend(s.feed(chunk));
        assert!(s.state_bytes() <= e.state_bound());
    }
    got.extend(s.finish());
    assert_eq!(sorted(got), whole);
    for f in &whole {
        let value = &body[f.start as usize..f.end as usize];
        if value.len() >= 4 {
            assert!(!f
                .excerpt
                .as_bytes()
                .windows(value.len())
                .any(|w| w == value));
        }
    }
});
