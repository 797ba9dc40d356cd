use policy::{Catalog, Classifier, Phase, Policy};

#[test]
fn smoke() {
    let classifier = Classifier::builtin().unwrap();
    let text = r#"
version: 1
default:
  action: allow
dlp_profiles:
  pci:
    detectors: [credit-card]
    min_count: 1
rules:
  - id: block-upload
    when:
      all:
        - app: dropbox
        - activity: upload
        - not:
            group: [admins]
    action: block
    reason: nope
  - id: scan
    when: {app: [dropbox]}
    action: allow
    dlp_profile: pci
"#;
    let (p, w) = Policy::parse(text, "p.yaml", classifier.catalog()).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let ctx = classifier.context_for_host("www.dropbox.com");
    let d = p.evaluate(&ctx, Phase::Connect);
    println!("{d:?}");
    println!("{}", p.explain(&ctx, Phase::Connect));
    let bad = "rules:\n  - id: x\n    when: {app: nope}\n    action: block\n  - id: y\n    action: allw\n    bogus: 1\n";
    let e = Policy::parse(bad, "bad.yaml", &Catalog::empty()).unwrap_err();
    for e in e {
        println!("{e}");
    }
    let bad = "rules:\n  - id: x\n    when: {client_ip: 10.0.0.1/8}\n    action: block\n";
    let e = Policy::parse(bad, "bad.yaml", &Catalog::empty()).unwrap_err();
    for e in e {
        println!("{e}");
    }
}
