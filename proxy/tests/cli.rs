//! The `portcullis` command line: CA export and key permissions, config
//! check errors naming file, line and field, and the command tree.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn portcullis() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

/// `args!["config", "check", &path]`: command-line words of mixed types
/// (`&str`, `String`, `Path`, `PathBuf`…) as one `Vec<OsString>`, for
/// [`succeeds`] and [`fails`].
macro_rules! args {
    ($($arg:expr),* $(,)?) => {
        vec![$(OsString::from(OsStr::new(&$arg))),*]
    };
}

/// Runs `portcullis ARGS…` to completion; returns the words it ran with
/// (for failure messages) and its output.
#[track_caller]
fn run<I, S>(args: I) -> (Vec<OsString>, Output)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
    let out = portcullis().args(&args).output().unwrap();
    (args, out)
}

/// Runs `portcullis ARGS…`, requires success and returns its stdout
/// (which must be UTF-8). A failure names the command, its stdout and its
/// stderr.
#[track_caller]
fn succeeds<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (args, out) = run(args);
    assert!(
        out.status.success(),
        "portcullis {args:?} failed ({})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Runs `portcullis ARGS…`, requires failure and returns its stderr.
#[track_caller]
fn fails<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (args, out) = run(args);
    assert!(
        !out.status.success(),
        "portcullis {args:?} should have failed: {out:?}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes `contents` to the file `name` in `dir` and returns its path.
#[track_caller]
fn write_file(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn ca_export_generates_a_private_key_and_refuses_a_readable_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pem = succeeds(args!["ca", "export", "--data-dir", &data]);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = data.join("ca.key");
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        // Both must refuse a 0644 key.
        for command in [
            args!["ca", "export"],
            args!["run", "--listen", "127.0.0.1:0"],
        ] {
            let err = fails(command.into_iter().chain(args!["--data-dir", &data]));
            assert!(err.contains("chmod 600") && err.contains("ca.key"), "{err}");
        }
    }
}

#[test]
fn config_check_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_file(
        dir.path(),
        "good.toml",
        "[proxy]\nlisten = \"127.0.0.1:3129\"\n[inspection]\nbypass = [\"*.bank.example\"]\n",
    );
    succeeds(args!["config", "check", &good]);

    let bad = write_file(
        dir.path(),
        "bad.toml",
        "[proxy]\nlisten = \"127.0.0.1:3129\"\n\n[upstream]\nconnect_ports = \"443\"\n",
    );
    let err = fails(args!["config", "check", "--config", &bad]);
    assert!(err.contains(&format!("{}:5:", bad.display())), "{err}");
    assert!(err.contains("upstream.connect_ports"), "{err}");

    // The embedded defaults are valid.
    succeeds(["config", "check"]);

    // Files the configuration names are checked too, with their own lines.
    let policy = write_file(
        dir.path(),
        "policy.yaml",
        "rules:\n  - id: r\n    when: {category: no_such_category}\n    action: block\n",
    );
    let with_policy = write_file(
        dir.path(),
        "with-policy.toml",
        format!("[policy]\nfile = {:?}\n", policy.display().to_string()),
    );
    let err = fails(args!["config", "check", &with_policy]);
    assert!(err.contains("policy.yaml:3"), "{err}");
}

#[test]
fn dlp_scan_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"pay with 4111 1111 1111 1111 today\n").unwrap();
    let input = write_file(dir.path(), "leak.txt.gz", gz.finish().unwrap());
    let stdout = succeeds(args!["dlp", "scan", &input]);
    let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(line["rule"], "card-visa");
    assert_eq!(line["start"], 9);
    assert_eq!(line["excerpt"], "4111***********1111");
    assert!(!stdout.contains("4111 1111 1111 1111"));

    // A PDF whose page text is deflated: found in the part `<file>#text`.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, b"BT 72 720 Td (SSN 536-22-8726) Tj ET").unwrap();
    let z = z.finish().unwrap();
    let mut pdf = format!(
        "%PDF-1.4\n4 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n",
        z.len()
    )
    .into_bytes();
    pdf.extend_from_slice(&z);
    pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
    let input = write_file(dir.path(), "form.pdf", pdf);
    let stdout = succeeds(args!["dlp", "scan", &input]);
    let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(line["rule"], "us-ssn");
    assert_eq!(line["part"], "#text");

    assert!(succeeds(["dlp", "rules"]).lines().count() >= 40);
    let bad = write_file(
        dir.path(),
        "rules.yaml",
        "rules:\n  - id: open-ended\n    name: x\n    category: custom\n    patterns: [{regex: 'a.*b'}]\n",
    );
    let err = fails(args!["dlp", "rules", "--rules", &bad]);
    assert!(
        err.contains("rules.yaml") && err.contains("open-ended"),
        "{err}"
    );
}

