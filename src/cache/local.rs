//! The in-process tier: a sharded map with a lifetime and a size bound.
//!
//! Keys are hashed with foldhash, seeded per process (so chosen keys cannot collide on
//! purpose), which is several times cheaper than SipHash for short ids. A read is one hash
//! and one shared lock on one of 64 shards — cheaper than a full LRU/TinyLFU cache on a
//! path that looks up several keys per request. [`LocalCache::get_with`] reads the value in
//! place: both cores read the same hot rooms, and every `Arc` clone and drop is a write to
//! a cache line the other core then has to fetch back. For the same reason each shard's
//! lock sits on its own cache line.
//!
//! When a shard is full its expired entries are dropped (looked for at most once a second),
//! else an arbitrary one: the tier is an accelerator in front of Redis and SQL, not the
//! source of truth, so the eviction order only affects the hit rate.
//!
//! Entries loaded together would expire together: a show's viewers asking for tokens as
//! it starts, or every viewer of an instance that just started, all reload in the same
//! second one lifetime later, and every request for them waits behind that burst of
//! queries. In the soak (`bench/README.md`, "Soak") the 10,000 viewers' facts reloaded at
//! once every five minutes and stalled every token request for up to two seconds. So each
//! entry lives between four fifths of the lifetime and all of it, by its key's hash: the
//! reloads of a batch spread over a fifth of the lifetime (a minute at the default five).
//!
//! A slot is 32 bytes: the key as a boxed `str` (no capacity beside its length) and the
//! expiry as nanoseconds since the cache was made rather than an `Instant` (16 bytes). The
//! user-facts cache holds a slot for every user who asked recently, in tables that are
//! between half and seven eighths full, so each byte of a slot is one to two bytes a user.

use std::collections::HashMap;
use std::hash::BuildHasher;

use crossbeam_utils::CachePadded;
use foldhash::fast::RandomState;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const SHARDS: usize = 64;

/// One shard: key → (value, expiry).
type Shard<V> = CachePadded<RwLock<Entries<V>>>;

/// Nanoseconds since the cache was made ([`LocalCache::ticks`]).
type Ticks = u64;

struct Entries<V> {
    map: HashMap<Box<str>, (Arc<V>, Ticks), RandomState>,
    /// A full shard looks for expired entries to drop at most once per [`SWEEP_EVERY`]; in
    /// between, a new entry replaces an arbitrary one. Otherwise a shard full of live
    /// entries (a working set larger than the cache) would be scanned on every insert.
    next_sweep: Instant,
}

const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// An entry's lifetime is shortened by up to `ttl / LIFETIME_SPREAD`.
const LIFETIME_SPREAD: u32 = 5;

pub struct LocalCache<V> {
    shards: Box<[Shard<V>]>,
    /// Where expiries count from.
    epoch: Instant,
    hasher: RandomState,
    per_shard: usize,
    ttl: Duration,
}

impl<V> LocalCache<V> {
    pub fn new(max_entries: u64, ttl: Duration) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    CachePadded::new(RwLock::new(Entries {
                        map: HashMap::with_hasher(RandomState::default()),
                        next_sweep: Instant::now(),
                    }))
                })
                .collect(),
            epoch: Instant::now(),
            hasher: RandomState::default(),
            per_shard: (max_entries as usize).div_ceil(SHARDS).max(1),
            ttl,
        }
    }

    fn ticks(&self, at: Instant) -> Ticks {
        at.saturating_duration_since(self.epoch).as_nanos() as Ticks
    }

    fn shard(&self, key: &str) -> &Shard<V> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    /// How long `key`'s entry lives: the lifetime less up to a fifth of it, by the key's
    /// hash (its upper half; the lower picks the shard).
    fn lifetime_of(&self, key: &str) -> Duration {
        let share = (self.hasher.hash_one(key) >> 32) as f64 / (1u64 << 32) as f64;
        self.ttl - (self.ttl / LIFETIME_SPREAD).mul_f64(share)
    }

    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        self.get_with(key, Arc::clone)
    }

    /// `read` applied to the live value for `key`, under the shard's shared lock: nothing
    /// is cloned unless `read` clones it. Keep `read` short; writers to the shard wait.
    pub fn get_with<R>(&self, key: &str, read: impl FnOnce(&Arc<V>) -> R) -> Option<R> {
        let shard = self.shard(key).read().unwrap_or_else(|p| p.into_inner());
        let (value, expires) = shard.map.get(key)?;
        (self.ticks(Instant::now()) < *expires).then(|| read(value))
    }

    pub fn insert(&self, key: String, value: Arc<V>) {
        let lifetime = self.lifetime_of(&key);
        let key = key.into_boxed_str();
        let mut shard = self.shard(&key).write().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let now_ticks = self.ticks(now);
        if shard.map.len() >= self.per_shard && !shard.map.contains_key(&key) {
            if now >= shard.next_sweep {
                shard.map.retain(|_, (_, expires)| *expires > now_ticks);
                shard.next_sweep = now + SWEEP_EVERY;
            }
            if shard.map.len() >= self.per_shard {
                if let Some(victim) = shard.map.keys().next().cloned() {
                    shard.map.remove(&victim);
                }
            }
        }
        shard
            .map
            .insert(key, (value, now_ticks + lifetime.as_nanos() as Ticks));
    }

    pub fn invalidate(&self, key: &str) {
        self.shard(key)
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .remove(key);
    }

    pub fn invalidate_all(&self) {
        for shard in self.shards.iter() {
            shard.write().unwrap_or_else(|p| p.into_inner()).map.clear();
        }
    }

    pub fn entry_count(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).map.len() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_the_bound_and_forgets_on_request() {
        let cache = LocalCache::new(128, Duration::from_secs(60));
        for i in 0..10_000 {
            cache.insert(format!("key{i}"), Arc::new(i));
        }
        assert!(cache.entry_count() <= 128);
        cache.insert("kept".into(), Arc::new(7));
        assert_eq!(cache.get("kept").as_deref(), Some(&7));
        cache.invalidate("kept");
        assert_eq!(cache.get("kept"), None);
    }

    #[test]
    fn entries_loaded_together_expire_over_the_last_fifth_of_their_lifetime() {
        let ttl = Duration::from_secs(300);
        let cache = LocalCache::<u32>::new(100_000, ttl);
        let lifetimes: Vec<Duration> = (0..10_000)
            .map(|i| cache.lifetime_of(&format!("user-{i}")))
            .collect();
        let shortest = *lifetimes.iter().min().unwrap();
        let longest = *lifetimes.iter().max().unwrap();
        assert!(shortest >= ttl * 4 / 5 && longest <= ttl);
        assert!(
            longest - shortest > Duration::from_secs(55),
            "{shortest:?}–{longest:?}: the reloads of a batch are not spread"
        );
        let in_last_ten_seconds = lifetimes
            .iter()
            .filter(|l| **l > ttl - Duration::from_secs(10))
            .count();
        assert!(
            in_last_ten_seconds < 2_500,
            "{in_last_ten_seconds} of 10,000 reload in the same ten seconds"
        );
        assert_eq!(cache.lifetime_of("user-7"), cache.lifetime_of("user-7"));
    }

    #[test]
    fn entries_expire() {
        let cache = LocalCache::new(8, Duration::from_millis(0));
        cache.insert("k".into(), Arc::new(1));
        assert_eq!(cache.get("k"), None);
    }
}
