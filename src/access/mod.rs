//! Access decisions on the hot path: load the facts through the caches, apply [`policy`].
//!
//! Two lookups, a room and the user's facts (profile, bans, entitlements), run
//! concurrently; each is normally an in-process cache hit. A failed lookup is an error,
//! never an empty answer, so a store outage refuses entry (503) instead of letting a
//! banned user through.

pub mod caches;
mod candidates;
pub mod policy;
mod profile;
pub mod seats;

use std::sync::Arc;

use crate::clock::{Clock, UnixSeconds};
use crate::domain::{Room, RoomName, User, VerifiedSession};
use crate::store::{Store, StoreError};
pub use caches::{AccessCaches, UserFacts};

use crate::domain::calls::{credit_ends_at, CALL_ROOM_PREFIX};
use crate::store::MeterFacts;
pub use policy::{Basis, Denial, Grant, Verdict};
pub use profile::Profile;
pub use seats::{SeatCheck, Seats};

/// Where a verified session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStanding {
    Current,
    /// Signed out, signed out everywhere, a password change, an admin's revocation or a
    /// global ban ended it.
    Ended,
    /// The session's user no longer exists.
    UnknownUser,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The credentials name a user that does not exist (any more).
    #[error("unknown user")]
    UnknownUser,
    #[error("no such room")]
    RoomNotFound,
    #[error("access data unavailable")]
    Unavailable(#[from] StoreError),
}

/// A user's facts as a request read them while checking its session, for the decision the
/// same request asks for next. The in-process tier normally holds them by then; when it
/// cannot (turned off, or untrusted while the invalidation bus is down) the decision
/// would otherwise read the same rows a second time, microseconds later. A ban that
/// commits between the two is the race any decision has with a ban committing just after
/// its read: the request counts as before the ban, whose live enforcement then removes
/// the occupant.
#[derive(Clone)]
pub struct FactsRead(Arc<Option<UserFacts>>);

impl FactsRead {
    fn of(&self, user_id: &str) -> Option<Arc<Option<UserFacts>>> {
        let facts = self.0.as_ref().as_ref()?;
        (facts.user.id() == user_id).then(|| self.0.clone())
    }
}

impl std::fmt::Debug for FactsRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.0.as_ref().as_ref().map(|facts| facts.user.id());
        f.debug_tuple("FactsRead").field(&user).finish()
    }
}

/// A verdict with the facts it was made from.
#[derive(Debug, Clone)]
pub struct Decision {
    pub user: Arc<Profile>,
    pub room: Arc<Room>,
    pub verdict: Verdict,
    pub decided_at: UnixSeconds,
    /// In a private call's room, when the viewer's credit runs out (see [`metered`]).
    pub call_credit_ends_at: Option<UnixSeconds>,
}

impl Decision {
    /// Applies the policy to the facts.
    fn made(facts: &UserFacts, room: Arc<Room>, now: UnixSeconds) -> Self {
        let entitlements = facts.entitlements_for(&room);
        let entrant = policy::Entrant::from(facts.user.as_ref());
        let verdict = policy::decide(entrant, &room, &facts.bans, entitlements, now);
        Self {
            user: facts.user.clone(),
            room,
            verdict,
            decided_at: now,
            call_credit_ends_at: None,
        }
    }
}

pub struct AccessService {
    store: Store,
    caches: Arc<AccessCaches>,
    clock: Arc<dyn Clock>,
    seats: Seats,
}

impl AccessService {
    pub fn new(store: Store, caches: Arc<AccessCaches>, clock: Arc<dyn Clock>) -> Self {
        Self {
            seats: Seats::new(store.clone()),
            store,
            caches,
            clock,
        }
    }

    /// Rooms' occupancy as attendance reports tell it (capacity checks).
    pub fn seats(&self) -> &Seats {
        &self.seats
    }

    /// May `user_id` enter `room` now?
    pub async fn decide(&self, user_id: &str, room: &RoomName) -> Result<Decision, AccessError> {
        self.decide_with(user_id, room, None).await
    }

    /// [`Self::decide`], with the user's facts as this request already read them, if it
    /// did ([`Self::session_standing`]): used when they are not held in process.
    pub async fn decide_with(
        &self,
        user_id: &str,
        room: &RoomName,
        read: Option<&FactsRead>,
    ) -> Result<Decision, AccessError> {
        let now = self.clock.now();
        let decision = match self.decide_from_memory(user_id, room, now) {
            Some(decision) => decision,
            None => {
                let (facts, room) = match read.and_then(|read| read.of(user_id)) {
                    Some(facts) => (facts, self.room(room).await?),
                    None => tokio::try_join!(self.user_facts(user_id, now), self.room(room))?,
                };
                let facts = facts.as_ref().as_ref().ok_or(AccessError::UnknownUser)?;
                let room = room.ok_or(AccessError::RoomNotFound)?;
                Decision::made(facts, room, now)
            }
        };
        if !decision.room.name.as_str().starts_with(CALL_ROOM_PREFIX) {
            return Ok(decision);
        }
        let facts = match &decision.verdict {
            Verdict::Allow(grant) if !grant.moderator => {
                self.store
                    .call_meter(&decision.room.id, user_id, now)
                    .await?
            }
            _ => None,
        };
        Ok(metered(decision, facts))
    }

