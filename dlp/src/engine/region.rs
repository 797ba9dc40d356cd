//! Processing one region of trigger positions: run the prefilters over it
//! and verify each candidate in its bounded window.
//!
//! Every window is computed from absolute stream offsets and clipped only at
//! the stream's start and (at end of stream) its end, and the regex sees
//! exactly the window's bytes, so a candidate is verified identically
//! whatever the chunking.

use super::analyze::in_set;
use super::digits::{self, Cluster};
use super::{Inner, Mode};
use crate::finding::{redact, Finding};
use crate::validators::{self, Outcome};
use regex_automata::{Anchored, Input};

/// Per-stream matching state.
pub(crate) struct Matcher {
    /// Per pattern: absolute end of its last match (matches never overlap).
    pub last_end: Vec<u64>,
    /// Per rule: matches so far.
    pub counts: Vec<u32>,
    /// Findings held until their rule reaches `min_count`.
    pub pending: Vec<Finding>,
    /// Regex searches run (the prefilter's selectivity).
    pub verifications: u64,
}

impl Matcher {
    pub fn new(inner: &Inner) -> Matcher {
        Matcher {
            last_end: vec![0; inner.patterns.len()],
            counts: vec![0; inner.rules.len()],
            pending: Vec::new(),
            verifications: 0,
        }
    }
}

/// A contiguous view of the stream and the trigger positions to handle.
pub(crate) struct Region<'h> {
    /// The bytes.
    pub hay: &'h [u8],
    /// Absolute offset of `hay[0]`.
    pub base: u64,
    /// First trigger position to handle (index into `hay`).
    pub from: usize,
    /// One past the last trigger position to handle.
    pub to: usize,
    /// The stream's total length when this is its last region.
    pub eof: Option<u64>,
}

impl Region<'_> {
    /// Window `[p - back, p + fwd)` in absolute offsets, clipped.
    fn window(&self, p: u64, back: usize, fwd: usize) -> (u64, u64) {
        let lo = p.saturating_sub(back as u64).max(self.base);
        let mut hi = p + fwd as u64;
        if let Some(end) = self.eof {
            hi = hi.min(end);
        }
        hi = hi.min(self.base + self.hay.len() as u64);
        (lo, hi)
    }

    fn slice(&self, lo: u64, hi: u64) -> &[u8] {
        &self.hay[(lo - self.base) as usize..(hi - self.base) as usize]
    }

    fn at_end(&self, hi: u64) -> bool {
        self.eof == Some(hi)
    }
}

/// Runs every prefilter over `r` and verifies the candidates.
pub(crate) fn process(inner: &Inner, st: &mut Matcher, r: &Region<'_>, out: &mut Vec<Finding>) {
    if r.from >= r.to {
        return;
    }
    let limit = r.hay.len();
    if let Some(lits) = &inner.literals {
        lits.for_each(r.hay, r.from, r.to, limit, |p, len, pats| {
            for &pi in pats {
                candidate(inner, st, r, pi as usize, p, len, out);
            }
        });
    }
    for (byte, pats) in &inner.anchors {
        for p in memchr::memchr_iter(*byte, &r.hay[r.from..r.to]) {
            for &pi in pats {
                candidate(inner, st, r, pi as usize, r.from + p, 1, out);
            }
        }
    }
    if let Some(t) = &inner.digit_threshold {
        digits::clusters(r.hay, r.from, r.to, limit, t, |c| {
            for &pi in &inner.digit_table[c.digits.min(63) as usize] {
                cluster_candidate(inner, st, r, pi as usize, &c, out);
            }
        });
    }
    for &pi in &inner.scans {
        scan(inner, st, r, pi as usize, out);
    }
    if let Some(dict) = &inner.dictionary {
        dict.for_each(r.hay, r.from, r.to, limit, |s, e, pi| {
            let pi = pi as usize;
            let start = r.base + s as u64;
            if start < st.last_end[pi] {
                return;
            }
            let end = r.base + e as u64;
            st.last_end[pi] = end;
            confirm(inner, st, r, pi, start, end, start, end, out);
        });
    }
}

