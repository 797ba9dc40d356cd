//! Leaf minting: a miss (one CA signature) and a cache hit.
//!
//! `cargo bench -p portcullis-benches --bench leaf_mint`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use certs::{Authority, CertCache, LeafOptions, Minter};
use criterion::{criterion_group, criterion_main, Criterion};

fn leaf_mint(c: &mut Criterion) {
    certs::install_process_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Arc::new(Authority::generate_into(dir.path()).expect("ca"));
    let minter = Arc::new(Minter::new(ca, LeafOptions::default()).expect("minter"));
    let cache = CertCache::new(minter.clone(), 10_000_000, Duration::from_secs(3600));
    let n = AtomicU64::new(0);
    let mut group = c.benchmark_group("leaf");
    group.bench_function("mint_miss", |b| {
        b.iter(|| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            cache.get(&format!("h{i}.bench.example")).expect("mint")
        })
    });
    cache.get("hit.bench.example").expect("mint");
    group.bench_function("cache_hit", |b| {
        b.iter(|| cache.cached("hit.bench.example").expect("hit"))
    });
    group.bench_function("cache_get_hit", |b| {
        b.iter(|| cache.get("hit.bench.example").expect("hit"))
    });
    group.finish();
}

criterion_group!(benches, leaf_mint);
criterion_main!(benches);
