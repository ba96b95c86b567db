//! Seats: the token path's side of a room's capacity.
//!
//! A room with a capacity holds at most that many viewers at once; the owner and staff
//! take no seat. roomkey's view of who is in comes from the attendance Prosody reports,
//! so it lags the room by a report or two: this check spares a viewer a token for a room
//! that is plainly full, and `mod_roomkey` enforces the limit for real at join time from
//! the room's own occupants.
//!
//! The hot path must not pay a query per token: each room's seat holders are loaded once
//! (one flight for everyone asking at the same moment), kept for [`OCCUPANCY_TTL_SECS`]
//! and dropped as soon as an attendance report arrives on this instance. Another
//! instance's reports reach this one's view within the TTL.

use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::sync::{Arc, Mutex};

use crossbeam_utils::CachePadded;
use foldhash::fast::RandomState;
use tokio::sync::OnceCell;

use crate::clock::UnixSeconds;
use crate::domain::Room;
use crate::store::{Store, StoreError};

/// How long a viewer who left keeps their seat: a reconnect (a reload, a network switch)
/// finds it free for them and taken for everyone else. The same value as `mod_roomkey`'s
/// `roomkey_seat_grace` default (`prosody-plugins/README.md`).
pub const SEAT_GRACE_SECS: i64 = 30;

/// How long a room's loaded seat holders answer before they are read again, when no
/// attendance report dropped them first: how far behind another instance's reports this
/// instance's view may be. Each reload is a query through the pool (with SQLite, a hop to
/// its worker thread): at 2 s, a thousand busy rooms reloading showed as about a fifth more
/// server CPU per token request in `roomkey-bench --capacity`; at 10 s, nothing beyond the
/// noise (`bench/README.md`, "Seat limits").
pub const OCCUPANCY_TTL_SECS: i64 = 10;

/// Rooms whose occupancy is held at once, per shard; past this the shard starts over (the
/// rooms with a capacity and token traffic within one TTL are far fewer).
const MAX_ROOMS_PER_SHARD: usize = 1_000;

/// Locks the token path spreads its rooms over, so concurrent requests for different
/// rooms rarely meet on one.
const SHARDS: usize = 16;

/// What the token path learns about a viewer's seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatCheck {
    /// The viewer holds a seat (present, or back within the grace period) or one is free.
    Free,
    /// Every seat is taken by someone else; a seat may free up in `retry_after` seconds.
    Full { capacity: u32, retry_after: u64 },
}

/// Who holds a seat in one room, as loaded at one moment, shaped for the check: one
/// entry per user, `None` while present, else their latest leave; and, so that a check
/// costs the same in a room of five or of five thousand, how many are present and the
/// leaves in order (a room's holders are counted once per load, not once per token).
#[derive(Debug, Default)]
struct Occupancy {
    holders: HashMap<String, Option<UnixSeconds>, RandomState>,
    present: usize,
    /// Latest leave of each holder who is not present, oldest first.
    leaves: Vec<UnixSeconds>,
}

impl Occupancy {
    fn from_stays(stays: Vec<(String, Option<UnixSeconds>)>) -> Self {
        let mut holders: HashMap<String, Option<UnixSeconds>, RandomState> = HashMap::default();
        for (user, left_at) in stays {
            let seat = holders.entry(user).or_insert(left_at);
            // Present on any stay means present; else the latest leave counts.
            *seat = match (*seat, left_at) {
                (None, _) | (_, None) => None,
                (Some(a), Some(b)) => Some(a.max(b)),
            };
        }
        let mut leaves: Vec<UnixSeconds> = holders.values().filter_map(|left| *left).collect();
        leaves.sort_unstable();
        Self {
            present: holders.len() - leaves.len(),
            holders,
            leaves,
        }
    }

    /// The leaves still within their grace period at `grace_start`, oldest first.
    fn leaves_in_grace(&self, grace_start: UnixSeconds) -> &[UnixSeconds] {
        &self.leaves[self.leaves.partition_point(|left| *left <= grace_start)..]
    }
}

type Flight = Arc<OnceCell<Occupancy>>;
type Shard = CachePadded<Mutex<HashMap<String, (UnixSeconds, Flight), RandomState>>>;

pub struct Seats {
    store: Store,
    hasher: RandomState,
    shards: Vec<Shard>,
}