/// A literal, anchor-byte or context-keyword trigger at `p` (length `len`).
fn candidate(
    inner: &Inner,
    st: &mut Matcher,
    r: &Region<'_>,
    pi: usize,
    p: usize,
    len: usize,
    out: &mut Vec<Finding>,
) {
    let pm = &inner.patterns[pi];
    let abs = r.base + p as u64;
    if pm.mode == Mode::Keyword {
        if abs >= st.last_end[pi] {
            st.last_end[pi] = abs + len as u64;
            confirm(
                inner,
                st,
                r,
                pi,
                abs,
                abs + len as u64,
                abs,
                abs + len as u64,
                out,
            );
        }
        return;
    }
    let Some(regex) = &pm.regex else { return };
    let (lo, hi) = r.window(abs, pm.back, pm.fwd);
    let hay = r.slice(lo, hi);
    let s = usize::from(lo > 0).max(st.last_end[pi].saturating_sub(lo) as usize);
    let e = if r.at_end(hi) {
        hay.len()
    } else {
        hay.len().saturating_sub(1)
    };
    let rel = (abs - lo) as usize;
    if s > e {
        return;
    }
    st.verifications += 1;
    match pm.mode {
        Mode::Prefix => {
            if rel < s {
                return;
            }
            let input = Input::new(hay).span(rel..e).anchored(Anchored::Yes);
            if let Some(m) = regex.search(&input) {
                let (ms, me) = (lo + m.start() as u64, lo + m.end() as u64);
                st.last_end[pi] = me;
                accept(inner, st, r, pi, hay, lo, ms, me, out);
            }
        }
        Mode::Contains | Mode::Context => {
            let w = pm.context_window;
            let input = Input::new(hay).span(s..e);
            for m in regex.find_iter(input) {
                let near = if pm.mode == Mode::Contains {
                    if m.start() > rel {
                        break;
                    }
                    m.end() > rel
                } else {
                    if m.start() > rel + len + w {
                        break;
                    }
                    m.end() + w >= rel
                };
                if near {
                    let (ms, me) = (lo + m.start() as u64, lo + m.end() as u64);
                    st.last_end[pi] = me;
                    accept(inner, st, r, pi, hay, lo, ms, me, out);
                    if pm.mode == Mode::Contains {
                        break;
                    }
                }
            }
        }
        Mode::Digits | Mode::Scan | Mode::Keyword => {}
    }
}

fn cluster_candidate(
    inner: &Inner,
    st: &mut Matcher,
    r: &Region<'_>,
    pi: usize,
    c: &Cluster,
    out: &mut Vec<Finding>,
) {
    let pm = &inner.patterns[pi];
    let (Some(regex), Some(d)) = (&pm.regex, &pm.digits) else {
        return;
    };
    if c.digits < d.min {
        return;
    }
    let avail = if d.whole_groups {
        c.group_counts
    } else {
        c.any_counts()
    };
    if d.counts & (1 << 63) == 0 && d.counts & avail == 0 {
        return;
    }
    if d.whole_groups
        && (d.first_group.is_some_and(|m| m & c.group_lens == 0)
            || d.first_pair.is_some_and(|m| m & c.pairs == 0))
    {
        return;
    }
    for (i, set) in d.before.iter().enumerate() {
        match c.start.checked_sub(i + 1) {
            Some(j) if in_set(set, r.hay[j]) => {}
            _ => return,
        }
    }
    let abs = r.base + c.start as u64;
    let (lo, hi) = r.window(abs, pm.back, pm.fwd);
    let hay = r.slice(lo, hi);
    let s = usize::from(lo > 0).max(st.last_end[pi].saturating_sub(lo) as usize);
    let e = if r.at_end(hi) {
        hay.len()
    } else {
        hay.len().saturating_sub(1)
    };
    if s > e {
        return;
    }
    let (cs, ce) = ((abs - lo) as usize, (abs - lo) as usize + (c.end - c.start));
    st.verifications += 1;
    for m in regex.find_iter(Input::new(hay).span(s..e)) {
        if m.start() >= ce {
            break;
        }
        if m.end() > cs {
            let (ms, me) = (lo + m.start() as u64, lo + m.end() as u64);
            st.last_end[pi] = me;
            accept(inner, st, r, pi, hay, lo, ms, me, out);
        }
    }
}

