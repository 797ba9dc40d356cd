//! The policy language: every condition type, every action, first-match
//! semantics, phases, explain, validation errors with file:line, shadowing.

use policy::classify::RequestInfo;
use policy::context::{DlpHit, DlpVerdict, FileInfo, LocalTime, Posture, Weekday};
use policy::error::WarningKind;
use policy::{ActionKind, Classifier, Context, Phase, Policy, Severity, Tunnel};

fn classifier() -> Classifier {
    Classifier::builtin().unwrap()
}

const NOW: u64 = 1_750_000_000;

/// A context with every fact known: alice on a managed Mac uploading a PDF
/// to the contoso SharePoint, DLP found two card numbers.
fn full_context(c: &Classifier) -> Context {
    let mut ctx = Context::default();
    ctx.identity.user = Some("alice".into());
    ctx.identity.groups = vec!["eng".into(), "ai-pilot".into()];
    ctx.identity.auth_method = Some("ldap".into());
    ctx.device.id = Some("dev-1".into());
    ctx.device.managed = true;
    ctx.device.compliant = true;
    ctx.device.os = Some("macos".into());
    ctx.device.os_version = Some("14.4.1".into());
    ctx.device.posture = Posture {
        disk_encryption: Some(true),
        edr_running: Some(true),
        firewall: Some(false),
        screen_lock: None,
    };
    ctx.device.last_report_unix = Some(NOW - 600);
    ctx.now_unix = Some(NOW);
    ctx.network.client_ip = Some("10.1.2.3".parse().unwrap());
    ctx.network.client_country = Some("US".into());
    ctx.network.client_site = Some("hq".into());
    ctx.network.dest_ip = Some("52.1.2.3".parse().unwrap());
    ctx.network.dest_country = Some("IE".into());
    ctx.request = Some(policy::context::RequestFacts {
        file: Some(FileInfo {
            name: Some("a.pdf".into()),
            file_type: Some("pdf".into()),
            size: Some(5_000_000),
        }),
        ..Default::default()
    });
    let headers: Vec<(String, String)> = Vec::new();
    c.fill_request(
        &mut ctx,
        &RequestInfo {
            method: "POST",
            host: "contoso.sharepoint.com",
            path: "/sites/x/_api/web/GetFolderByServerRelativeUrl('d')/Files/add(url='a.pdf')",
            headers: &headers,
        },
    );
    ctx.dlp = Some(DlpVerdict {
        hits: vec![DlpHit {
            rule_id: "credit-card".into(),
            category: "pci".into(),
            count: 2,
        }],
    });
    ctx.local_time = Some(LocalTime {
        weekday: Weekday::Tue,
        minute_of_day: 10 * 60 + 30,
    });
    ctx
}

fn one_rule(cond: &str) -> String {
    format!("rules:\n  - id: r\n    when: {cond}\n    action: block\n")
}

