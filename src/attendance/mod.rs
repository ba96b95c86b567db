//! Who was in a room, when, and for how long: segments opened and closed by the joins,
//! leaves and room ends that Prosody shards report.
//!
//! Reports are retried by the module, so every write is idempotent, and a report about a
//! room or user roomkey does not know is dropped (and counted), never an error: a shard
//! must not retry forever over a room created by hand in Prosody.

use std::sync::Arc;

use crate::access::AccessService;
use crate::clock::{Clock, UnixSeconds};
use crate::domain::{AttendanceSegment, Room, RoomName};
use crate::stats::StatsService;
use crate::store::{Store, StoreError};

/// How far ahead of this host's clock a reported time may be before it is pulled back.
const MAX_FUTURE_SECS: i64 = 60;

/// Segments shown per room; the newest are kept.
const MAX_SEGMENTS: i64 = 2_000;

#[derive(Debug, Clone, PartialEq)]
pub enum AttendanceEvent {
    Joined {
        room: String,
        user_id: String,
        occupant: String,
        nick: Option<String>,
        at: f64,
    },
    Left {
        occupant: String,
        at: f64,
    },
    RoomDestroyed {
        room: String,
        at: f64,
    },
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub recorded: u64,
    pub ignored: u64,
}

/// A room's attendance: who is in now, every stay, and each person's total.
#[derive(Debug, Clone)]
pub struct Participants {
    pub now: UnixSeconds,
    pub segments: Vec<AttendanceSegment>,
    pub people: Vec<PersonTotal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonTotal {
    pub user_id: String,
    pub handle: String,
    pub display_name: String,
    pub present: bool,
    pub first_joined_at: UnixSeconds,
    pub segments: u32,
    /// Open stays count up to now.
    pub seconds: i64,
}

pub struct AttendanceService {
    store: Store,
    clock: Arc<dyn Clock>,
    stats: StatsService,
    /// Whose occupancy (capacity checks on the token path) each report makes stale.
    seats: Option<Arc<AccessService>>,
}

impl AttendanceService {
    pub fn new(store: Store, clock: Arc<dyn Clock>, stats: StatsService) -> Self {
        Self {
            store,
            clock,
            stats,
            seats: None,
        }
    }

    /// Drops the token path's held occupancy of every room a report changes.
    pub fn with_seats(mut self, access: Arc<AccessService>) -> Self {
        self.seats = Some(access);
        self
    }

    /// Applies a shard's batch in order.
    pub async fn record(
        &self,
        shard: &str,
        events: &[AttendanceEvent],
    ) -> Result<Recorded, StoreError> {
        let now = self.clock.now();
        let mut tally = Recorded::default();
        for event in events {
            let applied = match event {
                AttendanceEvent::Joined {
                    room,
                    user_id,
                    occupant,
                    nick,
                    at,
                } => match (RoomName::parse(room), reported_time(*at, now)) {
                    (Ok(room), Some(at)) => {
                        self.store
                            .record_join(shard, &room, user_id, occupant, nick.as_deref(), at)
                            .await?
                    }
                    _ => false,
                },
                AttendanceEvent::Left { occupant, at } => match reported_time(*at, now) {
                    Some(at) => self.store.record_leave(occupant, at).await?,
                    None => false,
                },
                AttendanceEvent::RoomDestroyed { room, at } => {
                    match (RoomName::parse(room), reported_time(*at, now)) {
                        (Ok(room), Some(at)) => {
                            self.store.close_room_attendance(shard, &room, at).await?;
                            if let Some(room) = self.store.find_room_by_name(&room).await? {
                                self.stats.settle_in_background(room.id);
                            }
                            true
                        }
                        _ => false,
                    }
                }
            };
            if applied {
                tally.recorded += 1;
                self.forget_seats(event);
            } else {
                tally.ignored += 1;
            }
        }
        Ok(tally)
    }

    fn forget_seats(&self, event: &AttendanceEvent) {
        let Some(access) = &self.seats else {
            return;
        };
        match event {
            AttendanceEvent::Joined { room, .. } | AttendanceEvent::RoomDestroyed { room, .. } => {
                match RoomName::parse(room) {
                    Ok(name) => access.seats().forget(name.as_str()),
                    Err(_) => access.seats().forget_all(),
                }
            }
            // A leave names its occupant, not its room.
            AttendanceEvent::Left { .. } => access.seats().forget_all(),
        }
    }

    pub async fn participants(&self, room: &Room) -> Result<Participants, StoreError> {
        let now = self.clock.now();
        let segments = self.store.room_attendance(&room.id, MAX_SEGMENTS).await?;
        Ok(Participants {
            now,
            people: totals(&segments, now),
            segments,
        })
    }
}

/// Whole seconds from a reported time; nonsense is dropped, the future pulled back to now.
fn reported_time(at: f64, now: UnixSeconds) -> Option<UnixSeconds> {
    if !at.is_finite() || !(0.0..=1e12).contains(&at) {
        return None;
    }
    let at = at.floor() as i64;
    Some(if at > now + MAX_FUTURE_SECS { now } else { at })
}

/// Per person, in order of first arrival.
fn totals(segments: &[AttendanceSegment], now: UnixSeconds) -> Vec<PersonTotal> {
    let mut people: Vec<PersonTotal> = Vec::new();
    for segment in segments {
        let seconds = (segment.left_at.unwrap_or(now) - segment.joined_at).max(0);
        match people.iter_mut().find(|p| p.user_id == segment.user_id) {
            Some(person) => {
                person.segments += 1;
                person.seconds += seconds;
                person.present |= segment.left_at.is_none();
                person.first_joined_at = person.first_joined_at.min(segment.joined_at);
            }
            None => people.push(PersonTotal {
                user_id: segment.user_id.clone(),
                handle: segment.handle.clone(),
                display_name: segment.display_name.clone(),
                present: segment.left_at.is_none(),
                first_joined_at: segment.joined_at,
                segments: 1,
                seconds,
            }),
        }
    }
    people.sort_by_key(|p| p.first_joined_at);
    people
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(user: &str, joined_at: i64, left_at: Option<i64>) -> AttendanceSegment {
        AttendanceSegment {
            occupant_id: format!("{user}-{joined_at}"),
            user_id: user.into(),
            handle: user.into(),
            display_name: user.into(),
            joined_at,
            left_at,
        }
    }

    #[test]
    fn a_reconnect_adds_a_segment_and_open_stays_count_to_now() {
        let people = totals(
            &[
                segment("ada", 100, Some(160)),
                segment("bob", 120, None),
                segment("ada", 170, None),
            ],
            200,
        );
        assert_eq!(people.len(), 2);
        assert_eq!(
            (
                people[0].handle.as_str(),
                people[0].segments,
                people[0].seconds,
                people[0].present
            ),
            ("ada", 2, 60 + 30, true)
        );
        assert_eq!((people[1].seconds, people[1].present), (80, true));
    }

    #[test]
    fn reported_times_are_whole_seconds_and_never_far_in_the_future() {
        assert_eq!(reported_time(1000.9, 2000), Some(1000));
        assert_eq!(reported_time(2050.0, 2000), Some(2050));
        assert_eq!(reported_time(5000.0, 2000), Some(2000));
        assert_eq!(reported_time(f64::NAN, 2000), None);
        assert_eq!(reported_time(-1.0, 2000), None);
    }
}
