//! Chunking never changes findings; stream state stays bounded.

use dlp::{Engine, Finding, RulePack};
use proptest::prelude::*;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::compile(&RulePack::builtin().unwrap()).unwrap())
}

/// All built-in examples (positive and negative) joined into one stream.
fn corpus() -> &'static [u8] {
    static C: OnceLock<Vec<u8>> = OnceLock::new();
    C.get_or_init(|| {
        let pack = RulePack::builtin().unwrap();
        let mut out = Vec::new();
        for rule in pack.rules() {
            for ex in rule.examples.iter().chain(&rule.negative_examples) {
                out.extend_from_slice(ex.as_bytes());
                out.extend_from_slice(b"\n -- filler text between examples -- \n");
            }
        }
        out
    })
}

fn sorted(mut v: Vec<Finding>) -> Vec<Finding> {
    v.sort_by(|a, b| (a.start, &a.rule, a.end).cmp(&(b.start, &b.rule, b.end)));
    v
}

fn chunked(engine: &Engine, data: &[u8], sizes: &[usize]) -> Vec<Finding> {
    let mut s = engine.stream();
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let n = sizes[i % sizes.len()].max(1).min(data.len() - at);
        out.extend(s.feed(&data[at..at + n]));
        assert!(
            s.state_bytes() <= engine.state_bound(),
            "state {} > bound {}",
            s.state_bytes(),
            engine.state_bound()
        );
        at += n;
        i += 1;
    }
    out.extend(s.finish());
    sorted(out)
}

#[test]
fn one_byte_chunks_equal_one_shot_over_all_examples() {
    let e = engine();
    let data = corpus();
    let whole = sorted(e.scan(data));
    let pack = RulePack::builtin().unwrap();
    for rule in pack.rules() {
        assert!(
            whole.iter().any(|f| *f.rule == *rule.id),
            "{} not found in the joined stream",
            rule.id
        );
    }
    assert_eq!(chunked(e, data, &[1]), whole);
}

#[test]
fn state_bound_is_small() {
    let e = engine();
    // Documented target: 1 KiB plus the pack's look-behind + look-ahead
    // window (the longest match plus its context).
    assert!(
        e.state_bound() <= 1024 + e.window(),
        "bound {} window {}",
        e.state_bound(),
        e.window()
    );
    let big: Vec<u8> = corpus().iter().cycle().take(1 << 20).copied().collect();
    for sizes in [
        &[1usize][..],
        &[7, 4096, 3],
        &[65536],
        &[300, 1],
        &[900, 5, 1000],
    ] {
        chunked(e, &big[..200_000], sizes);
    }
}

#[test]
fn matches_straddling_every_boundary_are_found() {
    let e = engine();
    let text = b"xx 4111 1111 1111 1111 yy AKIAIOSFODNN7EXAMPLE zz jane@example.com";
    let whole = sorted(e.scan(text));
    assert_eq!(whole.len(), 3, "{whole:?}");
    for cut in 1..text.len() {
        let mut s = e.stream();
        let mut got = s.feed(&text[..cut]);
        got.extend(s.feed(&text[cut..]));
        got.extend(s.finish());
        assert_eq!(sorted(got), whole, "cut at {cut}");
    }
}

#[test]
fn findings_arrive_before_finish_once_the_window_has_passed() {
    let e = engine();
    let mut s = e.stream();
    let mut early = s.feed(b"secret follows: AKIAIOSFODNN7EXAMPLE ");
    early.extend(s.feed(&vec![b' '; e.window() + 16]));
    assert_eq!(early.len(), 1);
    assert!(s.finish().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_chunkings_equal_one_shot(sizes in proptest::collection::vec(1usize..3000, 1..20)) {
        let e = engine();
        let data = corpus();
        let whole = sorted(e.scan(data));
        prop_assert_eq!(chunked(e, data, &sizes), whole);
    }
}
