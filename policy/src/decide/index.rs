//! Index of rules by app, category and host, so that evaluation visits
//! only the rules that can concern the context, in policy order, without
//! allocating.
//!
//! A rule is indexed by one positive top-level conjunct (`app`, `host`,
//! `host_suffix`, `user`, `group`, `registrable_domain` or `category`, in
//! that order of preference); a rule with none is "general" and always
//! visited. Each of those facts is always known (an anonymous user has no
//! name and no groups), so a rule that is not a candidate has a top-level
//! conjunct that fails and could neither match nor be pending. The index
//! over-approximates: every candidate still evaluates its full condition,
//! so the index only decides which rules are skipped.

use rustc_hash::FxHashMap;

use crate::catalog::Category;
use crate::context::Context;
use crate::rules::condition::{Cond, HostPattern, Leaf};
use crate::rules::Rule;

#[derive(Debug, Clone, Default)]
pub(crate) struct RuleIndex {
    len: usize,
    general: Vec<u32>,
    by_app: FxHashMap<Box<str>, Vec<u32>>,
    by_category: FxHashMap<Category, Vec<u32>>,
    by_host: FxHashMap<Box<str>, Vec<u32>>,
    by_suffix: FxHashMap<Box<str>, Vec<u32>>,
    by_domain: FxHashMap<Box<str>, Vec<u32>>,
    by_user: FxHashMap<Box<str>, Vec<u32>>,
    by_group: FxHashMap<Box<str>, Vec<u32>>,
}

/// At most this many candidate lists are merged without allocating; a
/// context needing more (a user in very many groups) sorts them instead.
const MAX_LISTS: usize = 24;

