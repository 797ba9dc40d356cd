//! Policy evaluation and compilation with 1,000 rules.
//! Targets: evaluate ≤ 1 µs median for a context that falls through every
//! rule to the default; compile ≤ 100 ms.
//!
//! `cargo bench -p portcullis-benches --bench policy_eval`

use std::fmt::Write as _;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use policy::classify::{NoHeaders, RequestInfo};
use policy::{Classifier, Phase, Policy};

/// A realistic 1,000-rule policy: per-app group rules for every catalogued
/// app, per-domain host rules, category rules with extra conditions and a
/// few unindexed rules on identity and network.
fn thousand_rules(classifier: &Classifier) -> String {
    let mut text = String::from("version: 1\ndefault: {action: allow}\nrules:\n");
    let mut n = 0;
    for app in classifier.catalog().apps().iter().take(450) {
        writeln!(
            text,
            "  - id: app-{n}\n    when:\n      all:\n        - app: {}\n        - group: [team-{n}]\n        - activity: [upload, share]\n    action: block\n",
            app.id
        )
        .ok();
        n += 1;
    }
    for i in 0..400 {
        writeln!(
            text,
            "  - id: host-{n}\n    when:\n      all:\n        - host: ['*.partner{i}.example', partner{i}.example]\n        - not: {{device_managed: true}}\n    action: isolate_downloads\n"
        )
        .ok();
        n += 1;
    }
    let categories = [
        "file_sharing",
        "storage",
        "generative_ai",
        "social",
        "messaging",
        "email",
        "crm",
        "hr",
    ];
    for i in 0..130 {
        let cat = categories[i % categories.len()];
        writeln!(
            text,
            "  - id: cat-{n}\n    when:\n      all:\n        - category: {cat}\n        - risk_score: {{gte: {}}}\n        - device_managed: false\n    action: warn\n",
            50 + i % 40
        )
        .ok();
        n += 1;
    }
    while n < 1000 {
        writeln!(
            text,
            "  - id: misc-{n}\n    when:\n      any:\n        - client_country: [K{}]\n        - client_ip: [198.51.{}.0/24]\n    action: block\n",
            (b'A' + (n % 26) as u8) as char,
            n % 250
        )
        .ok();
        n += 1;
    }
    text
}

fn bench(c: &mut Criterion) {
    let classifier = Classifier::builtin().expect("catalogue");
    let text = thousand_rules(&classifier);
    let (policy, _warnings) =
        Policy::parse(&text, "bench.yaml", classifier.catalog()).expect("policy compiles");
    assert_eq!(policy.rules().len(), 1000);

    // alice uploads to Box from a managed device in the US: Box's app rule,
    // the file_sharing category rules and the unindexed rules are visited,
    // none matches, the default applies.
    let mut ctx = classifier.context_for_host("upload.box.com");
    ctx.identity.user = Some("alice".into());
    ctx.identity.groups = vec!["staff".into()];
    ctx.device.managed = true;
    ctx.network.client_country = Some("US".into());
    ctx.network.client_ip = Some("192.0.2.10".parse().expect("ip"));
    classifier.fill_request(
        &mut ctx,
        &RequestInfo {
            method: "POST",
            host: "upload.box.com",
            path: "/api/2.0/files/content",
            headers: &NoHeaders,
        },
    );
    let d = policy.evaluate(&ctx, Phase::Request);
    assert_eq!(d.rule_label(), "default");

    let mut unknown = classifier.context_for_host("files.unknown-vendor.example.net");
    unknown.identity = ctx.identity.clone();
    unknown.network = ctx.network.clone();
    assert_eq!(
        policy.evaluate(&unknown, Phase::Connect).rule_label(),
        "default"
    );

    let mut g = c.benchmark_group("policy_eval");
    g.bench_function("evaluate_1000_rules_fallthrough_request", |b| {
        b.iter(|| black_box(policy.evaluate(black_box(&ctx), Phase::Request)))
    });
    g.bench_function(
        "evaluate_1000_rules_fallthrough_connect_unknown_host",
        |b| b.iter(|| black_box(policy.evaluate(black_box(&unknown), Phase::Connect))),
    );
    g.sample_size(20);
    g.bench_function("compile_1000_rules", |b| {
        b.iter(|| {
            black_box(Policy::parse(black_box(&text), "bench.yaml", classifier.catalog()).is_ok())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