impl Seats {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            hasher: RandomState::default(),
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }

    /// Whether `user_id`, a viewer, may have a seat in `room` (a room without a capacity
    /// always has one). A store outage is an error; the caller decides what it means.
    pub async fn check(
        &self,
        room: &Room,
        user_id: &str,
        now: UnixSeconds,
    ) -> Result<SeatCheck, StoreError> {
        let Some(capacity) = room.capacity else {
            return Ok(SeatCheck::Free);
        };
        let flight = self.flight(room.name.as_str(), now);
        if let Some(occupancy) = flight.get() {
            return Ok(judge(occupancy, user_id, capacity, now));
        }
        // The load is boxed: its query future is kilobytes, and inlined it would make every
        // token request's future that much bigger to move, though almost all of them find
        // the room loaded (`bench/README.md`, "Seat limits").
        let occupancy = Box::pin(flight.get_or_try_init(|| async {
            let since = now - SEAT_GRACE_SECS;
            let stays = self.store.find_seat_holders(&room.id, since).await?;
            Ok::<_, StoreError>(Occupancy::from_stays(stays))
        }))
        .await?;
        Ok(judge(occupancy, user_id, capacity, now))
    }

    fn shard(&self, room: &str) -> &Shard {
        &self.shards[self.hasher.hash_one(room) as usize % SHARDS]
    }

    /// The room's current flight, or a new one when there is none or it is older than
    /// the TTL.
    fn flight(&self, room: &str, now: UnixSeconds) -> Flight {
        let mut rooms = self.shard(room).lock().unwrap_or_else(|e| e.into_inner());
        if let Some((loaded_at, flight)) = rooms.get(room) {
            if now - loaded_at < OCCUPANCY_TTL_SECS {
                return flight.clone();
            }
        }
        if rooms.len() >= MAX_ROOMS_PER_SHARD {
            rooms.clear();
        }
        let flight = Flight::default();
        rooms.insert(room.to_owned(), (now, flight.clone()));
        flight
    }

    /// Drops what is held for `room`: an attendance report changed who is in.
    pub fn forget(&self, room: &str) {
        self.shard(room)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(room);
    }

    /// Drops everything held: a report changed who is in somewhere (a leave names its
    /// occupant, not its room).
    pub fn forget_all(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }
}

/// The rule: viewers present or within their grace period hold the seats; one of them is
/// never refused, anyone else is when all are held.
fn judge(occupancy: &Occupancy, user_id: &str, capacity: u32, now: UnixSeconds) -> SeatCheck {
    let grace_start = now - SEAT_GRACE_SECS;
    let holds = |left_at: &Option<UnixSeconds>| left_at.is_none_or(|left| left > grace_start);
    if occupancy.holders.get(user_id).is_some_and(holds) {
        return SeatCheck::Free;
    }
    let in_grace = occupancy.leaves_in_grace(grace_start);
    if occupancy.present + in_grace.len() < capacity as usize {
        return SeatCheck::Free;
    }
    // The first seat a leaver still holds frees up when their grace ends; with everyone
    // present, a leave gives a seat back one grace period later at the soonest.
    let retry_after = in_grace
        .first()
        .map_or(SEAT_GRACE_SECS, |left| left + SEAT_GRACE_SECS - now)
        .max(1);
    SeatCheck::Full {
        capacity,
        retry_after: retry_after as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(
        stays: &[(String, Option<UnixSeconds>)],
        user_id: &str,
        capacity: u32,
        now: UnixSeconds,
    ) -> SeatCheck {
        super::judge(
            &Occupancy::from_stays(stays.to_vec()),
            user_id,
            capacity,
            now,
        )
    }

    fn present(user: &str) -> (String, Option<UnixSeconds>) {
        (user.into(), None)
    }

    fn left(user: &str, at: UnixSeconds) -> (String, Option<UnixSeconds>) {
        (user.into(), Some(at))
    }

    #[test]
    fn a_room_takes_viewers_up_to_its_capacity() {
        let holders = [present("ada")];
        assert_eq!(judge(&holders, "bob", 2, 1_000), SeatCheck::Free);
        let holders = [present("ada"), present("bob")];
        assert_eq!(
            judge(&holders, "cy", 2, 1_000),
            SeatCheck::Full {
                capacity: 2,
                retry_after: SEAT_GRACE_SECS as u64
            }
        );
    }

    #[test]
    fn a_viewer_holding_a_seat_is_never_refused_and_counts_once() {
        let holders = [present("ada"), present("ada"), present("bob")];
        assert_eq!(judge(&holders, "ada", 2, 1_000), SeatCheck::Free);
        assert_eq!(judge(&holders, "ada", 1, 1_000), SeatCheck::Free);
        let holders = [present("ada"), present("ada")];
        assert_eq!(judge(&holders, "bob", 2, 1_000), SeatCheck::Free);
    }

    #[test]
    fn a_leaver_keeps_the_seat_for_the_grace_period_only() {
        let holders = [present("ada"), left("bob", 990)];
        assert_eq!(judge(&holders, "bob", 2, 1_000), SeatCheck::Free);
        assert_eq!(
            judge(&holders, "cy", 2, 1_000),
            SeatCheck::Full {
                capacity: 2,
                retry_after: 20
            }
        );
        assert_eq!(
            judge(&holders, "cy", 2, 990 + SEAT_GRACE_SECS),
            SeatCheck::Free
        );
    }

    #[test]
    fn a_viewer_back_in_the_room_is_present_whatever_their_earlier_stays() {
        let holders = [left("ada", 900), present("ada"), left("ada", 995)];
        assert_eq!(
            judge(&holders, "bob", 1, 2_000),
            SeatCheck::Full {
                capacity: 1,
                retry_after: SEAT_GRACE_SECS as u64
            }
        );
    }
}