#[test]
fn classify_and_policy_commands() {
    let stdout = succeeds([
        "classify",
        "--method",
        "POST",
        "https://chatgpt.com/backend-api/files",
        "https://shadow-saas.example.io/",
    ]);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["app_id"], "chatgpt");
    assert_eq!(lines[0]["activity"], "upload");
    assert_eq!(lines[1]["app_id"], "unknown");
    assert_eq!(lines[1]["registrable_domain"], "example.io");

    let dir = tempfile::tempdir().unwrap();
    let bad = write_file(
        dir.path(),
        "p.yaml",
        "rules:\n  - id: r1\n    when: {category: not_a_category}\n    action: block\n",
    );
    let err = fails(args!["policy", "check", &bad]);
    assert!(err.contains("p.yaml:"), "{err}");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../policy/examples");
    succeeds(["policy", "check", &format!("{examples}/policy.yaml")]);
    let stdout = succeeds(["policy", "test", &format!("{examples}/policy.tests.yaml")]);
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

/// `classify` prints exactly the documented fields, and an extra catalogue
/// (`--catalog`) is what `classify`, `policy check` and `policy test` use.
#[test]
fn admin_catalogue_serves_classify_and_policy_commands() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = write_file(
        dir.path(),
        "apps.yaml",
        concat!(
            "apps:\n",
            "  - id: acme-vault\n",
            "    name: Acme Vault\n",
            "    vendor: Acme\n",
            "    category: storage\n",
            "    domains: [acmevault.example]\n",
            "    activities:\n",
            "      - {activity: upload, methods: [PUT], path: '^/v1/objects/'}\n",
            "status:\n",
            "  acme-vault: sanctioned\n",
        ),
    );
    let catalog = catalog.to_str().unwrap();
    let stdout = succeeds([
        "classify",
        "--catalog",
        catalog,
        "--method",
        "PUT",
        "https://eu.acmevault.example/v1/objects/q3.xlsx",
    ]);
    let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let keys: std::collections::BTreeSet<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "url",
            "app_id",
            "app_name",
            "category",
            "instance",
            "activity",
            "risk_score",
            "status",
            "registrable_domain",
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(line["app_id"], "acme-vault");
    assert_eq!(line["activity"], "upload");
    assert_eq!(line["status"], "sanctioned");
    assert_eq!(line["registrable_domain"], "acmevault.example");

    let policy = write_file(
        dir.path(),
        "policy.yaml",
        "rules:\n  - id: no-vault-uploads\n    when: {all: [{app: acme-vault}, {activity: upload}]}\n    action: block\n    reason: use the corporate store\n",
    );
    let tests = write_file(
        dir.path(),
        "policy.tests.yaml",
        "policy: policy.yaml\ncases:\n  - name: vault upload blocked\n    context: {host: eu.acmevault.example, method: PUT, path: /v1/objects/a}\n    expect: {action: block, rule: no-vault-uploads}\n",
    );
    let (policy, tests) = (policy.to_str().unwrap(), tests.to_str().unwrap());
    // Without the catalogue the app is unknown: an error naming file:line.
    let err = fails(["policy", "check", policy]);
    assert!(
        err.contains("policy.yaml:3") && err.contains("acme-vault"),
        "{err}"
    );
    succeeds(["policy", "check", "--catalog", catalog, policy]);
    let stdout = succeeds(["policy", "test", "--catalog", catalog, tests]);
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}

#[test]
fn the_command_tree_is_complete() {
    let out = portcullis().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["run", "ca", "config", "dlp", "classify", "policy", "report"] {
        assert!(help.contains(cmd), "{help}");
    }
}

/// A usage database as the proxy writes it: one unsanctioned app (through
/// the status file), one never reviewed, two unknown domains.
fn usage_database(data: &Path) {
    use portcullis::records::usage::{unix_now, Store, Tally, UsageKey};
    let now = unix_now();
    let row = |app: &str, user: &str, up: u64, last_seen: i64| {
        (
            UsageKey {
                app: app.into(),
                instance: None,
                user: Some(user.into()),
                device: None,
            },
            Tally {
                requests: 1,
                bytes_up: up,
                bytes_down: 10,
                blocked: 0,
                bypassed: 0,
                first_seen: last_seen - 5,
                last_seen,
            },
        )
    };
    let mut store = Store::create(&data.join("usage.sqlite")).unwrap();
    store
        .write(&std::collections::HashMap::from([
            row("github", "alice", 100_000, now),
            row("dropbox", "alice", 10, now),
            row("dropbox", "bob", 20, now),
            row("unknown:small.test", "bob", 5, now),
            row("unknown:big.test", "alice", 7_000, now),
            row("unknown:old.test", "alice", 9_000_000, now - 30 * 86_400),
        ]))
        .unwrap();
}

