//! The hot path's memory: in-process cache ([`local`]) → Redis → SQL.
//!
//! This module is the machinery, generic over what is cached: [`TieredCache`] (the three
//! tiers, single-flight loads, negative caching) and the [`bus`] that carries
//! [`Invalidation`]s. What is cached for access decisions, and how an invalidation maps to
//! entries, is [`crate::access`]'s (`access::caches`), which the bus reaches through
//! [`InvalidationSink`].
//!
//! Any change publishes an invalidation on the [`bus`]: through Redis pub/sub to every
//! instance when Redis is configured, in-process otherwise. While an instance cannot show
//! that it hears the bus (its own heartbeat has not come back within a second: Redis
//! down, hung, or cut off from it) it trusts neither its in-process tier nor the Redis
//! tier and reads through, so a missed invalidation keeps a banned user in for at most
//! that second (the bus's module doc and `docs/operations.md` give the bounds).

pub mod bus;
pub mod local;
mod redis_tier;
mod subscriber;
mod tiered;

use serde::{Deserialize, Serialize};

pub use bus::Bus;
pub use redis_tier::RedisTier;
pub use tiered::TieredCache;

use crate::telemetry::metrics::CacheName;

/// Which cached fact changed, and for whom. A change to a user's profile, bans or
/// entitlements drops the same entry (the user's facts); the three stay distinct on the
/// bus so that a message says what happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "cache", content = "key", rename_all = "snake_case")]
pub enum Invalidation {
    User(String),
    Room(String),
    Bans(String),
    Entitlements(String),
    /// Everything (after a bus outage, or by an operator).
    All,
}

impl Invalidation {
    /// The shared (Redis) copy's name for an invalidation, if it has one.
    fn shared_key(&self) -> Option<(CacheName, &str)> {
        match self {
            Invalidation::User(k) | Invalidation::Bans(k) | Invalidation::Entitlements(k) => {
                Some((CacheName::UserFacts, k))
            }
            Invalidation::Room(k) => Some((CacheName::Rooms, k)),
            Invalidation::All => None,
        }
    }
}

/// What the bus applies every invalidation to, on every instance: the in-process copies.
pub trait InvalidationSink: Send + Sync {
    fn apply(&self, invalidation: &Invalidation);
}
