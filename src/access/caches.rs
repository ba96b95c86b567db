//! What the access rule reads, as the caches hold it: a room (by name), and everything the
//! rule needs about a user ([`UserFacts`]: profile, live bans, live entitlements, ended
//! sessions), each keyed so that one write invalidates exactly one key. The user's facts
//! share one entry because every decision reads all of them: one lookup per request
//! instead of three, on a path where each lookup is mostly a wait on memory. Missing things
//! are cached too (negative caching), so a stream of requests for an unknown room costs
//! one query. Loads are single-flight ([`TieredCache`]).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::candidates::{candidates, HeldEntitlement};
use super::policy::EntitlementTerms;
use super::Profile;
use crate::cache::bus::Health;
use crate::cache::{Invalidation, InvalidationSink, RedisTier, TieredCache};
use crate::domain::{Ban, Entitlement, Room, User};
use crate::telemetry::metrics::{CacheName, Metrics};

/// What the access rule needs to know about one user, cached as one entry.
///
/// An entry lives as long as the cache keeps it, for every user who asked recently, so it
/// holds only what decisions and tokens read, each list exactly as long as what it holds:
/// the profile in two allocations ([`Profile`]), each entitlement in two
/// ([`HeldEntitlement`]). With the records themselves a million held users took 1.1 GiB
/// (`bench/README.md`, "Platform volume").
#[derive(Debug, Serialize, Deserialize)]
pub struct UserFacts {
    pub user: Arc<Profile>,
    /// Bans in force when loaded. The rule checks each again at decision time, so one
    /// that has run out since no longer counts. Few users have any, so they stay records.
    pub bans: Box<[Ban]>,
    /// Entitlements live or yet to start when loaded; checked again the same way.
    entitlements: Box<[HeldEntitlement]>,
    /// Sessions ended one by one (sign-out) whose tokens have not expired yet; usually
    /// none. Sessions ended all at once are older generations (`user.session_generation`).
    #[serde(default)]
    pub ended_sessions: Box<[String]>,
}

impl UserFacts {
    pub fn new(user: &User, bans: Vec<Ban>, entitlements: &[Entitlement]) -> Self {
        Self {
            user: Arc::new(Profile::from(user)),
            bans: bans.into_boxed_slice(),
            entitlements: entitlements.iter().map(HeldEntitlement::from).collect(),
            ended_sessions: Box::default(),
        }
    }

    pub fn with_ended_sessions(mut self, ended_sessions: Vec<String>) -> Self {
        self.ended_sessions = ended_sessions.into_boxed_slice();
        self
    }

    /// Whether the session `jti`, issued under session generation `generation`, still
    /// stands: neither ended with all the user's sessions nor on its own.
    pub fn session_stands(&self, generation: i64, jti: &str) -> bool {
        generation == self.user.session_generation()
            && !self.ended_sessions.iter().any(|j| j == jti)
    }

    /// The entitlements that may cover `room`: every one that does (see
    /// [`candidates`]); the access rule checks each against the room.
    pub fn entitlements_for<'a>(
        &'a self,
        room: &'a Room,
    ) -> impl Iterator<Item = EntitlementTerms<'a>> + Clone + 'a {
        candidates(&self.entitlements, room)
    }
}

pub struct AccessCaches {
    /// By user id; `None` for a user that does not exist.
    pub user_facts: TieredCache<Option<UserFacts>>,
    pub rooms: TieredCache<Option<Arc<Room>>>,
}

impl AccessCaches {
    pub fn new(
        max_entries: u64,
        ttl_secs: u64,
        redis: Option<RedisTier>,
        bus_healthy: Health,
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
            user_facts: tiered!(CacheName::UserFacts),
            rooms: tiered!(CacheName::Rooms),
        }
    }
}

impl InvalidationSink for AccessCaches {
    /// Drops the in-process copy; the bus calls this on every instance.
    fn apply(&self, invalidation: &Invalidation) {
        match invalidation {
            Invalidation::User(key) | Invalidation::Bans(key) | Invalidation::Entitlements(key) => {
                self.user_facts.invalidate_local(key)
            }
            Invalidation::Room(key) => self.rooms.invalidate_local(key),
            Invalidation::All => {
                self.user_facts.invalidate_all_local();
                self.rooms.invalidate_all_local();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{entitlement, room, user};
    use crate::domain::{EntitlementScope, Role, RoomAccess};

    #[test]
    fn facts_read_back_from_redis_find_their_entitlements_again() {
        let ticket = entitlement(EntitlementScope::Room("room-1".into()), 0, None);
        let facts = UserFacts::new(&user("viewer", Role::Viewer), vec![], &[ticket]);
        let stored = serde_json::to_vec(&facts).unwrap();
        let read: UserFacts = serde_json::from_slice(&stored).unwrap();
        let room = room(RoomAccess::Paid);
        let found: Vec<&str> = read.entitlements_for(&room).map(|e| e.id).collect();
        assert_eq!(found, ["ent-room-1"]);
        assert_eq!(read.user.to_user(), user("viewer", Role::Viewer));
    }
}
