//! Property tests: evaluation never panics, the rule index never changes a
//! decision (indexed `evaluate` agrees with the linear `explain`), and the
//! classifier accepts any host text.

use std::sync::OnceLock;

use policy::classify::{NoHeaders, RequestInfo};
use policy::context::{DlpHit, DlpVerdict, LocalTime, Weekday};
use policy::{Classifier, Context, Phase, Policy};
use proptest::prelude::*;

fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| Classifier::builtin().unwrap())
}

const LEAVES: &[&str] = &[
    "{app: box}",
    "{app: [dropbox, chatgpt]}",
    "{app: unknown}",
    "{category: generative_ai}",
    "{category: [file_sharing, storage]}",
    "{host: '*.sharepoint.com'}",
    "{host: [www.chase.com, example.org]}",
    "{host: 'files-*.example.org'}",
    "{host_suffix: google.com}",
    "{registrable_domain: example.org}",
    "{group: eng}",
    "{user: [alice]}",
    "{authenticated: true}",
    "{device_managed: false}",
    "{client_country: [US, DE]}",
    "{client_ip: 10.0.0.0/8}",
    "{activity: [upload, download]}",
    "{method: POST}",
    "{path_prefix: /api/}",
    "{dlp_category: pci}",
    "{dlp_count: {gte: 2}}",
    "{risk_score: {gte: 60}}",
    "{app_status: [unreviewed]}",
    "{privacy_sensitive: true}",
    "{instance: contoso}",
    "{time: {days: [mon, tue], from: '22:00', to: '06:00'}}",
];

const ACTIONS: &[&str] = &[
    "allow",
    "block",
    "warn",
    "isolate_downloads",
    "log_only",
    "bypass",
];

fn condition() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(LEAVES).prop_map(str::to_owned);
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3)
                .prop_map(|v| format!("{{all: [{}]}}", v.join(", "))),
            prop::collection::vec(inner.clone(), 0..3)
                .prop_map(|v| format!("{{any: [{}]}}", v.join(", "))),
            inner.prop_map(|c| format!("{{not: {c}}}")),
        ]
    })
}

fn policy_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (prop::option::of(condition()), prop::sample::select(ACTIONS)),
        0..12,
    )
    .prop_map(|rules| {
        let mut text = String::from("dlp_profiles:\n  p: {categories: [pci]}\nrules:\n");
        for (i, (cond, action)) in rules.into_iter().enumerate() {
            text.push_str(&format!("  - id: r{i}\n    action: {action}\n"));
            if let Some(c) = cond {
                text.push_str(&format!("    when: {c}\n"));
            }
            if action == "allow" && i % 2 == 0 {
                text.push_str("    dlp_profile: p\n");
            }
        }
        text
    })
}

const HOSTS: &[&str] = &[
    "app.box.com",
    "www.dropbox.com",
    "chatgpt.com",
    "contoso.sharepoint.com",
    "www.chase.com",
    "example.org",
    "files-eu.example.org",
    "mail.google.com",
    "unknown.test",
];

#[derive(Debug, Clone)]
struct Spec {
    host: String,
    user: Option<&'static str>,
    group: Option<&'static str>,
    managed: bool,
    country: Option<&'static str>,
    ip: Option<[u8; 4]>,
    request: Option<(&'static str, &'static str)>,
    dlp: Option<(&'static str, u32)>,
    time: Option<(u8, u16)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop_oneof![
            prop::sample::select(HOSTS).prop_map(str::to_owned),
            "[a-z0-9.-]{1,30}"
        ],
        prop::option::of(prop::sample::select(&["alice", "bob"][..])),
        prop::option::of(prop::sample::select(&["eng", "hr"][..])),
        any::<bool>(),
        prop::option::of(prop::sample::select(&["US", "DE", "KP"][..])),
        prop::option::of(any::<[u8; 4]>()),
        prop::option::of(prop::sample::select(
            &[
                ("POST", "/api/upload"),
                ("GET", "/"),
                ("POST", "/2/files/upload"),
            ][..],
        )),
        prop::option::of((prop::sample::select(&["pci", "secrets"][..]), 0u32..4)),
        prop::option::of((0u8..7, 0u16..1440)),
    )
        .prop_map(
            |(host, user, group, managed, country, ip, request, dlp, time)| Spec {
                host,
                user,
                group,
                managed,
                country,
                ip,
                request,
                dlp,
                time,
            },
        )
}

fn build(c: &Classifier, s: &Spec) -> Context {
    let mut ctx = c.context_for_host(&s.host);
    ctx.identity.user = s.user.map(str::to_owned);
    ctx.identity.groups = s.group.iter().map(|g| (*g).to_owned()).collect();
    ctx.device.managed = s.managed;
    ctx.network.client_country = s.country.map(str::to_owned);
    ctx.network.client_ip = s.ip.map(std::net::IpAddr::from);
    if let Some((method, path)) = s.request {
        c.fill_request(
            &mut ctx,
            &RequestInfo {
                method,
                host: &s.host,
                path,
                headers: &NoHeaders,
            },
        );
    }
    ctx.dlp = s.dlp.map(|(cat, n)| DlpVerdict {
        hits: vec![DlpHit {
            rule_id: "r".into(),
            category: cat.into(),
            count: n,
        }],
    });
    ctx.local_time = s.time.map(|(d, m)| {
        let days = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
        LocalTime {
            weekday: days[usize::from(d)],
            minute_of_day: m,
        }
    });
    ctx
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn evaluation_never_panics_and_index_agrees(text in policy_text(), specs in prop::collection::vec(spec(), 1..6)) {
        let c = classifier();
        let Ok((policy, _)) = Policy::parse(&text, "prop.yaml", c.catalog()) else { return Ok(()) };
        for s in &specs {
            let ctx = build(c, s);
            for phase in [Phase::Connect, Phase::Request, Phase::AfterDlp] {
                let d = policy.evaluate(&ctx, phase);
                let e = policy.explain(&ctx, phase);
                prop_assert_eq!(&d.rule_id, &e.decision.rule_id, "{}\n{:?}\n{}", text, s, e);
                prop_assert_eq!(d.action, e.decision.action);
                prop_assert_eq!(d.tunnel, e.decision.tunnel);
                prop_assert_eq!(&d.pending_rule, &e.decision.pending_rule);
            }
        }
    }

    #[test]
    fn arbitrary_policy_text_never_panics(text in "\\PC{0,300}") {
        let _ = Policy::parse(&text, "prop.yaml", classifier().catalog());
    }

    #[test]
    fn arbitrary_suite_contexts_never_panic(time in "\\PC{0,12}", host in "\\PC{0,20}", header in "\\PC{0,20}") {
        let text = format!("cases:\n  - name: x\n    context: {{host: {:?}, time: {:?}, headers: [{:?}]}}\n    expect: {{action: allow}}\n", host, time, header);
        if let Ok(suite) = policy::suite::Suite::parse(&text, "s.yaml") {
            let _ = suite.run(&Policy::allow_all(), classifier());
        }
    }

    #[test]
    fn classifier_accepts_any_host(host in "\\PC{0,80}", path in "\\PC{0,40}") {
        let c = classifier();
        let _ = c.lookup_host(&host);
        let _ = c.classify(&RequestInfo { method: "POST", host: &host, path: &path, headers: &NoHeaders });
        let _ = c.classify_url("GET", &format!("https://{host}/{path}"), &NoHeaders);
    }
}
