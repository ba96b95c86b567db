//! Time as the service sees it.
//!
//! Every `iat`, `nbf`, `exp`, ban expiry and entitlement window is computed from an
//! injected [`Clock`], so tests can pin and advance time instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Seconds since the Unix epoch, the unit JWT claims and the store use.
pub type UnixSeconds = i64;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> UnixSeconds;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place that reads the wall clock"
    )]
    fn now(&self) -> UnixSeconds {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; shared between a test and the app it drives.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: UnixSeconds) -> Self {
        Self(Arc::new(AtomicI64::new(start)))
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn set(&self, now: UnixSeconds) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixSeconds {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 rendering for API answers (`expires_at`, ban `until`).
pub fn rfc3339(at: UnixSeconds) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| at.to_string())
}

/// Parses RFC 3339 timestamps from API input.
pub fn parse_rfc3339(text: &str) -> Option<UnixSeconds> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("2026-11-28T21:00:00Z"), Some(1_795_899_600));
        assert_eq!(parse_rfc3339(&rfc3339(1_795_899_600)), Some(1_795_899_600));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
