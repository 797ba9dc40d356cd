//! The example policy and its tests, run through the suite runner.

use policy::suite::Suite;
use policy::{Classifier, Policy};

#[test]
fn example_policy_passes_its_tests() {
    let classifier = Classifier::builtin().unwrap();
    let text = include_str!("../examples/policy.yaml");
    let (policy, warnings) =
        Policy::parse(text, "examples/policy.yaml", classifier.catalog()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let suite = Suite::parse(
        include_str!("../examples/policy.tests.yaml"),
        "examples/policy.tests.yaml",
    )
    .unwrap();
    assert_eq!(suite.policy_path(), Some("policy.yaml"));
    let report = suite.run(&policy, &classifier);
    assert_eq!(report.failed(), 0, "{report}");
    assert!(report.passed() >= 10);
}

#[test]
fn failing_cases_say_why() {
    let classifier = Classifier::builtin().unwrap();
    let (policy, _) = Policy::parse(
        "rules:\n  - id: b\n    when: {app: box}\n    action: block\n",
        "p.yaml",
        classifier.catalog(),
    )
    .unwrap();
    let suite = Suite::parse(
        "cases:\n  - name: wrong\n    context: {host: app.box.com}\n    expect: {action: allow, rule: default}\n  - name: bad context\n    context: {host: x.example, time: whenever}\n    expect: {action: allow}\n",
        "t.yaml",
    )
    .unwrap();
    let report = suite.run(&policy, &classifier);
    assert_eq!(report.failed(), 2);
    let text = report.to_string();
    assert!(text.contains("t.yaml:2:"), "{text}");
    assert!(text.contains("action: expected allow, got block"), "{text}");
    assert!(text.contains("rule: expected `default`, got `b`"), "{text}");
    assert!(text.contains("bad context"), "{text}");
    assert!(text.ends_with("0 passed, 2 failed"), "{text}");
    let err = Suite::parse(
        "cases:\n  - name: x\n    context: {host: a.b}\n    expect: {acton: allow}\n",
        "t.yaml",
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("t.yaml:4"), "{err}");
}
