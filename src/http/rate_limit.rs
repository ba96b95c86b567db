//! Fixed-window rate limits kept in process (per instance): sign-up/login per client
//! address, token requests per user. Cheap enough for the token path: one cache lookup
//! and one atomic add.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, UnixSeconds};

const WINDOW_SECS: i64 = 60;

pub struct RateLimiter {
    per_window: u32,
    windows: moka::sync::Cache<(String, i64), Arc<AtomicU32>>,
    clock: Arc<dyn Clock>,
}

impl RateLimiter {
    pub fn per_minute(limit: u32, clock: Arc<dyn Clock>) -> Self {
        Self {
            per_window: limit,
            windows: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(Duration::from_secs(2 * WINDOW_SECS as u64))
                .build(),
            clock,
        }
    }

    /// `Ok` if `key` may go ahead; otherwise the seconds until it may try again.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now: UnixSeconds = self.clock.now();
        let window = now.div_euclid(WINDOW_SECS);
        let counter = self
            .windows
            .get_with((key.to_owned(), window), || Arc::new(AtomicU32::new(0)));
        if counter.fetch_add(1, Ordering::Relaxed) < self.per_window {
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
