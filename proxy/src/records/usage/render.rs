//! Writing the shadow-IT report as an aligned table, CSV or JSON.
//!
//! CSV and JSON share one flat row shape: `kind` (`app` or `unknown`), `id`
//! (app id or registrable domain), `name`, `status`, `category`,
//! `risk_score`, `instances`, `users`, `devices`, `requests`, `bytes_up`,
//! `bytes_down`, `blocked`, `bypassed`, `first_seen`, `last_seen` (RFC 3339
//! UTC). Unknown destinations have no name, status, category or risk score.

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use super::report::{ShadowItReport, Totals};

/// An output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Aligned columns for a terminal.
    Table,
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON array of objects.
    Json,
}

impl FromStr for ReportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Self::Table),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown format {other:?}: expected table, csv or json"
            )),
        }
    }
}

#[derive(Debug, Serialize)]
struct Row<'a> {
    kind: &'static str,
    id: &'a str,
    name: Option<&'a str>,
    status: Option<&'static str>,
    category: Option<&'a str>,
    risk_score: Option<u8>,
    instances: &'a [String],
    users: u64,
    devices: u64,
    requests: u64,
    bytes_up: u64,
    bytes_down: u64,
    blocked: u64,
    bypassed: u64,
    first_seen: String,
    last_seen: String,
}

const CSV_HEADER: &str = "kind,id,name,status,category,risk_score,instances,users,devices,requests,bytes_up,bytes_down,blocked,bypassed,first_seen,last_seen";

fn time(unix: i64) -> String {
    let secs = u64::try_from(unix).unwrap_or(0);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

fn rows(report: &ShadowItReport) -> Vec<Row<'_>> {
    let row = |kind, id, totals: &Totals| Row {
        kind,
        id,
        name: None,
        status: None,
        category: None,
        risk_score: None,
        instances: &[],
        users: totals.users,
        devices: totals.devices,
        requests: totals.requests,
        bytes_up: totals.bytes_up,
        bytes_down: totals.bytes_down,
        blocked: totals.blocked,
        bypassed: totals.bypassed,
        first_seen: time(totals.first_seen),
        last_seen: time(totals.last_seen),
    };
    let apps = report.apps.iter().map(|a| Row {
        name: Some(&a.name),
        status: Some(a.status.as_str()),
        category: a.category.as_deref(),
        risk_score: a.risk_score,
        instances: &a.instances,
        ..row("app", &a.id, &a.totals)
    });
    let unknown = report
        .unknown
        .iter()
        .map(|d| row("unknown", &d.domain, &d.totals));
    apps.chain(unknown).collect()
}

fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// `n` bytes for people: `512 B`, `1.5 KiB`, `3.0 MiB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Lays `rows` out in columns; `numeric[i]` right-aligns column `i`.
fn table(out: &mut String, header: &[&str], numeric: &[bool], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            if numeric[i] {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn counters(r: &Row<'_>) -> [String; 9] {
    [
        r.users.to_string(),
        r.devices.to_string(),
        r.requests.to_string(),
        human_bytes(r.bytes_up),
        human_bytes(r.bytes_down),
        r.blocked.to_string(),
        r.bypassed.to_string(),
        r.first_seen.clone(),
        r.last_seen.clone(),
    ]
}

const COUNTER_HEADER: [&str; 9] = [
    "USERS",
    "DEVICES",
    "REQUESTS",
    "UP",
    "DOWN",
    "BLOCKED",
    "BYPASSED",
    "FIRST SEEN",
    "LAST SEEN",
];
const COUNTER_NUMERIC: [bool; 9] = [true, true, true, true, true, true, true, false, false];

impl ShadowItReport {
    /// The report in `format`, ending with a newline.
    pub fn render(&self, format: ReportFormat) -> String {
        let rows = rows(self);
        match format {
            ReportFormat::Json => {
                // Serialising plain strings and numbers cannot fail.
                let mut out = serde_json::to_string_pretty(&rows).unwrap_or_default();
                out.push('\n');
                out
            }
            ReportFormat::Csv => {
                let mut out = String::from(CSV_HEADER);
                out.push('\n');
                for r in &rows {
                    let fields = [
                        r.kind.to_owned(),
                        r.id.to_owned(),
                        opt(r.name),
                        opt(r.status),
                        opt(r.category),
                        opt(r.risk_score),
                        r.instances.join(";"),
                    ];
                    let numbers = [
                        r.users,
                        r.devices,
                        r.requests,
                        r.bytes_up,
                        r.bytes_down,
                        r.blocked,
                        r.bypassed,
                    ];
                    let all = fields
                        .into_iter()
                        .chain(numbers.iter().map(u64::to_string))
                        .chain([r.first_seen.clone(), r.last_seen.clone()]);
                    for (i, f) in all.enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        csv_field(&mut out, &f);
                    }
                    out.push('\n');
                }
                out
            }
            ReportFormat::Table => self.table(&rows),
        }
    }

    fn table(&self, rows: &[Row<'_>]) -> String {
        let mut out = String::new();
        let (apps, unknown): (Vec<&Row<'_>>, Vec<&Row<'_>>) =
            rows.iter().partition(|r| r.kind == "app");
        let _ = writeln!(out, "Apps in use ({})", apps.len());
        if !apps.is_empty() {
            let mut header = vec!["STATUS", "APP", "NAME", "CATEGORY", "RISK"];
            header.extend(COUNTER_HEADER);
            header.push("INSTANCES");
            let mut numeric = vec![false, false, false, false, true];
            numeric.extend(COUNTER_NUMERIC);
            numeric.push(false);
            let cells: Vec<Vec<String>> = apps
                .iter()
                .map(|r| {
                    let mut cells = vec![
                        opt(r.status),
                        r.id.to_owned(),
                        opt(r.name),
                        r.category.unwrap_or("-").to_owned(),
                        r.risk_score
                            .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    ];
                    cells.extend(counters(r));
                    cells.push(r.instances.join(","));
                    cells
                })
                .collect();
            table(&mut out, &header, &numeric, &cells);
        }
        let _ = writeln!(out, "\nUnknown destinations ({})", unknown.len());
        if !unknown.is_empty() {
            let mut header = vec!["DOMAIN"];
            header.extend(COUNTER_HEADER);
            let mut numeric = vec![false];
            numeric.extend(COUNTER_NUMERIC);
            let cells: Vec<Vec<String>> = unknown
                .iter()
                .map(|r| {
                    let mut cells = vec![r.id.to_owned()];
                    cells.extend(counters(r));
                    cells
                })
                .collect();
            table(&mut out, &header, &numeric, &cells);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::usage::{AppUsage, DomainUsage};
    use policy::AppStatus;

    fn report() -> ShadowItReport {
        let totals = Totals {
            users: 2,
            devices: 0,
            requests: 3,
            bytes_up: 2048,
            bytes_down: 10,
            blocked: 1,
            bypassed: 0,
            first_seen: 0,
            last_seen: 86_400,
        };
        ShadowItReport {
            apps: vec![AppUsage {
                id: "dropbox".into(),
                name: "Dropbox, Inc \"files\"".into(),
                status: AppStatus::Unsanctioned,
                category: Some("file_sharing".into()),
                risk_score: Some(40),
                instances: vec!["a".into(), "b".into()],
                totals,
            }],
            unknown: vec![DomainUsage {
                domain: "shadow.test".into(),
                totals: Totals {
                    bytes_up: 5,
                    ..totals
                },
            }],
        }
    }

    #[test]
    fn formats() {
        assert_eq!("csv".parse(), Ok(ReportFormat::Csv));
        assert!("xml".parse::<ReportFormat>().is_err());
        let r = report();

        let csv = r.render(ReportFormat::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(
            lines[1],
            "app,dropbox,\"Dropbox, Inc \"\"files\"\"\",unsanctioned,file_sharing,40,a;b,2,0,3,2048,10,1,0,1970-01-01T00:00:00Z,1970-01-02T00:00:00Z"
        );
        assert_eq!(
            lines[2],
            "unknown,shadow.test,,,,,,2,0,3,5,10,1,0,1970-01-01T00:00:00Z,1970-01-02T00:00:00Z"
        );

        let json: serde_json::Value = serde_json::from_str(&r.render(ReportFormat::Json)).unwrap();
        let rows = json.as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["kind"], "app");
        assert_eq!(rows[0]["status"], "unsanctioned");
        assert_eq!(rows[0]["bytes_up"], 2048);
        assert_eq!(rows[1]["kind"], "unknown");
        assert_eq!(rows[1]["id"], "shadow.test");
        assert!(rows[1]["status"].is_null());

        let table = r.render(ReportFormat::Table);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "Apps in use (1)");
        assert!(
            lines[1].starts_with("STATUS        APP      NAME"),
            "{table}"
        );
        // Columns line up: every cell of a column starts at the header's offset.
        let up = lines[1].find("  UP").unwrap();
        assert!(lines[2][..up + 4].ends_with("2.0 KiB"), "{table}");
        assert!(table.contains("Unknown destinations (1)"), "{table}");
        assert!(table.contains("shadow.test"), "{table}");
    }
}
