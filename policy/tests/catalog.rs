//! Catalogue integrity and classification of real hosts and paths.

use std::collections::{HashMap, HashSet};

use policy::catalog::{Activity, Catalog, Category};
use policy::classify::{NoHeaders, RequestInfo};
use policy::{AppStatus, Classifier};

fn classifier() -> Classifier {
    Classifier::builtin().expect("the built-in catalogue compiles")
}

#[test]
fn builtin_catalogue_is_large_and_consistent() {
    let c = classifier();
    let catalog = c.catalog();
    assert!(catalog.len() >= 400, "only {} apps", catalog.len());
    let mut ids = HashSet::new();
    let mut keys: HashMap<&str, &str> = HashMap::new();
    for app in catalog.apps() {
        assert!(ids.insert(app.id.as_str()), "duplicate id {}", app.id);
        for d in app.domains.iter().chain(&app.hosts) {
            // Classifier::new already rejects duplicates; check again explicitly.
            if let Some(other) = keys.insert(d.as_str(), app.id.as_str()) {
                panic!("{d} claimed by {other} and {}", app.id);
            }
            assert_eq!(d.to_ascii_lowercase(), *d);
            assert!(d.contains('.'), "{d}");
        }
        for (attr, source) in app.risk.sources() {
            assert!(
                source.starts_with("https://"),
                "{}: {attr} source {source}",
                app.id
            );
        }
        assert!(app.risk_score() <= 100);
    }
    // Privacy-sensitive categories and pinned apps are present and marked.
    for cat in [
        Category::BankingFinance,
        Category::Health,
        Category::Government,
    ] {
        let n = catalog.apps().iter().filter(|a| a.category == cat).count();
        assert!(n >= 10, "{cat}: only {n} apps");
    }
    assert!(
        catalog
            .apps()
            .iter()
            .filter(|a| a.pins_certificates)
            .count()
            >= 5
    );
}

