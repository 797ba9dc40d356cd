//! Policy tests as data: a YAML file of contexts with expected decisions,
//! run against a compiled policy (`portcullis policy test FILE`).
//!
//! ```yaml
//! policy: policy.yaml        # optional; the CLI resolves it relative to this file
//! cases:
//!   - name: contractors cannot upload to personal Dropbox
//!     phase: request          # connect | request | after_dlp (default request)
//!     context:
//!       user: carol
//!       groups: [contractors]
//!       host: content.dropboxapi.com
//!       method: POST
//!       path: /2/files/upload
//!     expect:
//!       action: block
//!       rule: no-contractor-uploads   # or `default`
//! ```

mod spec;

use std::fmt;

use marked_yaml::Spanned;
use serde::{Deserialize, Serialize};

pub use spec::ContextSpec;

use crate::classify::Classifier;
use crate::decide::{Decision, Phase, Policy};
use crate::error::{Location, PolicyError};
use crate::rules::{ActionKind, Tunnel};
use crate::yaml::{decode, span_location};

/// What a case expects; every given field is checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Expected action.
    #[serde(default)]
    pub action: Option<ActionKind>,
    /// Expected rule id, or `default`.
    #[serde(default)]
    pub rule: Option<String>,
    /// Expected tunnel (connect phase).
    #[serde(default)]
    pub tunnel: Option<Tunnel>,
    /// Expected DLP profile name, or `none`.
    #[serde(default)]
    pub dlp_profile: Option<String>,
    /// Headers that must be present, `Name: value`.
    #[serde(default)]
    pub headers: Vec<String>,
    /// Expected pending rule id, or `none`.
    #[serde(default)]
    pub pending_rule: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    #[serde(default)]
    phase: Option<Phase>,
    context: ContextSpec,
    expect: Expectation,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    #[serde(default)]
    policy: Option<String>,
    cases: Vec<Spanned<RawCase>>,
}

/// A parsed test file.
#[derive(Debug)]
pub struct Suite {
    policy: Option<String>,
    cases: Vec<(Location, RawCase)>,
}

/// The result of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// Where the case is written.
    pub location: Location,
    /// Whether every expectation held.
    pub passed: bool,
    /// One message per failed expectation.
    pub failures: Vec<String>,
    /// The decision made (absent if the context could not be built).
    pub decision: Option<Decision>,
}

/// The results of a whole file.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    /// Per case, in file order.
    pub cases: Vec<CaseResult>,
}

impl SuiteReport {
    /// Number of passing cases.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }

    /// Number of failing cases.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.cases {
            writeln!(
                f,
                "{}: {} {}",
                c.location,
                if c.passed { "PASS" } else { "FAIL" },
                c.name
            )?;
            for m in &c.failures {
                writeln!(f, "    {m}")?;
            }
        }
        write!(f, "{} passed, {} failed", self.passed(), self.failed())
    }
}

impl Suite {
    /// Parses a test file; errors name `origin`:line.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let raw: RawSuite = decode(text, origin)?;
        let cases = raw
            .cases
            .iter()
            .map(|c| (span_location(origin, c.span()), clone_case(c)))
            .collect();
        Ok(Self {
            policy: raw.policy,
            cases,
        })
    }

    /// The policy file the suite names, if any (relative to the suite file).
    pub fn policy_path(&self) -> Option<&str> {
        self.policy.as_deref()
    }

    /// Runs every case against `policy`, classifying hosts with `classifier`.
    pub fn run(&self, policy: &Policy, classifier: &Classifier) -> SuiteReport {
        let cases = self
            .cases
            .iter()
            .map(|(location, case)| run_case(location, case, policy, classifier))
            .collect();
        SuiteReport { cases }
    }
}

fn clone_case(c: &RawCase) -> RawCase {
    RawCase {
        name: c.name.clone(),
        phase: c.phase,
        context: c.context.clone(),
        expect: c.expect.clone(),
    }
}

fn run_case(
    location: &Location,
    case: &RawCase,
    policy: &Policy,
    classifier: &Classifier,
) -> CaseResult {
    let phase = case.phase.unwrap_or(Phase::Request);
    let mut result = CaseResult {
        name: case.name.clone(),
        location: location.clone(),
        passed: false,
        failures: Vec::new(),
        decision: None,
    };
    let ctx = match case.context.to_context(classifier, phase != Phase::Connect) {
        Ok(ctx) => ctx,
        Err(m) => {
            result.failures.push(format!("bad context: {m}"));
            return result;
        }
    };
    let d = policy.evaluate(&ctx, phase);
    let e = &case.expect;
    let mut fail = |m: String| result.failures.push(m);
    if let Some(a) = e.action {
        if a != d.action {
            fail(format!("action: expected {a}, got {}", d.action));
        }
    }
    if let Some(r) = &e.rule {
        if r != d.rule_label() {
            fail(format!("rule: expected `{r}`, got `{}`", d.rule_label()));
        }
    }
    if let Some(t) = e.tunnel {
        if t != d.tunnel {
            fail(format!("tunnel: expected {t}, got {}", d.tunnel));
        }
    }
    if let Some(p) = &e.dlp_profile {
        let got = d.dlp_profile.as_ref().map_or("none", |p| p.name.as_str());
        if p != got {
            fail(format!("dlp_profile: expected `{p}`, got `{got}`"));
        }
    }
    if let Some(p) = &e.pending_rule {
        let got = d.pending_rule.as_deref().unwrap_or("none");
        if p != got {
            fail(format!("pending_rule: expected `{p}`, got `{got}`"));
        }
    }
    for h in &e.headers {
        let (n, v) = h.split_once(':').unwrap_or((h, ""));
        if !d
            .headers
            .iter()
            .any(|x| x.name.eq_ignore_ascii_case(n.trim()) && &*x.value == v.trim())
        {
            fail(format!("headers: `{h}` missing"));
        }
    }
    result.passed = result.failures.is_empty();
    result.decision = Some(d);
    result
}
