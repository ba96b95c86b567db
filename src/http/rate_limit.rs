//! Fixed-window rate limits kept in process (per instance): sign-up/login per client
//! address, token requests per user. Cheap enough for the token path: one lock on one of
//! 32 shards and one probe of its map.
//!
//! A key is counted under a 64-bit hash of it, seeded per process, not under the key
//! itself: a lookup then touches no second allocation to compare the key, and a shard holds
//! no copies of user ids. Two keys that shared a hash would share a count — with a million
//! keys counting in one window, about one chance in forty million, and no caller can aim
//! for it without the seed.

use std::collections::HashMap;
use std::hash::BuildHasher;

use crossbeam_utils::CachePadded;
use foldhash::fast::RandomState;
use std::sync::{Arc, Mutex};

use crate::clock::{Clock, UnixSeconds};

const WINDOW_SECS: i64 = 60;
const SHARDS: usize = 32;

/// One shard, on its own cache line so that two cores locking neighbouring shards do not
/// contend for one line.
type Counts = CachePadded<Mutex<Shard>>;

struct Shard {
    /// Key hash → (the window it counts in, the count so far).
    counts: HashMap<u64, (i64, u32), RandomState>,
    /// The size at which the next sweep runs. After a sweep it is twice what is left, so a
    /// shard full of keys still counting in this window is not swept again on every call.
    sweep_at: usize,
}

/// Keys a shard tracks before it first sweeps out those of past windows.
const SWEEP_AT: usize = 4096;

pub struct RateLimiter {
    per_window: u32,
    shards: Box<[Counts]>,
    hasher: RandomState,
    clock: Arc<dyn Clock>,
}

impl RateLimiter {
    pub fn per_minute(limit: u32, clock: Arc<dyn Clock>) -> Self {
        Self {
            per_window: limit,
            shards: (0..SHARDS)
                .map(|_| {
                    CachePadded::new(Mutex::new(Shard {
                        counts: HashMap::with_hasher(RandomState::default()),
                        sweep_at: SWEEP_AT,
                    }))
                })
                .collect(),
            hasher: RandomState::default(),
            clock,
        }
    }

    /// `Ok` if `key` may go ahead; otherwise the seconds until it may try again.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now: UnixSeconds = self.clock.now();
        let window = now.div_euclid(WINDOW_SECS);
        let hash = self.hasher.hash_one(key);
        let shard = &self.shards[hash as usize % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
        if shard.counts.len() >= shard.sweep_at {
            shard.counts.retain(|_, (w, _)| *w == window);
            shard.sweep_at = SWEEP_AT.max(shard.counts.len() * 2);
        }
        let counts = &mut shard.counts;
        let count = match counts.get_mut(&hash) {
            Some(entry) if entry.0 == window => {
                entry.1 = entry.1.saturating_add(1);
                entry.1
            }
            Some(entry) => {
                *entry = (window, 1);
                1
            }
            None => {
                counts.insert(hash, (window, 1));
                1
            }
        };
        if count <= self.per_window {
            Ok(())
        } else {
            Err((WINDOW_SECS - now.rem_euclid(WINDOW_SECS)).max(1) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn limits_per_key_and_window() {
        let clock = ManualClock::new(1_800_000_020);
        let limiter = RateLimiter::per_minute(2, Arc::new(clock.clone()));
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert_eq!(limiter.check("a"), Err(40));
        assert!(limiter.check("b").is_ok());
        clock.advance(40);
        assert!(limiter.check("a").is_ok());
    }

    #[test]
    fn a_shard_full_of_current_keys_is_not_swept_on_every_call() {
        let clock = ManualClock::new(1_800_000_020);
        let limiter = RateLimiter::per_minute(5, Arc::new(clock.clone()));
        let keys = SHARDS * SWEEP_AT * 2;
        for i in 0..keys {
            assert!(limiter.check(&format!("user{i}")).is_ok());
        }
        let lock = |shard: &Counts| {
            let shard = shard.lock().unwrap();
            (shard.counts.len(), shard.sweep_at)
        };
        // Every key is still counting, so nothing was dropped, and each full shard's next
        // sweep waits until it has doubled (a shard that has just doubled sweeps next).
        let total: usize = limiter.shards.iter().map(|s| lock(s).0).sum();
        assert_eq!(total, keys);
        for shard in limiter.shards.iter() {
            let (len, sweep_at) = lock(shard);
            assert!(len <= sweep_at, "{len} keys, next sweep at {sweep_at}");
        }
        // Counts survive those sweeps.
        for _ in 0..4 {
            assert!(limiter.check("user7").is_ok());
        }
        assert!(limiter.check("user7").is_err());
        // In the next window a sweep drops the old keys again.
        clock.advance(60);
        for i in 0..2 * keys {
            assert!(limiter.check(&format!("next{i}")).is_ok());
        }
        let total: usize = limiter.shards.iter().map(|s| lock(s).0).sum();
        assert!(total < 3 * keys, "the last window's keys are swept");
    }
}
