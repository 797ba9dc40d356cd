//! `portcullis dlp scan` and `portcullis dlp rules`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use dlp::decode::{Blocklist, BodyMeta, BodyScanner, Limits};
use dlp::{Engine, Finding, RulePack};
use serde::Serialize;

/// Loads `--rules FILE` or the built-in pack, compiled.
pub(crate) fn load_engine(rules: Option<&Path>) -> Result<(RulePack, Engine), String> {
    let pack = match rules {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            RulePack::parse(&text, &path.display().to_string()).map_err(|e| e.to_string())?
        }
        None => RulePack::builtin().map_err(|e| e.to_string())?,
    };
    let engine = Engine::compile(&pack).map_err(|e| e.to_string())?;
    Ok((pack, engine))
}

/// `dlp rules`: checks the pack (examples included) and lists its rules.
pub fn rules(rules: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (pack, engine) = match load_engine(rules) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Err(e) = engine.check_examples(&pack) {
        eprintln!("{e}");
        return Ok(ExitCode::FAILURE);
    }
    let mut out = std::io::stdout().lock();
    for rule in engine.rules() {
        writeln!(
            out,
            "{}\t{}\t{}",
            rule.id,
            rule.category.as_str(),
            rule.confidence.as_str()
        )?;
    }
    eprintln!("{} rules, examples verified", pack.len());
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct FindingLine<'a> {
    rule: &'a str,
    start: u64,
    end: u64,
    confidence: &'static str,
    excerpt: &'a str,
    part: Option<&'a str>,
    input: &'a str,
}

/// `dlp scan`: decodes each input as the proxy would and prints one JSON
/// line per finding.
pub fn scan(rules: Option<&Path>, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let (_, engine) = match load_engine(rules) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let stdin = [PathBuf::from("-")];
    let inputs = if paths.is_empty() { &stdin[..] } else { paths };
    let mut failed = false;
    for path in inputs {
        let name = path.display().to_string();
        let mut reader: Box<dyn Read> = if name == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(path).with_context(|| name.clone())?)
        };
        let mut buf = vec![0u8; 64 * 1024];
        let first = reader.read(&mut buf).with_context(|| name.clone())?;
        let meta = BodyMeta {
            content_encoding: encoding_of(path, &buf[..first]),
            content_type: media_type_of(path),
        };
        let mut scanner = BodyScanner::new(
            &engine,
            &meta,
            Limits::default(),
            Arc::new(Blocklist::new()),
        );
        let mut findings = scanner.feed(&buf[..first]);
        print(&findings, &name)?;
        loop {
            let n = reader.read(&mut buf).with_context(|| name.clone())?;
            if n == 0 {
                break;
            }
            findings = scanner.feed(&buf[..n]);
            print(&findings, &name)?;
        }
        let report = scanner.finish();
        print(&report.findings, &name)?;
        for part in &report.parts {
            eprintln!(
                "{name}: part {} type {} size {} sha256 {}",
                part.path.as_deref().unwrap_or("-"),
                part.file_type.as_str(),
                part.size,
                part.sha256
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), dlp::decode::hex)
            );
        }
        if let Some(e) = report.error {
            eprintln!("{name}: undecodable: {e}");
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print(findings: &[Finding], input: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for f in findings {
        let line = FindingLine {
            rule: &f.rule,
            start: f.start,
            end: f.end,
            confidence: f.confidence.as_str(),
            excerpt: &f.excerpt,
            part: f.part.as_deref(),
            input,
        };
        writeln!(out, "{}", serde_json::to_string(&line)?)?;
    }
    Ok(())
}

/// The content coding of a file: from its magic bytes (gzip, zstd) or, for
/// brotli which has none, its `.br` extension.
fn encoding_of(path: &Path, head: &[u8]) -> Option<String> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some("gzip".into())
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd".into())
    } else if path.extension().is_some_and(|e| e == "br") {
        Some("br".into())
    } else {
        None
    }
}

/// A media type for files whose structure the decoders understand by type.
fn media_type_of(path: &Path) -> Option<String> {
    let name = path.to_string_lossy();
    let name = name
        .trim_end_matches(".gz")
        .trim_end_matches(".zst")
        .trim_end_matches(".br");
    if name.ends_with(".json") {
        Some("application/json".into())
    } else {
        None
    }
}
