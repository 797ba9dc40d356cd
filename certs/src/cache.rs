//! A bounded cache of minted leaves in front of the [`Minter`].

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use rustls::sign::CertifiedKey;

use crate::{CertError, Minter};

/// The result of a cache lookup.
#[derive(Debug, Clone)]
pub struct CertLookup {
    /// The leaf and chain with the signing key, ready for rustls.
    pub key: Arc<CertifiedKey>,
    /// True when this lookup minted the leaf (a miss), false on a hit.
    pub minted: bool,
}

/// Minted leaves by lower-cased server name. Bounded in entries, each entry
/// expiring well before the leaf itself; a burst of concurrent first visits
/// to one host mints exactly once.
#[derive(Clone)]
pub struct CertCache {
    minter: Arc<Minter>,
    cache: Cache<String, Arc<CertifiedKey>>,
}

impl std::fmt::Debug for CertCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertCache")
            .field("entries", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl CertCache {
    /// A cache of at most `capacity` leaves, each kept for `ttl` — clamped to
    /// half the leaf validity so a cached leaf is never served near expiry.
    pub fn new(minter: Arc<Minter>, capacity: u64, ttl: Duration) -> Self {
        let ttl = ttl.min(minter.options().validity / 2);
        let cache = Cache::builder()
            .max_capacity(capacity)
            .time_to_live(ttl)
            .build();
        Self { minter, cache }
    }

    /// The leaf for `name`, minted on a miss.
    pub fn get(&self, name: &str) -> Result<CertLookup, Arc<CertError>> {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        let mut minted = false;
        let leaf = self.cache.try_get_with_by_ref(&key, || {
            minted = true;
            self.minter.mint(&key).map(Arc::new)
        })?;
        Ok(CertLookup { key: leaf, minted })
    }

    /// The cached leaf for `name`, without minting: a cheap, non-blocking
    /// lookup to try before [`CertCache::get`].
    pub fn cached(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        self.cache
            .get(&name.trim_end_matches('.').to_ascii_lowercase())
    }

    /// The minter behind the cache.
    pub fn minter(&self) -> &Arc<Minter> {
        &self.minter
    }

    /// Number of cached leaves (approximate, as moka reports it).
    pub fn len(&self) -> u64 {
        self.cache.entry_count()
    }

    /// True when no leaf is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Authority, LeafOptions};

    #[test]
    fn concurrent_first_visits_mint_once() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Arc::new(Authority::generate_into(dir.path()).unwrap());
        let minter = Arc::new(Minter::new(ca, LeafOptions::default()).unwrap());
        let cache = CertCache::new(minter, 100, Duration::from_secs(3600));
        let minted: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|_| s.spawn(|| cache.get("Burst.Example").unwrap()))
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let first = &results[0].key;
            assert!(results.iter().all(|r| Arc::ptr_eq(&r.key, first)));
            results.iter().filter(|r| r.minted).count()
        });
        assert_eq!(minted, 1);
        let hit = cache.get("burst.example.").unwrap();
        assert!(!hit.minted);
    }
}
