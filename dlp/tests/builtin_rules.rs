//! Every built-in rule's examples and negative examples, checked
//! automatically; the pack's size and shape.

use dlp::{Engine, RulePack};

fn engine() -> (RulePack, Engine) {
    let pack = RulePack::builtin().expect("built-in pack parses");
    let engine = Engine::compile(&pack).expect("built-in pack compiles");
    (pack, engine)
}

#[test]
fn builtin_pack_has_at_least_40_detectors_with_examples() {
    let (pack, _) = engine();
    assert!(pack.len() >= 40, "only {} rules", pack.len());
    for rule in pack.rules() {
        assert!(!rule.examples.is_empty(), "{} has no examples", rule.id);
        assert!(
            !rule.negative_examples.is_empty(),
            "{} has no negative examples",
            rule.id
        );
    }
}

#[test]
fn every_example_is_detected_and_no_negative_is() {
    let (pack, engine) = engine();
    let mut failures = Vec::new();
    for rule in pack.rules() {
        for ex in &rule.examples {
            let found = engine.scan(ex.as_bytes());
            if !found.iter().any(|f| *f.rule == *rule.id) {
                failures.push(format!(
                    "{}: example not detected: {ex:?} (got {:?})",
                    rule.id, found
                ));
            }
        }
        for ex in &rule.negative_examples {
            let found = engine.scan(ex.as_bytes());
            if found.iter().any(|f| *f.rule == *rule.id) {
                failures.push(format!("{}: negative example detected: {ex:?}", rule.id));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    engine.check_examples(&pack).unwrap();
}

#[test]
fn findings_never_expose_the_matched_value() {
    let (pack, engine) = engine();
    for rule in pack.rules() {
        for ex in &rule.examples {
            for f in engine.scan(ex.as_bytes()) {
                let value = &ex.as_bytes()[f.start as usize..f.end as usize];
                let value = String::from_utf8_lossy(value);
                let shown = format!("{f:?}");
                assert!(
                    !shown.contains(value.as_ref()),
                    "{}: finding exposes {value:?}: {shown}",
                    rule.id
                );
                assert!(!f.excerpt.contains(value.as_ref()));
                assert_eq!(f.excerpt.chars().count(), value.chars().count());
            }
        }
    }
}
