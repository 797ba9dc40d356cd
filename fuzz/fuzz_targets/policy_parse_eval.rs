//! Arbitrary bytes as a policy file: parsing must never panic, and any policy
//! that compiles must evaluate and explain every phase without panicking,
//! with `evaluate` and `explain` agreeing.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use policy::classify::{NoHeaders, RequestInfo};
use policy::context::{DlpHit, DlpVerdict};
use policy::{Classifier, Context, Phase, Policy};

fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| Classifier::builtin().expect("built-in catalogue"))
}

fn contexts(c: &Classifier) -> Vec<Context> {
    let mut out = Vec::new();
    for (host, method, path) in [
        ("content.dropboxapi.com", "POST", "/2/files/upload"),
        (
            "contoso.sharepoint.com",
            "GET",
            "/_layouts/15/download.aspx",
        ),
        ("unknown.example.net", "GET", "/"),
        ("www.chase.com", "GET", "/"),
    ] {
        let mut ctx = c.context_for_host(host);
        ctx.identity.user = Some("alice".into());
        ctx.identity.groups = vec!["eng".into()];
        ctx.network.client_ip = Some("10.1.2.3".parse().expect("ip"));
        c.fill_request(
            &mut ctx,
            &RequestInfo {
                method,
                host,
                path,
                headers: &NoHeaders,
            },
        );
        ctx.dlp = Some(DlpVerdict {
            hits: vec![DlpHit {
                rule_id: "credit-card".into(),
                category: "pci".into(),
                count: 1,
            }],
        });
        out.push(ctx);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let c = classifier();
    let Ok((policy, _warnings)) = Policy::parse(text, "fuzz.yaml", c.catalog()) else {
        return;
    };
    for ctx in contexts(c) {
        for phase in [Phase::Connect, Phase::Request, Phase::AfterDlp] {
            let d = policy.evaluate(&ctx, phase);
            let e = policy.explain(&ctx, phase);
            assert_eq!(d.rule_id, e.decision.rule_id);
            assert_eq!(d.action, e.decision.action);
            let _ = e.to_string();
        }
    }
});