enum Key<'a> {
    App(&'a [String]),
    Hosts(&'a [HostPattern]),
    Suffixes(&'a [String]),
    Domains(&'a [String]),
    Users(&'a [String]),
    Groups(&'a [String]),
    Categories(&'a [Category]),
}

fn key_of(c: &Cond) -> Option<Key<'_>> {
    let leaves: Vec<&Leaf> = match c {
        Cond::Leaf { leaf, .. } => vec![leaf],
        Cond::All(cs) => cs
            .iter()
            .filter_map(|c| match c {
                Cond::Leaf { leaf, .. } => Some(leaf),
                _ => None,
            })
            .collect(),
        _ => return None,
    };
    let pick = |f: &dyn Fn(&Leaf) -> bool| leaves.iter().copied().find(|l| f(l));
    if let Some(Leaf::App(v)) = pick(&|l| matches!(l, Leaf::App(_))) {
        return Some(Key::App(v));
    }
    if let Some(Leaf::Host(v)) = pick(
        &|l| matches!(l, Leaf::Host(p) if p.iter().all(|p| !matches!(p, HostPattern::Glob(_)))),
    ) {
        return Some(Key::Hosts(v));
    }
    if let Some(Leaf::HostSuffix(v)) = pick(&|l| matches!(l, Leaf::HostSuffix(_))) {
        return Some(Key::Suffixes(v));
    }
    if let Some(Leaf::User(v)) = pick(&|l| matches!(l, Leaf::User(_))) {
        return Some(Key::Users(v));
    }
    if let Some(Leaf::Group(v)) = pick(&|l| matches!(l, Leaf::Group(_))) {
        return Some(Key::Groups(v));
    }
    if let Some(Leaf::RegistrableDomain(v)) = pick(&|l| matches!(l, Leaf::RegistrableDomain(_))) {
        return Some(Key::Domains(v));
    }
    if let Some(Leaf::Category(v)) = pick(&|l| matches!(l, Leaf::Category(_))) {
        return Some(Key::Categories(v));
    }
    None
}

fn push<K: std::hash::Hash + Eq>(map: &mut FxHashMap<K, Vec<u32>>, key: K, i: u32) {
    let list = map.entry(key).or_default();
    if list.last() != Some(&i) {
        list.push(i);
    }
}

impl RuleIndex {
    pub(crate) fn build(rules: &[Rule]) -> Self {
        let mut idx = Self {
            len: rules.len(),
            ..Self::default()
        };
        for (i, rule) in rules.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match rule.when.as_ref().and_then(key_of) {
                None => idx.general.push(i),
                Some(Key::App(ids)) => ids
                    .iter()
                    .for_each(|a| push(&mut idx.by_app, a.as_str().into(), i)),
                Some(Key::Categories(cs)) => {
                    cs.iter().for_each(|c| push(&mut idx.by_category, *c, i))
                }
                Some(Key::Users(us)) => us
                    .iter()
                    .for_each(|u| push(&mut idx.by_user, u.as_str().into(), i)),
                Some(Key::Groups(gs)) => gs
                    .iter()
                    .for_each(|g| push(&mut idx.by_group, g.as_str().into(), i)),
                Some(Key::Domains(ds)) => ds
                    .iter()
                    .for_each(|d| push(&mut idx.by_domain, d.as_str().into(), i)),
                Some(Key::Suffixes(ss)) => ss
                    .iter()
                    .for_each(|s| push(&mut idx.by_suffix, s.as_str().into(), i)),
                Some(Key::Hosts(ps)) => {
                    for p in ps {
                        match p {
                            HostPattern::Exact(h) => push(&mut idx.by_host, h.as_str().into(), i),
                            HostPattern::AnySubdomain(s) | HostPattern::Glob(s) => {
                                push(&mut idx.by_suffix, s.as_str().into(), i);
                            }
                        }
                    }
                }
            }
        }
        idx
    }

    /// Calls `add` with every candidate list for `ctx` (ascending rule
    /// indices, possibly overlapping).
    fn lists_for<'s>(&'s self, ctx: &Context, mut add: impl FnMut(&'s [u32])) {
        add(&self.general);
        if let Some(l) = self.by_app.get(&*ctx.app.app_id) {
            add(l);
        }
        if let Some(l) = ctx.app.category.and_then(|c| self.by_category.get(&c)) {
            add(l);
        }
        if let Some(l) = ctx
            .app
            .registrable_domain
            .as_deref()
            .and_then(|d| self.by_domain.get(d))
        {
            add(l);
        }
        if !self.by_user.is_empty() {
            if let Some(l) = ctx
                .identity
                .user
                .as_deref()
                .and_then(|u| self.by_user.get(u))
            {
                add(l);
            }
        }
        if !self.by_group.is_empty() {
            for g in &ctx.identity.groups {
                if let Some(l) = self.by_group.get(g.as_str()) {
                    add(l);
                }
            }
        }
        let host = ctx.app.host.as_str();
        if let Some(l) = self.by_host.get(host) {
            add(l);
        }
        if !self.by_suffix.is_empty() {
            let mut rest = host;
            loop {
                if let Some(l) = self.by_suffix.get(rest) {
                    add(l);
                }
                match rest.find('.') {
                    Some(dot) => rest = &rest[dot + 1..],
                    None => break,
                }
            }
        }
    }

    /// Calls `visit` with the index of every candidate rule for `ctx`, in
    /// ascending order, each once; stops when `visit` returns `false`.
    pub(crate) fn for_each_candidate<'s>(
        &'s self,
        ctx: &Context,
        mut visit: impl FnMut(usize) -> bool,
    ) {
        // A name too long to resolve gets every rule visited rather than one
        // suffix probe per label of a hostile string.
        if ctx.app.host.len() > crate::classify::MAX_HOST_LEN {
            for i in 0..self.len {
                if !visit(i) {
                    return;
                }
            }
            return;
        }
        let mut lists: [&'s [u32]; MAX_LISTS] = [&[]; MAX_LISTS];
        let mut n = 0;
        let mut overflow = false;
        self.lists_for(ctx, |l| {
            if l.is_empty() {
            } else if n < MAX_LISTS {
                lists[n] = l;
                n += 1;
            } else {
                overflow = true;
            }
        });
        if overflow {
            let mut all = Vec::new();
            self.lists_for(ctx, |l| all.extend_from_slice(l));
            all.sort_unstable();
            all.dedup();
            for i in all {
                if !visit(i as usize) {
                    return;
                }
            }
            return;
        }
        let mut n = n.min(MAX_LISTS);
        // k-way merge of ascending lists, dropping exhausted ones; with a
        // single list left, stream it directly.
        while n > 1 {
            let mut best = u32::MAX;
            for l in &lists[..n] {
                best = best.min(l[0]);
            }
            let mut i = 0;
            while i < n {
                if lists[i][0] == best {
                    lists[i] = &lists[i][1..];
                    if lists[i].is_empty() {
                        n -= 1;
                        lists.swap(i, n);
                        continue;
                    }
                }
                i += 1;
            }
            if !visit(best as usize) {
                return;
            }
        }
        if n == 1 {
            for &i in lists[0] {
                if !visit(i as usize) {
                    return;
                }
            }
        }
    }
}
