//! DLP throughput on a generated 64 MiB mixed corpus (set `DLP_BENCH_MIB`
//! to change the size), printed beside `memchr` over the same buffer in the
//! same run, with regex verifications per MiB and recall on planted
//! positives. Run: `cargo bench -p portcullis-benches --bench dlp_throughput`.

use dlp::{Engine, Finding, RulePack};
use portcullis_benches::dlp_corpus::{self, Planted};
use std::time::{Duration, Instant};

const CHUNK: usize = 64 * 1024;
const MIB: f64 = 1024.0 * 1024.0;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        last = Some(v);
    }
    (best, last.expect("at least one run"))
}

fn scan(engine: &Engine, data: &[u8]) -> (Vec<Finding>, u64) {
    let mut s = engine.stream();
    let mut out = Vec::new();
    for chunk in data.chunks(CHUNK) {
        out.extend(s.feed(chunk));
    }
    let v = s.verifications();
    out.extend(s.finish());
    (out, v)
}

fn gbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e9
}

fn memchr_baseline(data: &[u8]) -> Duration {
    best_of(3, || {
        std::hint::black_box(memchr::memchr_iter(b'\x01', data).count())
    })
    .0
}

fn recall(findings: &[Finding], planted: &[Planted]) -> (usize, usize) {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.start);
    let found = planted
        .iter()
        .filter(|p| {
            let i = sorted.partition_point(|f| f.end <= p.start as u64);
            sorted[i..]
                .iter()
                .take_while(|f| f.start < p.end as u64)
                .any(|f| *f.rule == *p.rule)
        })
        .count();
    (found, planted.len())
}

fn row(label: &str, engine: &Engine, data: &[u8], base: Duration) -> Vec<Finding> {
    let (d, (findings, verifications)) = best_of(3, || scan(engine, data));
    println!(
        "{label:<34} {:>8.3} GB/s   memchr {:>7.2} GB/s   verifications/MiB {:>8.1}   findings {}",
        gbps(data.len(), d),
        gbps(data.len(), base),
        verifications as f64 / (data.len() as f64 / MIB),
        findings.len()
    );
    findings
}

fn pack_with(extra: &str) -> Engine {
    let mut pack = RulePack::builtin().expect("built-in pack");
    if !extra.is_empty() {
        pack.merge(RulePack::parse(extra, "bench").expect("bench rules parse"))
            .expect("merge");
    }
    Engine::compile(&pack).expect("compile")
}

fn keyword_rules(n: usize) -> String {
    let mut y = String::from("rules:\n  - id: dictionary\n    category: custom\n    keywords:\n");
    for k in dlp_corpus::keywords(n, 99) {
        y.push_str(&format!("      - '{k}'\n"));
    }
    y
}

fn regex_rules(n: usize) -> String {
    let mut y = String::from("rules:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - id: custom-{i}\n    category: custom\n    patterns:\n      - regex: '\\bCUST{i}X-[A-Z]{{3}}-\\d{{4,8}}\\b'\n"
        ));
    }
    y
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mib: usize = std::env::var("DLP_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let (mut corpus, mut planted, mut ranges) = dlp_corpus::generate(mib << 20, 256 * 1024, 42);
    if let Ok(only) = std::env::var("DLP_BENCH_PART") {
        // Profiling aid: keep one part only.
        if let Some((_, r)) = ranges.iter().find(|(p, _)| p.name() == only).cloned() {
            planted.retain(|p| r.contains(&p.start));
            planted.iter_mut().for_each(|p| {
                p.start -= r.start;
                p.end -= r.start;
            });
            corpus = corpus[r.clone()].to_vec();
            ranges.retain(|(p, _)| p.name() == only);
            ranges[0].1 = 0..corpus.len();
        }
    }
    let builtin = pack_with("");
    println!(
        "dlp throughput: {} MiB mixed corpus, {} KiB chunks, {} planted positives; stream state bound {} B, window {} B",
        corpus.len() >> 20,
        CHUNK >> 10,
        planted.len(),
        builtin.state_bound(),
        builtin.window()
    );
    let base = memchr_baseline(&corpus);
    let findings = row("built-in pack (all)", &builtin, &corpus, base);
    let (found, total) = recall(&findings, &planted);
    println!("  recall on planted positives: {found}/{total}");
    for (part, range) in &ranges {
        let slice = &corpus[range.clone()];
        row(
            &format!("  part {}", part.name()),
            &builtin,
            slice,
            memchr_baseline(slice),
        );
    }
    if std::env::var_os("DLP_BENCH_QUICK").is_some() {
        return;
    }
    for n in [10, 1_000, 10_000] {
        let engine = pack_with(&keyword_rules(n));
        row(&format!("built-in + {n} keywords"), &engine, &corpus, base);
    }
    for n in [10, 100] {
        let engine = pack_with(&regex_rules(n));
        row(
            &format!("built-in + {n} custom regexes"),
            &engine,
            &corpus,
            base,
        );
    }
    gzip_row(&builtin, &corpus);
}

fn gzip_row(engine: &Engine, corpus: &[u8]) {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    if enc.write_all(corpus).is_err() {
        return;
    }
    let Ok(gz) = enc.finish() else { return };
    let (d, n) = best_of(3, || {
        let mut dec = flate2::write::GzDecoder::new(Vec::new());
        let mut s = engine.stream();
        let mut count = 0usize;
        for chunk in gz.chunks(CHUNK) {
            if dec.write_all(chunk).is_err() {
                break;
            }
            let out = dec.get_mut();
            count += s.feed(out).len();
            out.clear();
        }
        count + s.finish().len()
    });
    println!(
        "{:<34} {:>8.3} GB/s decoded ({:.3} GB/s compressed), findings {n}",
        "gzip input (inflate + built-in)",
        gbps(corpus.len(), d),
        gbps(gz.len(), d)
    );
}