/// Every example request of every app classifies as the entry says.
#[test]
fn every_example_classifies() {
    let c = classifier();
    let mut failures = Vec::new();
    let mut count = 0;
    for app in c.catalog().apps() {
        for ex in &app.examples {
            count += 1;
            let headers: Vec<(String, String)> = ex
                .headers
                .iter()
                .filter_map(|h| {
                    h.split_once(':')
                        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                })
                .collect();
            let r = c
                .classify_url(&ex.method, &ex.url, &headers)
                .expect("example URL parses");
            let ok = r.app_id == app.id
                && r.activity == ex.activity
                && r.instance.as_deref() == ex.instance.as_deref();
            if !ok {
                failures.push(format!(
                    "{} {} {}: got app {} activity {:?} instance {:?}, want activity {:?} instance {:?}",
                    app.id, ex.method, ex.url, r.app_id, r.activity, r.instance, ex.activity, ex.instance
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} examples failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(count >= 100, "only {count} examples");
}

/// The apps the issue names must have login, upload and download fixtures
/// where the app has them (the exceptions are listed with the reason).
#[test]
fn major_apps_have_activity_fixtures() {
    use Activity::{Download, Login, Upload};
    let required: &[(&str, &[Activity])] = &[
        ("microsoft-entra-id", &[Login]), // Microsoft 365 sign-in
        ("microsoft-365", &[Login]),
        ("onedrive", &[Upload, Download]), // sign-in is Entra ID / Microsoft account
        ("sharepoint", &[Upload, Download]), // sign-in is Entra ID
        ("microsoft-teams", &[]),          // files live in SharePoint; messages are `post`
        ("outlook", &[Upload, Download]),
        ("google-workspace", &[Login]),
        ("google-drive", &[Upload, Download]), // sign-in is Google accounts
        ("gmail", &[Upload, Download]),
        ("box", &[Login, Upload, Download]),
        ("dropbox", &[Login, Upload, Download]),
        ("slack", &[Login, Upload, Download]),
        ("salesforce", &[Login, Upload, Download]),
        ("github", &[Login, Upload, Download]),
        ("gitlab", &[Login, Upload, Download]),
        ("notion", &[Login, Upload, Download]),
        ("atlassian", &[Login, Upload, Download]),
        ("zoom", &[Login, Download]), // no file upload in the web app
        ("wetransfer", &[Login, Upload, Download]),
        ("mega", &[Upload, Download]), // login is an encrypted API command in the body
        ("chatgpt", &[Login, Upload, Download]),
        ("claude", &[Login, Upload]),
        ("google-gemini", &[Upload]), // sign-in is Google accounts
        ("microsoft-copilot", &[Upload]),
        ("deepseek", &[Login, Upload]),
        ("perplexity", &[Login, Upload]),
        ("naver", &[Login]),
        ("naver-mybox", &[Upload, Download]),
        ("kakao", &[Login]),
    ];
    let c = classifier();
    for (id, activities) in required {
        let app = c
            .catalog()
            .app(id)
            .unwrap_or_else(|| panic!("{id} missing"));
        for a in *activities {
            assert!(
                app.examples.iter().any(|e| e.activity == Some(*a)),
                "{id} has no {a} example"
            );
        }
        assert!(!app.examples.is_empty(), "{id} has no examples");
    }
}

#[test]
fn real_hosts_classify() {
    let c = classifier();
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("www.dropbox.com", "dropbox", None),
        ("WWW.DROPBOX.COM.", "dropbox", None),
        ("content.dropboxapi.com:443", "dropbox", None),
        ("contoso.sharepoint.com", "sharepoint", Some("contoso")),
        ("contoso-my.sharepoint.com", "sharepoint", Some("contoso")),
        ("login.microsoftonline.com", "microsoft-entra-id", None),
        ("outlook.office.com", "outlook", None),
        ("www.office.com", "microsoft-365", None),
        ("teams.microsoft.com", "microsoft-teams", None),
        ("drive.google.com", "google-drive", None),
        ("mail.google.com", "gmail", None),
        ("www.google.com", "google", None),
        ("gemini.google.com", "google-gemini", None),
        ("acme.slack.com", "slack", Some("acme")),
        ("app.slack.com", "slack", None),
        ("chatgpt.com", "chatgpt", None),
        ("chat.openai.com", "chatgpt", None),
        ("api.openai.com", "openai-api", None),
        ("claude.ai", "claude", None),
        ("chat.deepseek.com", "deepseek", None),
        ("www.perplexity.ai", "perplexity", None),
        ("github.com", "github", None),
        ("contoso.atlassian.net", "atlassian", Some("contoso")),
        ("mybox.naver.com", "naver-mybox", None),
        ("www.naver.com", "naver", None),
        ("accounts.kakao.com", "kakao", None),
        ("mega.nz", "mega", None),
        ("wetransfer.com", "wetransfer", None),
    ];
    for (host, app, instance) in cases {
        let facts = c.classify_host(host);
        assert_eq!(&*facts.app_id, *app, "{host}");
        assert_eq!(facts.instance.as_deref(), *instance, "{host}");
        assert!(facts.category.is_some() && facts.risk_score.is_some());
    }
}

#[test]
fn unknown_hosts_report_registrable_domain() {
    let c = classifier();
    for (host, domain) in [
        (
            "files.example-unknown-saas.io",
            Some("example-unknown-saas.io"),
        ),
        ("a.b.unknown-shop.co.uk", Some("unknown-shop.co.uk")),
        ("unknown-thing.github.io.evil.test", None),
        ("192.0.2.1", None),
    ] {
        let f = c.classify_host(host);
        assert_eq!(&*f.app_id, "unknown", "{host}");
        if let Some(d) = domain {
            assert_eq!(f.registrable_domain.as_deref(), Some(d), "{host}");
            assert_eq!(f.usage_key(), d);
        }
        assert_eq!(f.status, AppStatus::Unreviewed);
    }
    for ip in ["192.0.2.1", "[2001:db8::1]:443", "10.0.0.1:8080"] {
        let f = c.classify_host(ip);
        assert_eq!(f.registrable_domain, None, "{ip}");
        assert_eq!(f.usage_key(), f.host.as_str());
    }
    // Subdomains of a known app's domain are that app, not unknown.
    assert_eq!(&*c.classify_host("evil.dropbox.com").app_id, "dropbox");
    // A look-alike is not.
    assert_eq!(&*c.classify_host("dropbox.com.evil.test").app_id, "unknown");
    assert_eq!(&*c.classify_host("notdropbox.com").app_id, "unknown");
}

#[test]
fn routes_attribute_shared_api_hosts() {
    let c = classifier();
    let req = |m, h, p| {
        c.classify(&RequestInfo {
            method: m,
            host: h,
            path: p,
            headers: &NoHeaders,
        })
    };
    assert_eq!(
        &*req("POST", "www.googleapis.com", "/upload/drive/v3/files")
            .app
            .app_id,
        "google-drive"
    );
    assert_eq!(
        &*req("GET", "www.googleapis.com", "/youtube/v3/videos")
            .app
            .app_id,
        "google-apis"
    );
    assert_eq!(
        &*c.classify_host("www.googleapis.com").app_id,
        "google-apis"
    );
}

#[test]
fn admin_overrides_and_status() {
    let mut catalog = Catalog::builtin().unwrap();
    catalog
        .extend_yaml(
            "apps:\n  - id: contoso-wiki\n    name: Contoso Wiki\n    category: collaboration\n    domains: [wiki.contoso.example]\n  - id: dropbox\n    name: Dropbox (pinned score)\n    category: file_sharing\n    domains: [dropbox.com]\n    risk_score: 5\nstatus:\n  dropbox: sanctioned\n  contoso-wiki: sanctioned\n  chatgpt: unsanctioned\n",
            "overrides.yaml",
        )
        .unwrap();
    let c = Classifier::new(catalog).unwrap();
    let f = c.classify_host("a.wiki.contoso.example");
    assert_eq!(&*f.app_id, "contoso-wiki");
    assert_eq!(f.status, AppStatus::Sanctioned);
    let f = c.classify_host("www.dropbox.com");
    assert_eq!(f.risk_score, Some(5));
    assert_eq!(f.status, AppStatus::Sanctioned);
    // The override replaced the entry: dropboxapi.com is no longer Dropbox's.
    assert_eq!(
        &*c.classify_host("content.dropboxapi.com").app_id,
        "unknown"
    );
    assert_eq!(
        c.classify_host("chatgpt.com").status,
        AppStatus::Unsanctioned
    );
    assert_eq!(c.classify_host("claude.ai").status, AppStatus::Unreviewed);

    let mut catalog = Catalog::builtin().unwrap();
    let err = catalog
        .extend_yaml("status:\n  nope: sanctioned\n", "status.yaml")
        .unwrap_err();
    assert!(err.to_string().starts_with("status.yaml:2:"), "{err}");
    let err = catalog
        .extend_yaml(
            "apps:\n  - id: x\n    name: X\n    category: nonsense\n    domains: [x.example]\n",
            "o.yaml",
        )
        .unwrap_err();
    assert!(
        err.to_string().starts_with("o.yaml:4:15: apps[0].category"),
        "{err}"
    );
    let err = catalog
        .extend_yaml(
            "apps:\n  - id: x\n    name: X\n    category: email\n    domains: [Bad_Domain]\n",
            "o.yaml",
        )
        .unwrap_err();
    assert!(err.to_string().contains("o.yaml:2"), "{err}");
    // Claiming an existing domain under a new id is refused by the classifier.
    catalog
        .extend_yaml("apps:\n  - id: my-box\n    name: My Box\n    category: storage\n    domains: [box.com]\n", "dup.yaml")
        .unwrap();
    let err = Classifier::new(catalog).unwrap_err();
    assert!(err.to_string().contains("already claimed"), "{err}");
}

#[test]
fn shared_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Classifier>();
    check::<Catalog>();
    check::<policy::Policy>();
    check::<policy::GeoResolver>();
    check::<policy::Decision>();
    check::<policy::Context>();
}
