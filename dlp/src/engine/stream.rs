//! Per-body streaming state: the tail of the stream that later windows still
//! need, the position up to which triggers have been handled, and the
//! matcher's counters.

use super::region::{process, Matcher, Region};
use super::Inner;
use crate::finding::Finding;
use std::sync::Arc;

/// Scanning state for one stream (one body or part).
///
/// Feed chunks in order with [`Stream::feed`]; every finding is reported by
/// the first call after which it is certain: a match is confirmed once the
/// stream has reached its end plus the pack's look-ahead, so findings arrive
/// at most [`crate::Engine::window`] bytes late. [`Stream::finish`] reports
/// the rest. Offsets count from the first byte fed. Findings are the same
/// for every chunking of the same bytes.
pub struct Stream {
    inner: Arc<Inner>,
    tail: Vec<u8>,
    tail_start: u64,
    pos: u64,
    done: u64,
    matcher: Matcher,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("position", &self.pos)
            .field("state_bytes", &self.state_bytes())
            .finish()
    }
}

/// Room in the tail for small chunks appended in place.
const SLACK: usize = 256;

pub(super) fn state_bound(inner: &Inner) -> usize {
    inner.lookbehind + inner.lookahead + SLACK + fixed_bytes(inner)
}

fn fixed_bytes(inner: &Inner) -> usize {
    std::mem::size_of::<Stream>() + inner.patterns.len() * 8 + inner.rules.len() * 4
}

impl Stream {
    pub(super) fn new(inner: Arc<Inner>) -> Stream {
        let matcher = Matcher::new(&inner);
        Stream {
            inner,
            tail: Vec::new(),
            tail_start: 0,
            pos: 0,
            done: 0,
            matcher,
        }
    }

    fn keep(&self) -> usize {
        self.inner.lookbehind + self.inner.lookahead
    }

    /// Scans the next chunk; returns the findings confirmed by it.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        if chunk.is_empty() {
            return out;
        }
        let inner = self.inner.clone();
        let (wb, wf) = (inner.lookbehind, inner.lookahead);
        let keep = self.keep();
        let n = self.pos;
        let m = chunk.len();
        if self.tail.capacity() == 0 {
            self.tail.reserve_exact(keep + SLACK);
        }
        if m < keep && self.tail.len() + m > keep + SLACK {
            // Medium chunk: scan tail + chunk in a temporary buffer so the
            // kept tail never outgrows `keep + SLACK`.
            let mut buf = Vec::with_capacity(self.tail.len() + m);
            buf.extend_from_slice(&self.tail);
            buf.extend_from_slice(chunk);
            self.pos += m as u64;
            let to_abs = self.pos.saturating_sub(wf as u64);
            if to_abs > self.done {
                let r = Region {
                    hay: &buf,
                    base: self.tail_start,
                    from: (self.done - self.tail_start) as usize,
                    to: (to_abs - self.tail_start) as usize,
                    eof: None,
                };
                process(&inner, &mut self.matcher, &r, &mut out);
                self.done = to_abs;
            }
            let need_from = self.done.saturating_sub(wb as u64).max(self.tail_start);
            self.tail.clear();
            self.tail
                .extend_from_slice(&buf[(need_from - self.tail_start) as usize..]);
            self.tail_start = need_from;
            return out;
        }
        if m < keep {
            // Small chunk: append to the tail in place (the tail holds at
            // most `keep` bytes between calls).
            self.tail.extend_from_slice(chunk);
            self.pos += m as u64;
            let to_abs = self.pos.saturating_sub(wf as u64);
            if to_abs > self.done {
                let r = Region {
                    hay: &self.tail,
                    base: self.tail_start,
                    from: (self.done - self.tail_start) as usize,
                    to: (to_abs - self.tail_start) as usize,
                    eof: None,
                };
                process(&inner, &mut self.matcher, &r, &mut out);
                self.done = to_abs;
            }
            self.trim();
            return out;
        }
        // Large chunk: the seam (old tail plus the chunk's head) first, then
        // the chunk in place, without copying it.
        let head = (wb + wf).min(m);
        let seam_to = n + wb as u64;
        if seam_to > self.done {
            let mut seam = Vec::with_capacity(self.tail.len() + head);
            seam.extend_from_slice(&self.tail);
            seam.extend_from_slice(&chunk[..head]);
            let r = Region {
                hay: &seam,
                base: self.tail_start,
                from: (self.done - self.tail_start) as usize,
                to: (seam_to - self.tail_start) as usize,
                eof: None,
            };
            process(&inner, &mut self.matcher, &r, &mut out);
            self.done = seam_to;
        }
        self.pos = n + m as u64;
        let to_abs = self.pos - wf as u64;
        if to_abs > self.done {
            let r = Region {
                hay: chunk,
                base: n,
                from: (self.done - n) as usize,
                to: (to_abs - n) as usize,
                eof: None,
            };
            process(&inner, &mut self.matcher, &r, &mut out);
            self.done = to_abs;
        }
        self.tail.clear();
        self.tail.extend_from_slice(&chunk[m - keep..]);
        self.tail_start = self.pos - keep as u64;
        out
    }

    /// Drops tail bytes no window can reach any more.
    fn trim(&mut self) {
        let need_from = self.done.saturating_sub(self.inner.lookbehind as u64);
        if need_from > self.tail_start {
            let cut = (need_from - self.tail_start) as usize;
            self.tail.drain(..cut);
            self.tail_start = need_from;
        }
    }

    /// Ends the stream; returns the findings not yet reported.
    pub fn finish(mut self) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.pos > self.done {
            let inner = self.inner.clone();
            let r = Region {
                hay: &self.tail,
                base: self.tail_start,
                from: (self.done - self.tail_start) as usize,
                to: self.tail.len(),
                eof: Some(self.pos),
            };
            process(&inner, &mut self.matcher, &r, &mut out);
        }
        out
    }

    /// Bytes fed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Regex verifications run so far (one per candidate window).
    pub fn verifications(&self) -> u64 {
        self.matcher.verifications
    }

    /// Bytes of state this stream keeps between calls (tail buffer capacity,
    /// per-pattern and per-rule counters, findings held for `min_count`).
    /// At most [`crate::Engine::state_bound`] plus the held findings.
    pub fn state_bytes(&self) -> usize {
        let held: usize = self
            .matcher
            .pending
            .iter()
            .map(|f| std::mem::size_of::<Finding>() + f.excerpt.capacity())
            .sum();
        self.tail.capacity() + fixed_bytes(&self.inner) + held
    }
}