fn scan(inner: &Inner, st: &mut Matcher, r: &Region<'_>, pi: usize, out: &mut Vec<Finding>) {
    let pm = &inner.patterns[pi];
    let Some(regex) = &pm.regex else { return };
    let from = (r.base + r.from as u64).max(st.last_end[pi]);
    let s = (from - r.base) as usize;
    let e = (r.to + pm.fwd).min(r.hay.len());
    if s >= r.to || s > e {
        return;
    }
    st.verifications += 1;
    for m in regex.find_iter(Input::new(r.hay).span(s..e)) {
        if m.start() >= r.to {
            break;
        }
        let (ms, me) = (r.base + m.start() as u64, r.base + m.end() as u64);
        st.last_end[pi] = me;
        accept(inner, st, r, pi, r.hay, r.base, ms, me, out);
    }
}

/// A regex match `[ms, me)` (absolute) inside `hay` (starting at `lo`):
/// narrow to the `secret` group, validate, then confirm.
#[allow(clippy::too_many_arguments)]
fn accept(
    inner: &Inner,
    st: &mut Matcher,
    r: &Region<'_>,
    pi: usize,
    hay: &[u8],
    lo: u64,
    ms: u64,
    me: u64,
    out: &mut Vec<Finding>,
) {
    let pm = &inner.patterns[pi];
    let (mut vs, mut ve) = (ms, me);
    if pm.secret_group {
        if let Some(regex) = &pm.regex {
            let mut caps = regex.create_captures();
            let input = Input::new(hay)
                .span((ms - lo) as usize..(me - lo) as usize)
                .anchored(Anchored::Yes);
            regex.search_captures(&input, &mut caps);
            if let Some(g) = caps.get_group_by_name("secret") {
                vs = lo + g.start as u64;
                ve = lo + g.end as u64;
            }
        }
    }
    confirm(inner, st, r, pi, ms, me, vs, ve, out);
}

/// Validator, context and min-count handling for a match whose value is
/// `[vs, ve)`; reports `[vs, ve)` as the finding's span.
#[allow(clippy::too_many_arguments)]
fn confirm(
    inner: &Inner,
    st: &mut Matcher,
    r: &Region<'_>,
    pi: usize,
    ms: u64,
    me: u64,
    vs: u64,
    ve: u64,
    out: &mut Vec<Finding>,
) {
    let pm = &inner.patterns[pi];
    let rule = &inner.rules[pm.rule as usize];
    let value = r.slice(vs.max(r.base), ve);
    let mut confidence = rule.confidence;
    if let Some(v) = rule.validator {
        match validators::check(v, value) {
            Outcome::Fail => return,
            Outcome::Weak => confidence = confidence.lowered(),
            Outcome::Pass { strong: true } => confidence = confidence.raised(),
            Outcome::Pass { strong: false } => {}
        }
    }
    if let Some(ctx) = &rule.context {
        let found = pm.mode == Mode::Context || {
            let (lo, hi) = r.window(ms, ctx.window, (me - ms) as usize + ctx.window);
            ctx.ac.is_match(r.slice(lo, hi))
        };
        if !found && ctx.required {
            return;
        }
        if found && !ctx.required {
            confidence = confidence.raised();
        }
    }
    let ri = pm.rule as usize;
    st.counts[ri] = st.counts[ri].saturating_add(1);
    let finding = Finding {
        rule: rule.id.clone(),
        category: rule.category,
        start: vs,
        end: ve,
        count: st.counts[ri],
        confidence,
        excerpt: redact(value),
        part: None,
    };
    let count = st.counts[ri];
    if count < rule.min_count {
        st.pending.push(finding);
    } else {
        if count == rule.min_count && rule.min_count > 1 {
            let (mine, rest): (Vec<Finding>, Vec<Finding>) = std::mem::take(&mut st.pending)
                .into_iter()
                .partition(|f| f.rule == rule.id);
            st.pending = rest;
            out.extend(mine);
        }
        out.push(finding);
    }
}
