//! `portcullis classify`, `policy check` and `policy test`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use policy::classify::NoHeaders;
use policy::{Catalog, Classifier, Policy};

/// The built-in catalogue, extended with `extra` (apps and status overrides).
pub(crate) fn classifier(extra: Option<&Path>) -> Result<Classifier, String> {
    let mut catalog = Catalog::builtin().map_err(|e| e.to_string())?;
    if let Some(path) = extra {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        catalog
            .extend_yaml(&text, &path.display().to_string())
            .map_err(|e| e.to_string())?;
    }
    Classifier::new(catalog).map_err(|e| e.to_string())
}

/// `classify`: one JSON line per URL.
pub fn classify(catalog: Option<&Path>, method: &str, urls: &[String]) -> anyhow::Result<ExitCode> {
    let classifier = match classifier(catalog) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut code = ExitCode::SUCCESS;
    for url in urls {
        match classifier.classify_url(method, url, &NoHeaders) {
            Ok(report) => println!("{}", serde_json::to_string(&report)?),
            Err(e) => {
                eprintln!("{e}");
                code = ExitCode::FAILURE;
            }
        }
    }
    Ok(code)
}

/// Reads and validates a policy; prints errors and warnings with file:line.
pub(crate) fn load_policy(path: &Path, classifier: &Classifier) -> anyhow::Result<Option<Policy>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    match policy::check_policy(&text, &path.display().to_string(), classifier.catalog()) {
        Ok((policy, warnings)) => {
            for w in warnings {
                eprintln!("warning: {w}");
            }
            Ok(Some(policy))
        }
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            Ok(None)
        }
    }
}

/// `policy check [--catalog EXTRA] FILE`.
pub fn check(catalog: Option<&Path>, file: &Path) -> anyhow::Result<ExitCode> {
    let classifier = classifier(catalog).map_err(anyhow::Error::msg)?;
    Ok(match load_policy(file, &classifier)? {
        Some(_) => {
            println!("{}: ok", file.display());
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    })
}

/// `policy test [--catalog EXTRA] FILE`: runs the cases against the policy
/// the file names.
pub fn test(catalog: Option<&Path>, file: &Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
    let suite = match policy::suite::Suite::parse(&text, &file.display().to_string()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let Some(policy_path) = suite.policy_path() else {
        eprintln!(
            "error: {}: the test file must name its `policy:` file",
            file.display()
        );
        return Ok(ExitCode::FAILURE);
    };
    let policy_path = file.parent().unwrap_or(Path::new(".")).join(policy_path);
    let classifier = classifier(catalog).map_err(anyhow::Error::msg)?;
    let Some(policy) = load_policy(&policy_path, &classifier)? else {
        return Ok(ExitCode::FAILURE);
    };
    let report = suite.run(&policy, &classifier);
    println!("{report}");
    Ok(if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
