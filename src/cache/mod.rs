//! The hot path's memory: in-process cache ([`local`]) → Redis → SQL.
//!
//! Four caches hold what an access decision needs, each keyed so that one write
//! invalidates exactly one key: a user's profile, a room (by name), a user's live bans and
//! a user's live entitlements. Missing things are cached too (negative caching), so a
//! stream of requests for an unknown room costs one query. Loads are single-flight: under a
//! stampede one caller per key reaches Redis/SQL and the rest wait for its answer.
//!
//! Any change publishes an invalidation on the [`bus`]: through Redis pub/sub to every
//! instance when Redis is configured, in-process otherwise. While an instance is not
//! subscribed (Redis down, reconnecting) it stops trusting its in-process tier and reads
//! through, so a missed invalidation can never keep a banned user in.

pub mod bus;
pub mod local;
mod redis_tier;
mod tiered;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use bus::Bus;
pub use redis_tier::RedisTier;
pub use tiered::TieredCache;

use crate::domain::{Ban, Entitlement, Room, User};
use crate::telemetry::metrics::{CacheName, Metrics};

/// Which cached fact changed, and for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cache", content = "key", rename_all = "snake_case")]
pub enum Invalidation {
    User(String),
    Room(String),
    Bans(String),
    Entitlements(String),
    /// Everything (after a bus outage, or by an operator).
    All,
}

pub struct AccessCaches {
    pub users: TieredCache<Option<Arc<User>>>,
    pub rooms: TieredCache<Option<Arc<Room>>>,
    pub bans: TieredCache<Vec<Ban>>,
    pub entitlements: TieredCache<Vec<Entitlement>>,
}

impl AccessCaches {
    pub fn new(
        max_entries: u64,
        ttl_secs: u64,
        redis: Option<RedisTier>,
        bus_healthy: bus::Health,
        metrics: Arc<Metrics>,
    ) -> Self {
        macro_rules! tiered {
            ($name:expr) => {
                TieredCache::new(
                    $name,
                    max_entries,
                    ttl_secs,
                    redis.clone(),
                    bus_healthy.clone(),
                    metrics.clone(),
                )
            };
        }
        Self {
            users: tiered!(CacheName::Users),
            rooms: tiered!(CacheName::Rooms),
            bans: tiered!(CacheName::Bans),
            entitlements: tiered!(CacheName::Entitlements),
        }
    }

    /// Drops the in-process copy; the bus calls this on every instance.
    pub fn apply(&self, invalidation: &Invalidation) {
        match invalidation {
            Invalidation::User(key) => self.users.invalidate_local(key),
            Invalidation::Room(key) => self.rooms.invalidate_local(key),
            Invalidation::Bans(key) => self.bans.invalidate_local(key),
            Invalidation::Entitlements(key) => self.entitlements.invalidate_local(key),
            Invalidation::All => {
                self.users.invalidate_all_local();
                self.rooms.invalidate_all_local();
                self.bans.invalidate_all_local();
                self.entitlements.invalidate_all_local();
            }
        }
    }

    /// The shared (Redis) copy's name for an invalidation, if it has one.
    fn shared_key(invalidation: &Invalidation) -> Option<(CacheName, &str)> {
        match invalidation {
            Invalidation::User(k) => Some((CacheName::Users, k)),
            Invalidation::Room(k) => Some((CacheName::Rooms, k)),
            Invalidation::Bans(k) => Some((CacheName::Bans, k)),
            Invalidation::Entitlements(k) => Some((CacheName::Entitlements, k)),
            Invalidation::All => None,
        }
    }
}
