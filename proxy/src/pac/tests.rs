//! Unit tests of PAC generation (evaluation with a real PAC engine is in
//! `tests/tests/pac.rs`).

use super::*;
use crate::config::Listen;

fn section(proxies: &[&str], direct: &[&str]) -> PacSection {
    PacSection {
        listen: Listen::On("127.0.0.1:0".parse().unwrap()),
        proxies: proxies.iter().map(|s| s.to_string()).collect(),
        direct: direct.iter().map(|s| s.to_string()).collect(),
        ..PacSection::default()
    }
}

#[test]
fn output_is_deterministic_and_independent_of_entry_order() {
    let a = section(
        &["a.example:3128", "b.example:3128"],
        &[".corp.example", "10.0.0.0/8", "wiki.example", "fd00::/8"],
    );
    let b = section(
        &["a.example:3128", "b.example:3128"],
        &[
            "fd00::/8",
            "wiki.example",
            "10.0.0.0/8",
            "*.corp.example",
            ".corp.example",
        ],
    );
    let first = Script::generate(&a).unwrap();
    assert_eq!(first, Script::generate(&a).unwrap());
    assert_eq!(first, Script::generate(&b).unwrap());
    assert!(first
        .text
        .contains("var PROXIES = \"PROXY a.example:3128; PROXY b.example:3128\";"));
    assert!(first.text.contains("[\"10.0.0.0\", \"255.0.0.0\"]"));
    assert!(first
        .text
        .contains("[[0xfd00, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0], 8]"));
}

#[test]
fn proxy_order_is_kept_and_direct_fallback_is_opt_in() {
    let mut pac = section(&["b.example:1", "https://a.example:2"], &[]);
    let rules = Rules::from_config(&pac).unwrap();
    assert_eq!(rules.proxy_result(), "PROXY b.example:1; HTTPS a.example:2");
    pac.fallback_direct = true;
    let rules = Rules::from_config(&pac).unwrap();
    assert_eq!(
        rules.proxy_result(),
        "PROXY b.example:1; HTTPS a.example:2; DIRECT"
    );
    pac.proxies.push("b.example:1".into());
    let err = Rules::from_config(&pac).unwrap_err();
    assert_eq!(err.field, "proxies");
}

#[test]
fn config_values_cannot_inject_script() {
    let hostile = [
        "x\"; return \"DIRECT",
        "x\\\"",
        "a\nb",
        "a\u{2028}b",
        "</script>",
        "a'b",
        "x.example/*",
    ];
    for text in hostile {
        let err = Script::generate(&section(&["p.example:1"], &[text])).unwrap_err();
        assert_eq!(err.field, "direct", "{text:?}");
        let err = Script::generate(&section(&[&format!("{text}:1")], &[])).unwrap_err();
        assert_eq!(err.field, "proxies", "{text:?}");
    }
    let mut pac = section(&["p.example:1"], &[]);
    pac.microsoft365_optimize = true;
    pac.microsoft365_tenant = Some("x\"y".into());
    assert_eq!(
        Script::generate(&pac).unwrap_err().field,
        "microsoft365_tenant"
    );
    // The last line of defence escapes whatever reaches it.
    assert_eq!(
        script::js_string("a\"b\\c\nd\u{2028}"),
        "\"a\\u0022b\\u005cc\\u000ad\\u2028\""
    );
}

#[test]
fn bypassed_hosts_are_not_sent_direct() {
    let text = "[inspection]\nbypass = [\"bank.example\", \"*.pinned.example\"]\n\n\
                [pac]\nlisten = \"127.0.0.1:0\"\nproxies = [\"proxy.corp.example:3128\"]\n\
                direct = [\".corp.example\"]\n";
    let config: crate::config::Config = toml::from_str(text).unwrap();
    let script = Script::generate(&config.pac).unwrap();
    assert!(!script.text.contains("bank.example"), "{}", script.text);
    assert!(!script.text.contains("pinned.example"), "{}", script.text);
    let rules = Rules::from_config(&config.pac).unwrap();
    assert_eq!(rules.domains, BTreeSet::from(["corp.example".to_owned()]));
    assert!(rules.hosts.is_empty());
}

#[test]
fn microsoft365_list_parses_and_tenant_lines_need_a_tenant() {
    let lines: Vec<&str> = MICROSOFT365_OPTIMIZE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(lines.len() >= 4);
    for line in &lines {
        let line = line.replace("{tenant}", "contoso");
        assert!(parse_direct(&line).is_ok(), "{line:?} does not parse");
    }
    let mut pac = section(&["p.example:1"], &[]);
    pac.microsoft365_optimize = true;
    let rules = Rules::from_config(&pac).unwrap();
    assert!(rules.hosts.contains("outlook.office365.com"));
    assert!(!rules.hosts.iter().any(|h| h.contains("sharepoint")));
    pac.microsoft365_tenant = Some("Contoso".into());
    let rules = Rules::from_config(&pac).unwrap();
    assert!(rules.hosts.contains("contoso.sharepoint.com"));
    assert!(rules.hosts.contains("contoso-my.sharepoint.com"));
}