#[test]
fn report_shadow_it_prints_the_usage_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let err = fails(args!["report", "shadow-it", "--data-dir", &data]);
    assert!(
        err.contains(&data.join("usage.sqlite").display().to_string()),
        "a missing database is named: {err}"
    );

    usage_database(&data);
    let status = write_file(
        dir.path(),
        "status.yaml",
        "status:\n  dropbox: unsanctioned\n",
    );
    let config = write_file(
        dir.path(),
        "p.toml",
        format!(
            "[policy]\napp_status = {:?}\n",
            status.display().to_string()
        ),
    );
    let report = |extra: &[&str]| {
        let mut args = args![
            "report",
            "shadow-it",
            "--config",
            &config,
            "--data-dir",
            &data
        ];
        args.extend(extra.iter().map(OsString::from));
        succeeds(args)
    };

    let json: serde_json::Value =
        serde_json::from_str(&report(&["--format", "json", "--since", "7d"])).unwrap();
    let ids: Vec<(&str, &str)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ids,
        [
            ("app", "dropbox"),
            ("app", "github"),
            ("unknown", "big.test"),
            ("unknown", "small.test"),
        ],
        "unsanctioned first; unknown by upload; old.test is outside --since"
    );
    assert_eq!(json[0]["status"], "unsanctioned");
    assert_eq!(json[0]["users"], 2);
    assert_eq!(json[0]["bytes_up"], 30);
    assert_eq!(json[0]["category"], "file_sharing");
    assert!(json[0]["risk_score"].is_u64());
    assert_eq!(json[1]["status"], "unreviewed");

    let all = report(&["--format", "csv"]);
    let lines: Vec<&str> = all.lines().collect();
    assert!(lines[0].starts_with("kind,id,name,status,"), "{all}");
    assert_eq!(lines.len(), 6, "header and five rows: {all}");
    assert!(lines[3].starts_with("unknown,old.test,"), "{all}");

    let table = report(&[]);
    assert!(table.starts_with("Apps in use (2)\nSTATUS"), "{table}");
    assert!(table.contains("Unknown destinations (3)"), "{table}");

    let err = fails(args![
        "report",
        "shadow-it",
        "--format",
        "xml",
        "--data-dir",
        &data
    ]);
    assert!(err.contains("table, csv or json"), "{err}");
}

#[cfg(unix)]
#[test]
fn run_serves_and_shuts_down_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let config = write_file(
        dir.path(),
        "p.toml",
        "[proxy]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"off\"\n[log]\naccess = \"off\"\n",
    );
    let mut child = portcullis()
        .args(["run", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("portcullis listening"));
    assert!(listening.is_some(), "no start-up line");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
    assert!(child.wait().unwrap().success(), "exit 0 after SIGTERM");
}

#[test]
fn config_check_validates_pac() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // (file text, expected line, expected field, message fragment)
        (
            "[proxy]\nlisten = \"0.0.0.0:3128\"\n\n[pac]\nlisten = \"0.0.0.0:8080\"\n",
            4,
            "pac.proxies",
            "no proxies are listed",
        ),
        (
            "[pac]\nlisten = \"0.0.0.0:8080\"\nproxies = [\"p.example:3128\"]\ndirect = [\"ok.example\", \"x\\\"); return(\\\"DIRECT\"]\n",
            4,
            "pac.direct",
            "not allowed in a host name",
        ),
        (
            "[pac]\nproxies = [\"p.example:3128; DIRECT\"]\n",
            2,
            "pac.proxies",
            "is not `host:port`",
        ),
    ];
    for (i, (text, line, field, fragment)) in cases.into_iter().enumerate() {
        let file = write_file(dir.path(), &format!("pac-{i}.toml"), text);
        let err = fails(args!["config", "check", &file]);
        assert!(
            err.contains(&format!("{}:{line}:", file.display())),
            "{text}: {err}"
        );
        assert!(
            err.contains(field) && err.contains(fragment),
            "{text}: {err}"
        );
    }
    let good = write_file(
        dir.path(),
        "pac-good.toml",
        "[pac]\nlisten = \"0.0.0.0:8080\"\nproxies = [\"p.example:3128\"]\n\
         direct = [\".corp.example\", \"10.0.0.0/8\"]\nmicrosoft365_optimize = true\n",
    );
    succeeds(args!["config", "check", &good]);
}

/// The README's configuration reference is a configuration the proxy
/// accepts: documentation and code cannot drift apart unnoticed.
#[test]
fn the_readme_configuration_reference_passes_config_check() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let section = &readme[readme
        .find("## Configuration reference")
        .expect("reference section")..];
    let start = section.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + section[start..].find("```").expect("block end");
    let dir = tempfile::tempdir().expect("dir");
    let path = write_file(dir.path(), "reference.toml", &section[start..end]);
    succeeds(args!["config", "check", "--config", &path]);
}
