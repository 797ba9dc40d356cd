//! Host → app lookup with a 100,000-domain catalogue (target ≤ 300 ns).
//!
//! `cargo bench -p portcullis-benches --bench classify_lookup`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use policy::catalog::{App, Catalog, Category};
use policy::Classifier;

/// 20,000 synthetic apps × 5 domains = 100,000 domains, plus the built-in apps.
fn big_classifier() -> Classifier {
    let mut catalog = Catalog::builtin().expect("built-in catalogue");
    for i in 0..20_000 {
        let domains = (0..5)
            .map(|j| format!("svc{i}-{j}.bench-saas{}.com", i % 97))
            .collect();
        catalog
            .add_app(App::new(
                &format!("bench-{i}"),
                "Bench",
                Category::Productivity,
                domains,
            ))
            .expect("valid app");
    }
    Classifier::new(catalog).expect("catalogue compiles")
}

fn bench(c: &mut Criterion) {
    let classifier = big_classifier();
    let domain_count: usize = classifier
        .catalog()
        .apps()
        .iter()
        .map(|a| a.domains.len() + a.hosts.len())
        .sum();
    assert!(domain_count >= 100_000, "{domain_count}");
    let mut g = c.benchmark_group("classify_lookup");
    let cases = [
        ("exact_domain", "svc12345-3.bench-saas26.com"),
        ("subdomain_hit", "files.eu.contoso.sharepoint.com"),
        ("deep_miss", "a.b.c.d.unknown-vendor.example.net"),
        ("mixed_case_with_port", "WWW.Dropbox.COM:443"),
    ];
    for (name, host) in cases {
        g.bench_function(name, |b| {
            b.iter(|| black_box(classifier.lookup_host(black_box(host))).is_some())
        });
    }
    g.bench_function("classify_host_facts", |b| {
        b.iter(|| black_box(classifier.classify_host(black_box("contoso.sharepoint.com"))))
    });
    g.bench_function("classify_request_sharepoint_upload", |b| {
        let req = policy::RequestInfo {
            method: "POST",
            host: "contoso.sharepoint.com",
            path: "/sites/Finance/_api/web/GetFolderByServerRelativeUrl('Shared%20Documents')/Files/add(url='a.xlsx')",
            headers: &policy::classify::NoHeaders,
        };
        b.iter(|| black_box(classifier.classify(black_box(&req))))
    });
    g.sample_size(10);
    g.bench_function("load_builtin_catalogue", |b| {
        b.iter(|| black_box(Classifier::builtin().is_ok()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
