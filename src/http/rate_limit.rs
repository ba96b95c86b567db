//! Fixed-window rate limits kept in process (per instance): sign-up/login per client
//! address, token requests per user. Cheap enough for the token path: one cache lookup
//! and one atomic add.

use std::collections::HashMap;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use std::sync::{Arc, Mutex};

use crate::clock::{Clock, UnixSeconds};

const WINDOW_SECS: i64 = 60;
const SHARDS: usize = 32;

/// One shard: key → (the window it counts in, the count so far).
type Counts = Mutex<HashMap<String, (i64, u32), RandomState>>;
/// Keys a shard tracks before it sweeps out those of past windows.
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
                .map(|_| Mutex::new(HashMap::with_hasher(RandomState::default())))
                .collect(),
            hasher: RandomState::default(),
            clock,
        }
    }

    /// `Ok` if `key` may go ahead; otherwise the seconds until it may try again.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now: UnixSeconds = self.clock.now();
        let window = now.div_euclid(WINDOW_SECS);
        let shard = &self.shards[self.hasher.hash_one(key) as usize % SHARDS];
        let mut counts = shard.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= SWEEP_AT {
            counts.retain(|_, (w, _)| *w == window);
        }
        let count = match counts.get_mut(key) {
            Some(entry) if entry.0 == window => {
                entry.1 = entry.1.saturating_add(1);
                entry.1
            }
            Some(entry) => {
                *entry = (window, 1);
                1
            }
            None => {
                counts.insert(key.to_owned(), (window, 1));
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
}
