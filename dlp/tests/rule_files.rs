//! Rule-file parsing and compilation errors name the origin, line and rule;
//! dictionaries, context, min_count and custom rules behave as documented.

use dlp::{Engine, RuleError, RulePack};

fn compile(text: &str) -> Result<Engine, RuleError> {
    Engine::compile(&RulePack::parse(text, "custom.yaml")?)
}

#[test]
fn errors_name_origin_line_and_rule() {
    let cases: &[(&str, usize, Option<&str>, &str)] = &[
        ("rules:\n  - id: a\n    patterns:\n      - regex: 'x+'\n", 2, Some("a"), "bounded"),
        (
            "rules:\n  - id: ok\n    patterns: [{regex: 'abc'}]\n  - id: bad\n    validator: nope\n    patterns: [{regex: 'abc'}]\n",
            5,
            Some("bad"),
            "unknown validator",
        ),
        ("rules:\n  - id: b\n    patterns:\n      - regex: '(unclosed'\n", 2, Some("b"), "pattern 0"),
        ("rules:\n  - id: c\n    category: secrets\n    keywords: [x]\n", 3, Some("c"), "unknown category"),
        ("rules:\n  - id: d\n    keywords: [x]\n  - id: d\n    keywords: [y]\n", 4, Some("d"), "duplicate"),
        ("rules:\n  - id: e\n    bogus: 1\n    keywords: [x]\n", 3, None, "bogus"),
        ("rules: [\n", 2, None, ""),
        ("rules:\n  - id: f\n    patterns: [{regex: 'a*'}]\n", 2, Some("f"), ""),
        ("rules:\n  - id: g\n    patterns: [{regex: '\\d{1,5000}'}]\n", 2, Some("g"), "bounded"),
        ("rules:\n  - id: h\n    patterns: [{regex: 'ab', trigger: context}]\n", 2, Some("h"), "context"),
        ("rules:\n  - id: Upper\n    keywords: [x]\n", 2, Some("Upper"), "rule id"),
    ];
    for (text, line, rule, needle) in cases {
        let err = compile(text).expect_err(text);
        let at = err.location();
        assert_eq!(at.origin, "custom.yaml", "{err}");
        assert_eq!(at.line, *line, "{text:?}: {err}");
        if let Some(rule) = rule {
            assert_eq!(at.rule.as_deref(), Some(*rule), "{err}");
        }
        let shown = err.to_string();
        assert!(shown.starts_with(&format!("custom.yaml:{line}")), "{shown}");
        assert!(shown.contains(needle), "{shown}");
    }
}

#[test]
fn examples_are_checked_with_their_rule_location() {
    let pack = RulePack::parse(
        "rules:\n  - id: tok\n    patterns: [{regex: '\\bTOK-\\d{4}\\b'}]\n    examples: ['TOK-12']\n",
        "x.yaml",
    )
    .unwrap();
    let err = Engine::compile(&pack)
        .unwrap()
        .check_examples(&pack)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.yaml:2: rule `tok`: positive example 0 is not detected"
    );
}

#[test]
fn dictionaries_are_case_insensitive_whole_word_with_phrases() {
    let e = compile(
        "rules:\n  - id: codenames\n    keywords: [titan, 'project aurora', 프로젝트X]\n  - id: exact\n    keywords: [Zeta]\n    case_sensitive: true\n  - id: sub\n    keywords: [confid]\n    whole_word: false\n",
    )
    .unwrap();
    let hits = |t: &str| {
        let mut v: Vec<String> = e
            .scan(t.as_bytes())
            .iter()
            .map(|f| f.rule.to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(hits("the TITAN launch"), vec!["codenames"]);
    assert!(hits("titanic").is_empty());
    assert_eq!(hits("PROJECT  Aurora starts"), vec!["codenames"]);
    assert_eq!(hits("Zeta zeta"), vec!["exact"]);
    assert_eq!(hits("CONFIDENTIAL"), vec!["sub"]);
    assert_eq!(hits("about 프로젝트X today"), vec!["codenames"]);
}

#[test]
fn context_and_min_count() {
    let e = compile(
        "rules:\n  - id: emp\n    patterns: [{regex: '\\bE\\d{6}\\b'}]\n    context: {keywords: [employee], window: 20, required: true}\n  - id: many\n    patterns: [{regex: '\\bX\\d{3}\\b'}]\n    min_count: 3\n",
    )
    .unwrap();
    assert!(e.scan(b"E123456").is_empty());
    assert_eq!(e.scan(b"employee id E123456").len(), 1);
    assert!(e.scan(b"X100 X200").is_empty());
    let found = e.scan(b"X100 X200 X300 X400");
    assert_eq!(found.len(), 4);
    assert_eq!(found.last().map(|f| f.count), Some(4));
}

#[test]
fn custom_regex_without_literals_uses_the_scan_fallback() {
    let e =
        compile("rules:\n  - id: hexid\n    patterns: [{regex: '\\b[0-9a-f]{32}\\b'}]\n").unwrap();
    let text = b"id=0123456789abcdef0123456789abcdef end";
    let whole = e.scan(text);
    assert_eq!(whole.len(), 1);
    let mut s = e.stream();
    let mut got = Vec::new();
    for b in text {
        got.extend(s.feed(std::slice::from_ref(b)));
    }
    got.extend(s.finish());
    assert_eq!(got, whole);
}

#[test]
fn dictionary_scans_long_text_identically_in_any_chunking() {
    let words: Vec<String> = (0..500).map(|i| format!("kw{i}zx")).collect();
    let mut yaml = String::from("rules:\n  - id: dict\n    keywords:\n");
    for w in &words {
        yaml.push_str(&format!("      - '{w}'\n"));
    }
    yaml.push_str("      - 'two words'\n");
    let e = compile(&yaml).unwrap();
    let mut text = String::new();
    let mut planted = 0;
    for i in 0..3000 {
        match i % 7 {
            0 => {
                text.push_str(&words[i % 500].to_uppercase());
                planted += 1;
            }
            3 => {
                text.push_str("Two  Words");
                planted += 1;
            }
            5 => text.push_str("kw1zxx notkw2zx 한국어단어"),
            _ => text.push_str("plain filler_words here"),
        }
        text.push_str(if i % 11 == 0 { ",\n" } else { " " });
    }
    let whole = e.scan(text.as_bytes());
    assert_eq!(whole.len(), planted);
    for step in [1, 7, 63, 64, 65, 4096] {
        let mut s = e.stream();
        let mut got = Vec::new();
        for c in text.as_bytes().chunks(step) {
            got.extend(s.feed(c));
        }
        got.extend(s.finish());
        got.sort_by_key(|f| f.start);
        assert_eq!(got, whole, "step {step}");
    }
}
