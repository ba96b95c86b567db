//! What the access rule reads, as the caches hold it: a room (by name), and everything the
//! rule needs about a user ([`UserFacts`]: profile, live bans, live entitlements, ended
//! sessions), each keyed so that one write invalidates exactly one key. The user's facts
//! share one entry because every decision reads all of them: one lookup per request
//! instead of three, on a path where each lookup is mostly a wait on memory. Missing things
//! are cached too (negative caching), so a stream of requests for an unknown room costs
//! one query. Loads are single-flight ([`TieredCache`]).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ScopeIndex;
use crate::cache::bus::Health;
use crate::cache::{Invalidation, InvalidationSink, RedisTier, TieredCache};
use crate::domain::{Ban, Entitlement, Room, User};
use crate::telemetry::metrics::{CacheName, Metrics};

/// What the access rule needs to know about one user, cached as one entry.
///
/// The lists are boxed slices, exactly as long as what they hold: an entry lives as long as
/// the cache keeps it, and a `Vec` filled row by row keeps room for four records after its
/// first (about 720 spare bytes for one entitlement), which for a million held users was a
/// quarter of the memory they took (`bench/README.md`, "Platform volume").
#[derive(Debug, Serialize, Deserialize)]
#[serde(from = "StoredUserFacts")]
pub struct UserFacts {
    pub user: Arc<User>,
    /// Bans in force when loaded. The rule checks each again at decision time, so one
    /// that has run out since no longer counts.
    pub bans: Box<[Ban]>,
    /// Entitlements live or yet to start when loaded; checked again the same way. Private
    /// with `scope_index`, which is derived from it, so the two cannot drift apart.
    entitlements: Box<[Entitlement]>,
    /// Derived wherever facts are made (from SQL or from Redis), so never stored.
    #[serde(skip)]
    scope_index: ScopeIndex,
    /// Sessions ended one by one (sign-out) whose tokens have not expired yet; usually
    /// none. Sessions ended all at once are older generations (`user.session_generation`).
    pub ended_sessions: Box<[String]>,
}

impl UserFacts {
    pub fn new(user: Arc<User>, bans: Vec<Ban>, entitlements: Vec<Entitlement>) -> Self {
        Self {
            scope_index: ScopeIndex::of(&entitlements),
            user,
            bans: bans.into_boxed_slice(),
            entitlements: entitlements.into_boxed_slice(),
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
        generation == self.user.session_generation && !self.ended_sessions.iter().any(|j| j == jti)
    }

    /// The entitlements that may cover `room`: every one that does (see
    /// [`ScopeIndex::candidates`]); the access rule checks each against the room.
    pub fn entitlements_for<'a>(
        &'a self,
        room: &'a Room,
    ) -> impl Iterator<Item = &'a Entitlement> + Clone + 'a {
        self.scope_index.candidates(&self.entitlements, room)
    }
}

/// [`UserFacts`] as the Redis tier holds them.
#[derive(Deserialize)]
struct StoredUserFacts {
    user: Arc<User>,
    bans: Vec<Ban>,
    entitlements: Vec<Entitlement>,
    #[serde(default)]
    ended_sessions: Vec<String>,
}

impl From<StoredUserFacts> for UserFacts {
    fn from(stored: StoredUserFacts) -> Self {
        Self::new(stored.user, stored.bans, stored.entitlements)
            .with_ended_sessions(stored.ended_sessions)
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
        let facts = UserFacts::new(Arc::new(user("viewer", Role::Viewer)), vec![], vec![ticket]);
        let stored = serde_json::to_vec(&facts).unwrap();
        let read: UserFacts = serde_json::from_slice(&stored).unwrap();
        let room = room(RoomAccess::Paid);
        let found: Vec<&str> = read
            .entitlements_for(&room)
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(found, ["ent-room-1"]);
    }
}