    /// The decision when both entries are held in process, as they are for nearly every
    /// request of a running show: no future is built and nothing waits. Anything missing
    /// (or an untrusted in-process tier) returns `None`, and [`Self::decide`] loads it.
    fn decide_from_memory(
        &self,
        user_id: &str,
        room: &RoomName,
        now: UnixSeconds,
    ) -> Option<Decision> {
        let caches = &self.caches;
        let room = caches
            .rooms
            .peek_in_memory(room.as_str(), |room| room.as_ref().clone())??;
        let decision = caches.user_facts.peek_in_memory(user_id, |facts| {
            facts
                .as_ref()
                .as_ref()
                .map(|facts| Decision::made(facts, room, now))
        })??;
        caches.user_facts.count_memory_hit();
        caches.rooms.count_memory_hit();
        Some(decision)
    }

    /// A user's profile, bans and entitlements, through the caches; on a miss, loaded
    /// together in one statement.
    async fn user_facts(
        &self,
        user_id: &str,
        now: UnixSeconds,
    ) -> Result<Arc<Option<UserFacts>>, StoreError> {
        let load = || async {
            let records = self.store.find_user_facts(user_id, now).await?;
            Ok(records.map(|r| {
                UserFacts::new(&r.user, r.bans, &r.entitlements)
                    .with_ended_sessions(r.ended_sessions)
            }))
        };
        self.caches.user_facts.get_or_load(user_id, load).await
    }

    /// Whether a verified session still stands; from memory when held, as on the hot
    /// path, else through the caches, and then with the facts read, for the request's
    /// decision ([`Self::decide_with`]). A hit here is not counted as a cache lookup: the
    /// request goes on to read the same entry for its own purpose, which counts.
    pub async fn session_standing(
        &self,
        session: &VerifiedSession,
    ) -> Result<(SessionStanding, Option<FactsRead>), StoreError> {
        let standing = |facts: &Option<UserFacts>| match facts {
            None => SessionStanding::UnknownUser,
            Some(facts) if facts.session_stands(session.generation, &session.jti) => {
                SessionStanding::Current
            }
            Some(_) => SessionStanding::Ended,
        };
        let facts = &self.caches.user_facts;
        if let Some(found) = facts.peek_in_memory(&session.user_id, |held| standing(held)) {
            return Ok((found, None));
        }
        let loaded = self.user_facts(&session.user_id, self.clock.now()).await?;
        Ok((standing(&loaded), Some(FactsRead(loaded))))
    }

    /// A user's record, through the caches (made again from the held [`Profile`]: API
    /// requests' callers, not the token path).
    pub async fn user(&self, user_id: &str) -> Result<Option<Arc<User>>, StoreError> {
        let facts = self.user_facts(user_id, self.clock.now()).await?;
        Ok(facts
            .as_ref()
            .as_ref()
            .map(|facts| Arc::new(facts.user.to_user())))
    }

    /// A room by its Jitsi name, through the caches.
    pub async fn room(&self, name: &RoomName) -> Result<Option<Arc<Room>>, StoreError> {
        let load = || async { Ok(self.store.find_room_by_name(name).await?.map(Arc::new)) };
        Ok(self
            .caches
            .rooms
            .get_or_load(name.as_str(), load)
            .await?
            .as_ref()
            .clone())
    }
}

/// A viewer's decision in a private call's room, held to their credit: allowed until the
/// moment it runs out (which caps the token's `exp` and the shards' `recheck_at`), and
/// refused as unpaid from then on. Staff, the performer and anyone who is not the call's
/// viewer (whom the room's invitation already refuses) pass unchanged.
pub fn metered(mut decision: Decision, facts: Option<MeterFacts>) -> Decision {
    let (Some(facts), Verdict::Allow(grant)) = (facts, &mut decision.verdict) else {
        return decision;
    };
    let now = decision.decided_at;
    let ends_at = credit_ends_at(
        facts.anchor,
        now,
        facts.current_slot_charged,
        facts.remaining_minutes,
    );
    decision.call_credit_ends_at = Some(ends_at);
    if ends_at <= now {
        decision.verdict = Verdict::Deny(Denial::PaymentRequired { price: None });
    } else {
        grant.until = Some(grant.until.map_or(ends_at, |until| until.min(ends_at)));
    }
    decision
}