#[test]
fn every_condition_type() {
    let c = classifier();
    let ctx = full_context(&c);
    assert_eq!(
        ctx.request.as_ref().and_then(|r| r.activity),
        Some(policy::Activity::Upload)
    );
    let cases: &[(&str, bool)] = &[
        ("{user: alice}", true),
        ("{user: [bob, carol]}", false),
        ("{group: [eng]}", true),
        ("{group: finance}", false),
        ("{auth_method: LDAP}", true),
        ("{authenticated: true}", true),
        ("{authenticated: false}", false),
        ("{device_id: dev-1}", true),
        ("{device_managed: true}", true),
        ("{device_compliant: false}", false),
        ("{device_os: [macOS, windows]}", true),
        ("{device_os_version: {gte: '14.2'}}", true),
        ("{device_os_version: {lt: '14'}}", false),
        (
            "{posture: {disk_encryption: true, edr_running: true}}",
            true,
        ),
        ("{posture: {firewall: true}}", false),
        ("{posture: {screen_lock: true}}", false),
        ("{posture_age: {lte: 1h}}", true),
        ("{posture_age: {gt: 1h}}", false),
        ("{client_ip: [10.0.0.0/8]}", true),
        ("{client_ip: 192.168.0.0/16}", false),
        ("{client_country: [us]}", true),
        ("{client_site: hq}", true),
        ("{dest_ip: 52.0.0.0/8}", true),
        ("{dest_country: [FR]}", false),
        ("{app: sharepoint}", true),
        ("{app: [box, unknown]}", false),
        ("{category: collaboration}", true),
        ("{app_status: unreviewed}", true),
        ("{risk_score: {gte: 1}}", true),
        ("{risk_score: {gt: 99}}", false),
        ("{instance: CONTOSO}", true),
        ("{instance: fabrikam}", false),
        ("{host: '*.sharepoint.com'}", true),
        ("{host: sharepoint.com}", false),
        ("{host: 'conto*.sharepoint.com'}", true),
        ("{host_suffix: sharepoint.com}", true),
        ("{registrable_domain: sharepoint.com}", true),
        ("{pins_certificates: false}", true),
        ("{privacy_sensitive: true}", false),
        ("{activity: upload}", true),
        ("{activity: [download, share]}", false),
        ("{method: post}", true),
        ("{path_prefix: /sites/}", true),
        ("{path_prefix: /personal/}", false),
        ("{file_type: [PDF, docx]}", true),
        ("{file_size: {gt: 1MB}}", true),
        ("{file_size: {gt: 10MiB}}", false),
        ("{dlp_rule: credit-card}", true),
        ("{dlp_category: [pii]}", false),
        ("{dlp_count: {gte: 2}}", true),
        ("{dlp_count: {gt: 2}}", false),
        ("{time: {days: [tue], from: '09:00', to: '17:00'}}", true),
        (
            "{time: {days: [mon, wed], from: '09:00', to: '17:00'}}",
            false,
        ),
        ("{time: {from: '22:00', to: '11:00'}}", true),
        ("{time: {days: [tue], from: '22:00', to: '11:00'}}", false),
        ("{time: {days: [mon], from: '22:00', to: '11:00'}}", true),
        ("{all: [{user: alice}, {group: eng}]}", true),
        ("{all: [{user: alice}, {group: hr}]}", false),
        ("{any: [{user: bob}, {group: eng}]}", true),
        ("{any: [{user: bob}, {group: hr}]}", false),
        ("{not: {user: bob}}", true),
        ("{not: {user: alice}}", false),
    ];
    let mut failures = Vec::new();
    for (cond, want) in cases {
        let (p, _) = Policy::parse(&one_rule(cond), "t.yaml", c.catalog())
            .unwrap_or_else(|e| panic!("{cond}: {e:?}"));
        let got = p.evaluate(&ctx, Phase::AfterDlp).rule_label() == "r";
        if got != *want {
            failures.push(format!(
                "{cond}: expected {want}, got {got}\n{}",
                p.explain(&ctx, Phase::AfterDlp)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_facts_neither_hold_nor_fail() {
    let c = classifier();
    let ctx = c.context_for_host("www.box.com");
    // No geo data: neither the condition nor its negation matches.
    for cond in [
        "{client_country: [US]}",
        "{not: {client_country: [US]}}",
        "{client_ip: 10.0.0.0/8}",
        "{time: {from: '09:00', to: '17:00'}}",
        "{device_os: [macos]}",
    ] {
        let (p, _) = Policy::parse(&one_rule(cond), "t.yaml", c.catalog()).unwrap();
        for phase in [Phase::Connect, Phase::Request, Phase::AfterDlp] {
            let d = p.evaluate(&ctx, phase);
            assert_eq!(d.rule_label(), "default", "{cond} {phase:?}");
            assert!(
                d.pending_rule.is_none(),
                "{cond}: missing facts must not defer decisions"
            );
        }
    }
}

#[test]
fn first_match_wins_and_default_applies() {
    let c = classifier();
    let text = "default: {action: block, reason: closed by default}\nrules:\n  - id: a\n    when: {app: box}\n    action: allow\n  - id: b\n    when: {category: file_sharing}\n    action: block\n  - id: c\n    when: {category: file_sharing}\n    action: warn\n";
    let (p, w) = Policy::parse(text, "t.yaml", c.catalog()).unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].rule_id, "c");
    let d = p.evaluate(&c.context_for_host("app.box.com"), Phase::Connect);
    assert_eq!((d.rule_label(), d.action), ("a", ActionKind::Allow));
    let d = p.evaluate(&c.context_for_host("www.dropbox.com"), Phase::Connect);
    assert_eq!((d.rule_label(), d.tunnel), ("b", Tunnel::Block));
    let d = p.evaluate(&c.context_for_host("example.org"), Phase::Connect);
    assert_eq!(
        (d.rule_label(), d.action, d.tunnel),
        ("default", ActionKind::Block, Tunnel::Block)
    );
    assert_eq!(d.reason.as_deref(), Some("closed by default"));
}

#[test]
fn overlong_hosts_are_still_matched_by_host_rules() {
    let c = classifier();
    let text = "rules:\n  - id: other\n    when: {app: box}\n    action: allow\n  - id: evil\n    when: {host_suffix: evil.example}\n    action: block\n";
    let (p, _) = Policy::parse(text, "t.yaml", c.catalog()).unwrap();
    let host = format!("{}evil.example", "a.".repeat(200));
    let ctx = c.context_for_host(&host);
    assert_eq!(&*ctx.app.app_id, "unknown");
    assert_eq!(p.evaluate(&ctx, Phase::Connect).rule_label(), "evil");
}

#[test]
fn users_in_many_groups_see_every_group_rule() {
    // More candidate lists than the allocation-free merge handles: the
    // index sorts them instead, and must still visit rules in order.
    let c = classifier();
    let mut text = String::from("rules:\n");
    for i in 0..40 {
        text.push_str(&format!("  - id: g{i}\n    when: {{all: [{{group: grp-{i}}}, {{client_country: [K{}]}}]}}\n    action: block\n", (b'A' + i as u8 % 26) as char));
    }
    text.push_str(
        "  - id: last\n    when: {all: [{group: grp-39}, {user: alice}]}\n    action: warn\n",
    );
    let (p, _) = Policy::parse(&text, "t.yaml", c.catalog()).unwrap();
    let mut ctx = c.context_for_host("example.org");
    ctx.identity.user = Some("alice".into());
    ctx.identity.groups = (0..40).rev().map(|i| format!("grp-{i}")).collect();
    ctx.network.client_country = Some("US".into());
    let d = p.evaluate(&ctx, Phase::Request);
    assert_eq!(d.rule_label(), "last");
    ctx.network.client_country = Some("KD".into());
    assert_eq!(p.evaluate(&ctx, Phase::Request).rule_label(), "g3");
    assert_eq!(p.explain(&ctx, Phase::Request).decision.rule_label(), "g3");
}

#[test]
fn allow_all_allows_everything() {
    let c = classifier();
    let p = Policy::allow_all();
    for phase in [Phase::Connect, Phase::Request, Phase::AfterDlp] {
        let d = p.evaluate(&full_context(&c), phase);
        assert_eq!((d.action, d.rule_label()), (ActionKind::Allow, "default"));
        assert!(d.is_final());
    }
}

#[test]
fn phases_defer_undecidable_rules() {
    let c = classifier();
    let text = "dlp_profiles:\n  secrets: {categories: [secrets], action: block, reason: no secrets}\nrules:\n  - id: bypass-banks\n    when: {privacy_sensitive: true}\n    action: bypass\n  - id: no-genai-uploads\n    when: {all: [{category: generative_ai}, {activity: upload}]}\n    action: block\n  - id: genai-scan\n    when: {category: generative_ai}\n    action: allow\n    dlp_profile: secrets\n  - id: leaks\n    when: {dlp_category: pii}\n    action: block\n";
    let (p, w) = Policy::parse(text, "t.yaml", c.catalog()).unwrap();
    assert!(w.is_empty(), "{w:?}");

    // CONNECT: the upload rule is pending, so the tunnel is intercepted.
    let mut ctx = c.context_for_host("chatgpt.com");
    let d = p.evaluate(&ctx, Phase::Connect);
    assert_eq!(d.tunnel, Tunnel::Intercept);
    assert_eq!(d.pending_rule.as_deref(), Some("no-genai-uploads"));
    assert!(d.rule_id.is_none());
    // A bank is bypassed: the bypass rule comes before any pending rule.
    let bank = c.context_for_host("www.chase.com");
    let d = p.evaluate(&bank, Phase::Connect);
    assert_eq!(
        d.tunnel,
        Tunnel::Bypass,
        "{}",
        p.explain(&bank, Phase::Connect)
    );
    // ...and the pending DLP rule makes every other host intercept too.
    let d = p.evaluate(&c.context_for_host("example.org"), Phase::Connect);
    assert_eq!(
        (d.tunnel, d.pending_rule.as_deref()),
        (Tunnel::Intercept, Some("leaks"))
    );

    // Request: an upload is blocked outright.
    let h: Vec<(String, String)> = Vec::new();
    c.fill_request(
        &mut ctx,
        &RequestInfo {
            method: "POST",
            host: "chatgpt.com",
            path: "/backend-api/files",
            headers: &h,
        },
    );
    let d = p.evaluate(&ctx, Phase::Request);
    assert_eq!(
        (d.rule_label(), d.action),
        ("no-genai-uploads", ActionKind::Block)
    );
    assert!(d.is_final() && !d.needs_dlp() && d.dlp_profile.is_none());

    // Request: a prompt is allowed provisionally with the rule's DLP profile.
    c.fill_request(
        &mut ctx,
        &RequestInfo {
            method: "POST",
            host: "chatgpt.com",
            path: "/backend-api/conversation",
            headers: &h,
        },
    );
    let d = p.evaluate(&ctx, Phase::Request);
    assert_eq!(d.rule_label(), "genai-scan");
    assert!(d.needs_dlp() && !d.is_final());
    assert_eq!(
        d.dlp_profile.as_ref().map(|p| p.name.as_str()),
        Some("secrets")
    );

    // After DLP: nothing found → allow; a secret → the profile's block.
    let d = p.evaluate(&ctx, Phase::AfterDlp);
    assert_eq!(
        (d.rule_label(), d.action),
        ("genai-scan", ActionKind::Allow)
    );
    assert!(d.is_final());
    ctx.dlp = Some(DlpVerdict {
        hits: vec![DlpHit {
            rule_id: "aws-access-key".into(),
            category: "secrets".into(),
            count: 1,
        }],
    });
    let d = p.evaluate(&ctx, Phase::AfterDlp);
    assert_eq!(
        (d.rule_label(), d.action, d.reason.as_deref()),
        ("genai-scan", ActionKind::Block, Some("no secrets"))
    );
    assert_eq!(d.severity, Severity::High);

    // Elsewhere, the pending DLP rule selects the fallback profile first.
    let mut other = c.context_for_host("example.org");
    c.fill_request(
        &mut other,
        &RequestInfo {
            method: "POST",
            host: "example.org",
            path: "/",
            headers: &h,
        },
    );
    let d = p.evaluate(&other, Phase::Request);
    assert_eq!(d.pending_rule.as_deref(), Some("leaks"));
    assert!(d.needs_dlp());
    assert_eq!(
        d.dlp_profile.as_ref().map(|p| p.name.as_str()),
        Some("default")
    );
    other.dlp = Some(DlpVerdict {
        hits: vec![DlpHit {
            rule_id: "ssn".into(),
            category: "pii".into(),
            count: 3,
        }],
    });
    assert_eq!(p.evaluate(&other, Phase::AfterDlp).rule_label(), "leaks");
}

#[test]
fn actions_carry_what_the_proxy_needs() {
    let c = classifier();
    let text = r#"
rules:
  - id: warn-ai
    when: {app: claude}
    action: warn
    warn_ttl: 2h
    reason: careful
    severity: low
  - id: isolate
    when: {app: box}
    action: isolate_downloads
  - id: audit
    when: {app: notion}
    action: log_only
    severity: medium
  - id: headers
    when: {app: [slack, google-drive, gmail, google-workspace, dropbox, chatgpt, youtube]}
    action: allow
    headers: ["X-Corp-Proxy: portcullis"]
    tenant_restrictions:
      - slack: {workspaces: [T111, E222], requester: T111}
      - google: {domains: [contoso.com]}
      - dropbox: {teams: ["dbtid:AAA"]}
      - chatgpt: {workspace: ws-1}
      - youtube: {mode: moderate}
"#;
    let (p, _) = Policy::parse(text, "t.yaml", c.catalog()).unwrap();
    let mut ctx = c.context_for_host("claude.ai");
    ctx.identity.user = Some("alice".into());
    let d = p.evaluate(&ctx, Phase::Request);
    assert_eq!((d.action, d.severity), (ActionKind::Warn, Severity::Low));
    assert_eq!(d.warn_ttl, Some(std::time::Duration::from_secs(7200)));
    let key = d.warn_key(&ctx).unwrap();
    assert_eq!((key.user.as_str(), key.app.as_str()), ("alice", "claude"));
    let mut anon = c.context_for_host("claude.ai");
    anon.network.client_ip = Some("192.0.2.9".parse().unwrap());
    assert_eq!(
        p.evaluate(&anon, Phase::Request)
            .warn_key(&anon)
            .unwrap()
            .user,
        "ip:192.0.2.9"
    );

    assert_eq!(
        p.evaluate(&c.context_for_host("app.box.com"), Phase::Request)
            .action,
        ActionKind::IsolateDownloads
    );
    let d = p.evaluate(&c.context_for_host("www.notion.so"), Phase::Request);
    assert_eq!(
        (d.action, d.severity),
        (ActionKind::LogOnly, Severity::Medium)
    );

    let headers_for = |host: &str| -> Vec<String> {
        p.evaluate(&c.context_for_host(host), Phase::Request)
            .headers
            .iter()
            .map(|h| format!("{}: {}", h.name, h.value))
            .collect()
    };
    assert_eq!(
        headers_for("acme.slack.com"),
        [
            "X-Corp-Proxy: portcullis",
            "X-Slack-Allowed-Workspaces-Requester: T111",
            "X-Slack-Allowed-Workspaces: T111,E222"
        ]
    );
    assert_eq!(
        headers_for("drive.google.com"),
        [
            "X-Corp-Proxy: portcullis",
            "X-GooGApps-Allowed-Domains: contoso.com"
        ]
    );
    assert_eq!(
        headers_for("www.dropbox.com"),
        [
            "X-Corp-Proxy: portcullis",
            "X-Dropbox-allowed-Team-Ids: dbtid:AAA"
        ]
    );
    assert_eq!(
        headers_for("chatgpt.com"),
        [
            "X-Corp-Proxy: portcullis",
            "ChatGPT-Allowed-Workspace-Id: ws-1"
        ]
    );
    assert_eq!(
        headers_for("www.youtube.com"),
        ["X-Corp-Proxy: portcullis", "YouTube-Restrict: Moderate"]
    );
}

#[test]
fn explain_lists_conditions() {
    let c = classifier();
    let text = "rules:\n  - id: first\n    when:\n      all:\n        - app: box\n        - not: {group: admins}\n  \n    action: block\n  - id: second\n    when:\n      any:\n        - activity: upload\n        - user: alice\n    action: warn\n";
    let (p, _) = Policy::parse(text, "t.yaml", c.catalog()).unwrap();
    let mut ctx = c.context_for_host("www.dropbox.com");
    ctx.identity.user = Some("alice".into());
    let e = p.explain(&ctx, Phase::Connect);
    assert_eq!(e.rules.len(), 2);
    assert_eq!(e.rules[0].outcome, policy::rules::Outcome::False);
    assert_eq!(e.rules[1].outcome, policy::rules::Outcome::True);
    let text = e.to_string();
    for needle in [
        "rule `first` (line 2): failed",
        "app: [box] (line 5): failed",
        "not (line 6): held",
        "group: [admins] (line 6): failed",
        "rule `second` (line 9): held",
        "activity: [upload] (line 12): unknown (not known in this phase)",
        "user: [alice] (line 13): held",
        "decision: warn by second",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
    assert_eq!(
        e.decision.rule_label(),
        p.evaluate(&ctx, Phase::Connect).rule_label()
    );
}

#[test]
fn malformed_policies_name_file_and_line() {
    let c = classifier();
    let cases: &[(&str, &str)] = &[
        ("rules:\n  - id: a\n    action: block\n    colour: red\n", "p.yaml:4:5: rules[0].colour: Unknown field `colour`"),
        ("rules:\n  - id: a\n    action: blok\n", "p.yaml:3:13: rules[0].action: unknown variant `blok`"),
        ("rules:\n  - id: a\n    when: {app: no-such-app}\n    action: block\n", "p.yaml:3:11: rules[0].when.app: unknown app `no-such-app`"),
        ("rules:\n  - id: a\n    when: {category: knitting}\n    action: block\n", "p.yaml:3:11: rules[0].when.category: unknown category `knitting`"),
        ("rules:\n  - id: a\n    when:\n      all:\n        - app: box\n        - client_ip: [10.0.0.0/33]\n    action: block\n", "p.yaml:6:20: rules[0].when.all[1].client_ip: `10.0.0.0/33` is not a CIDR"),
        ("rules:\n  - id: a\n    when: {client_country: USA}\n    action: block\n", "p.yaml:3:11: rules[0].when.client_country: `USA` is not a two-letter country code"),
        ("rules:\n  - id: a\n    action: block\n  - id: a\n    action: allow\n", "p.yaml:4:9: rules[1].id: duplicate rule id `a` (first at line 2)"),
        ("rules:\n  - id: a\n    action: allow\n    dlp_profile: nope\n", "p.yaml:4:18: rules[0].dlp_profile: unknown DLP profile `nope`"),
        ("rules:\n  - id: a\n    when: {activity: upload}\n    action: bypass\n", "p.yaml:4:13: rules[0].action: a `bypass` rule can only test CONNECT-time facts"),
        ("rules:\n  - id: a\n    action: block\n    headers: ['X-A: 1']\n", "p.yaml:2: rules[0].headers: a `block` rule forwards nothing"),
        ("rules:\n  - id: a\n    action: allow\n    warn_ttl: 1h\n", "p.yaml:2: rules[0].warn_ttl: warn_ttl is only meaningful"),
        ("rules:\n  - id: a\n    action: warn\n    warn_ttl: 1y\n", "p.yaml:4:15: rules[0].warn_ttl: `1y` is not a positive duration"),
        ("rules:\n  - id: a\n    when: {file_size: {gt: 10XB}}\n    action: block\n", "p.yaml:3:11: rules[0].when.file_size: `10XB`: unknown size unit"),
        ("rules:\n  - id: a\n    when: {time: {from: '09:00', to: '09:00'}}\n    action: block\n", "p.yaml:3:11: rules[0].when.time: `from` and `to` are equal"),
        ("rules:\n  - id: a\n    when: {group: []}\n    action: block\n", "p.yaml:3:11: rules[0].when.group: the list is empty"),
        ("rules:\n  - id: a\n    when: {risk_score: {gte: 101}}\n    action: block\n", "risk scores are 0..=100"),
        ("rules:\n  - id: a\n    when: {app_status: approved}\n    action: block\n", "unknown appstatus `approved`"),
        ("rules:\n  - id: a\n    action: allow\n    tenant_restrictions:\n      - slack: {workspaces: ['a,b'], requester: T1}\n", "p.yaml:5:14: rules[0].tenant_restrictions: slack.workspaces"),
        ("rules:\n  - id: a\n   action: block\n", "p.yaml:3:"),
        ("version: 2\n", "p.yaml:1:10: version: unsupported version 2"),
        ("dlp_profiles:\n  x: {min_count: 0}\n", "p.yaml:2:6: dlp_profiles.x.min_count: must be at least 1"),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        match Policy::parse(text, "p.yaml", c.catalog()) {
            Ok(_) => failures.push(format!("accepted:\n{text}")),
            Err(errors) => {
                let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
                if !all.iter().any(|e| e.contains(want)) {
                    failures.push(format!("want `{want}`, got {all:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Several semantic errors are reported together.
    let errs = Policy::parse("rules:\n  - id: a\n    when: {app: x1}\n    action: block\n  - id: b\n    when: {app: x2}\n    action: block\n", "p.yaml", c.catalog()).unwrap_err();
    assert_eq!(errs.len(), 2);
}

#[test]
fn shadowed_rules_are_warned_about() {
    let c = classifier();
    let cases: &[(&str, Option<&str>)] = &[
        ("- id: a\n    when: {category: [storage, file_sharing]}\n    action: block\n  - id: b\n    when: {all: [{category: storage}, {activity: upload}]}\n    action: warn\n", Some("b")),
        ("- id: a\n    action: allow\n  - id: b\n    when: {app: box}\n    action: block\n", Some("b")),
        ("- id: a\n    when: {host_suffix: example.com}\n    action: block\n  - id: b\n    when: {host: x.example.com}\n    action: allow\n", Some("b")),
        ("- id: a\n    when: {client_ip: 10.0.0.0/8}\n    action: block\n  - id: b\n    when: {client_ip: [10.1.0.0/16, 10.2.0.0/16]}\n    action: allow\n", Some("b")),
        ("- id: a\n    when: {risk_score: {gte: 50}}\n    action: block\n  - id: b\n    when: {risk_score: {gt: 80}}\n    action: allow\n", Some("b")),
        ("- id: a\n    when: {any: [{app: box}, {app: dropbox}]}\n    action: block\n  - id: b\n    when: {app: dropbox}\n    action: allow\n", Some("b")),
        ("- id: a\n    when: {app: box}\n    action: block\n  - id: b\n    when: {app: dropbox}\n    action: allow\n", None),
        ("- id: a\n    when: {all: [{category: storage}, {activity: upload}]}\n    action: block\n  - id: b\n    when: {category: storage}\n    action: allow\n", None),
        ("- id: a\n    when: {risk_score: {gte: 50}}\n    action: block\n  - id: b\n    when: {risk_score: {gte: 40}}\n    action: allow\n", None),
        ("- id: a\n    when: {not: {group: x}}\n    action: block\n  - id: b\n    when: {group: y}\n    action: allow\n", None),
    ];
    for (rules, want) in cases {
        let text = format!("rules:\n  {rules}");
        let (_, w) =
            Policy::parse(&text, "p.yaml", c.catalog()).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        let got: Vec<&str> = w
            .iter()
            .filter(|w| w.kind == WarningKind::Shadowed)
            .map(|w| w.rule_id.as_str())
            .collect();
        assert_eq!(got, want.iter().copied().collect::<Vec<_>>(), "{text}");
        if let Some(warning) = w.first() {
            assert!(
                warning
                    .to_string()
                    .starts_with("p.yaml:5: warning: rule `b`: shadowed by rule `a` (line 2)")
                    || warning
                        .to_string()
                        .starts_with("p.yaml:4: warning: rule `b`: shadowed by rule `a` (line 2)"),
                "{warning}"
            );
        }
    }
}
