//! `explain`: rule by rule, which conditions held, failed or were unknown.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::{Decision, Phase};
use crate::context::Context;
use crate::rules::condition::Cond;
use crate::rules::{Outcome, Rule};

/// One condition's result.
#[derive(Debug, Clone, Serialize)]
pub struct ConditionTrace {
    /// Nesting depth (0 = top level).
    pub depth: usize,
    /// `all`, `any`, `not` or the condition as written, e.g. `app: [box]`.
    pub text: String,
    /// Line in the policy file.
    pub line: usize,
    /// Result.
    pub outcome: Outcome,
}

/// One rule's result.
#[derive(Debug, Clone, Serialize)]
pub struct RuleTrace {
    /// Rule id.
    pub rule_id: Arc<str>,
    /// Line in the policy file.
    pub line: usize,
    /// Result of the whole condition.
    pub outcome: Outcome,
    /// Every condition, in order, depth-first.
    pub conditions: Vec<ConditionTrace>,
}

/// The evaluation of every rule up to the decision.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The phase.
    pub phase: Phase,
    /// Rules visited, in order; the last is the match if any rule matched.
    pub rules: Vec<RuleTrace>,
    /// The decision (identical to `evaluate`'s).
    pub decision: Decision,
}

fn walk(
    c: &Cond,
    depth: usize,
    ctx: &Context,
    phase: Phase,
    out: &mut Vec<ConditionTrace>,
) -> Outcome {
    let outcome = c.eval(ctx, phase);
    match c {
        Cond::Leaf { meta, .. } => out.push(ConditionTrace {
            depth,
            text: meta.text.clone(),
            line: meta.line,
            outcome,
        }),
        Cond::Not(inner) => {
            out.push(ConditionTrace {
                depth,
                text: "not".into(),
                line: first_line(inner),
                outcome,
            });
            walk(inner, depth + 1, ctx, phase, out);
        }
        Cond::All(cs) | Cond::Any(cs) => {
            let name = if matches!(c, Cond::All(_)) {
                "all"
            } else {
                "any"
            };
            out.push(ConditionTrace {
                depth,
                text: name.into(),
                line: cs.first().map_or(0, first_line),
                outcome,
            });
            for sub in cs {
                walk(sub, depth + 1, ctx, phase, out);
            }
        }
    }
    outcome
}

fn first_line(c: &Cond) -> usize {
    match c {
        Cond::Leaf { meta, .. } => meta.line,
        Cond::Not(inner) => first_line(inner),
        Cond::All(cs) | Cond::Any(cs) => cs.first().map_or(0, first_line),
    }
}

pub(super) fn trace_rule(rule: &Rule, ctx: &Context, phase: Phase) -> RuleTrace {
    let mut conditions = Vec::new();
    let outcome = match &rule.when {
        Some(c) => walk(c, 0, ctx, phase, &mut conditions),
        None => Outcome::True,
    };
    RuleTrace {
        rule_id: rule.id.clone(),
        line: rule.line,
        outcome,
        conditions,
    }
}

fn word(o: Outcome) -> &'static str {
    match o {
        Outcome::True => "held",
        Outcome::False => "failed",
        Outcome::Missing => "unknown (fact missing)",
        Outcome::Pending => "unknown (not known in this phase)",
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "phase: {:?}", self.phase)?;
        for r in &self.rules {
            writeln!(
                f,
                "rule `{}` (line {}): {}",
                r.rule_id,
                r.line,
                word(r.outcome)
            )?;
            for c in &r.conditions {
                writeln!(
                    f,
                    "  {}{} (line {}): {}",
                    "  ".repeat(c.depth),
                    c.text,
                    c.line,
                    word(c.outcome)
                )?;
            }
        }
        let d = &self.decision;
        write!(
            f,
            "decision: {} by {} (tunnel {})",
            d.action,
            d.rule_label(),
            d.tunnel
        )?;
        if let Some(p) = &d.pending_rule {
            write!(f, "; pending rule `{p}`")?;
        }
        if let Some(p) = &d.dlp_profile {
            write!(f, "; DLP profile `{}`", p.name)?;
        }
        Ok(())
    }
}
