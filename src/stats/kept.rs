//! Figures kept in memory between requests, and when they may be answered with.
//!
//! A room with nobody present can only change through a new join, which moves its
//! attendance tally: figures computed at a tally are exact for as long as the tally stays
//! where it was, whatever the time. A room with open stays changes every second (each
//! open stay lengthens), so its figures are answered for [`LIVE_FRESH_SECS`] as they are;
//! after that they are still answered, while a background task computes new ones, until
//! they are [`LIVE_STALE_LIMIT_SECS`] old, when the request waits for new figures. A
//! dashboard polling a running show therefore never waits for the computation, and no
//! answer is ever older than the limit; its `as_of` says exactly how old it is.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::clock::UnixSeconds;
use crate::store::{AttendanceFigures, AttendanceTally};

/// Age up to which a running show's figures are answered as they are.
pub const LIVE_FRESH_SECS: i64 = 5;
/// Age from which a running show's figures are no longer answered at all.
pub const LIVE_STALE_LIMIT_SECS: i64 = 30;
/// Rooms kept at most; the ones computed longest ago make room first.
const KEPT_ROOMS: usize = 512;
/// Joins-per-second entries kept at most over all rooms (16 bytes each: 16 MiB).
const KEPT_JOIN_SECONDS: usize = 1 << 20;

/// One room's figures, computed at `as_of` from attendance at `tally`.
#[derive(Debug)]
pub(super) struct Computed {
    pub(super) tally: AttendanceTally,
    pub(super) as_of: UnixSeconds,
    pub(super) figures: AttendanceFigures,
    /// Joins per second of arrival, oldest first: folded into any bucket width on request.
    pub(super) joins_per_second: Vec<(UnixSeconds, i64)>,
    /// A background computation of newer figures is under way.
    refreshing: AtomicBool,
}

impl Computed {
    pub(super) fn new(
        tally: AttendanceTally,
        as_of: UnixSeconds,
        figures: AttendanceFigures,
        joins_per_second: Vec<(UnixSeconds, i64)>,
    ) -> Self {
        Self {
            tally,
            as_of,
            figures,
            joins_per_second,
            refreshing: AtomicBool::new(false),
        }
    }

    /// Lets the next request that finds these figures stale start a computation again.
    pub(super) fn refresh_failed(&self) {
        self.refreshing.store(false, Ordering::Release);
    }
}

/// What the kept figures of a room are worth now.
#[derive(Debug)]
pub(super) enum Judgement {
    /// Exact now: nobody is present and nothing changed since they were computed.
    Exact(Arc<Computed>),
    /// A running show's figures, young enough to answer with as they are.
    Recent(Arc<Computed>),
    /// A running show's figures, still answerable; `refresh` is true for the one caller
    /// that should start computing newer ones.
    Stale {
        computed: Arc<Computed>,
        refresh: bool,
    },
    /// Nothing to answer with: compute.
    Missing,
}

#[derive(Default)]
pub(super) struct KeptFigures {
    rooms: Mutex<HashMap<String, Arc<Computed>>>,
}

impl KeptFigures {
    /// Judges the kept figures of `room_id` against the room's tally read just now.
    pub(super) fn judge(
        &self,
        room_id: &str,
        tally: AttendanceTally,
        now: UnixSeconds,
    ) -> Judgement {
        let Some(computed) = self.lock().get(room_id).cloned() else {
            return Judgement::Missing;
        };
        if tally.open_stays == 0 {
            return if computed.tally == tally {
                Judgement::Exact(computed)
            } else {
                Judgement::Missing
            };
        }
        let age = now - computed.as_of;
        if age < LIVE_FRESH_SECS {
            Judgement::Recent(computed)
        } else if age < LIVE_STALE_LIMIT_SECS {
            let refresh = !computed.refreshing.swap(true, Ordering::AcqRel);
            Judgement::Stale { computed, refresh }
        } else {
            Judgement::Missing
        }
    }

    /// Keeps newly computed figures, unless figures computed later are already kept.
    pub(super) fn keep(&self, room_id: &str, computed: Arc<Computed>) {
        let mut rooms = self.lock();
        if rooms
            .get(room_id)
            .is_some_and(|kept| kept.tally.changes > computed.tally.changes)
        {
            return;
        }
        rooms.insert(room_id.to_owned(), computed);
        let mut join_seconds: usize = rooms.values().map(|c| c.joins_per_second.len()).sum();
        while rooms.len() > KEPT_ROOMS || (join_seconds > KEPT_JOIN_SECONDS && rooms.len() > 1) {
            let Some(oldest) = rooms
                .iter()
                .filter(|(id, _)| id.as_str() != room_id)
                .min_by_key(|(_, c)| c.as_of)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            if let Some(evicted) = rooms.remove(&oldest) {
                join_seconds -= evicted.joins_per_second.len();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Computed>>> {
        // The map holds no invariant a panicking holder could break halfway.
        self.rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn computed(changes: i64, open_stays: i64, as_of: UnixSeconds) -> Arc<Computed> {
        let figures = AttendanceFigures {
            viewers: 1,
            present: open_stays.min(1),
            joins: changes,
            watch_secs: 60,
            median_sum_secs: 60,
            median_count: 1,
            peak_concurrent: 1,
            peak_at: Some(0),
            first_join_at: Some(0),
            last_join_at: Some(0),
        };
        let tally = AttendanceTally {
            changes,
            open_stays,
        };
        Arc::new(Computed::new(tally, as_of, figures, vec![(0, changes)]))
    }

    fn tally(changes: i64, open_stays: i64) -> AttendanceTally {
        AttendanceTally {
            changes,
            open_stays,
        }
    }

    #[test]
    fn a_finished_show_is_exact_until_its_attendance_changes() {
        let kept = KeptFigures::default();
        assert!(matches!(
            kept.judge("r", tally(2, 0), 0),
            Judgement::Missing
        ));
        kept.keep("r", computed(2, 0, 100));
        let a_year_later = 100 + 365 * 86_400;
        assert!(matches!(
            kept.judge("r", tally(2, 0), a_year_later),
            Judgement::Exact(_)
        ));
        // Someone joined and left again: the count moved, the figures are gone.
        assert!(matches!(
            kept.judge("r", tally(4, 0), 101),
            Judgement::Missing
        ));
    }

    #[test]
    fn a_running_show_is_answered_recent_then_stale_with_one_refresh_then_not_at_all() {
        let kept = KeptFigures::default();
        kept.keep("r", computed(5, 2, 1_000));
        assert!(matches!(
            kept.judge("r", tally(9, 3), 1_000 + LIVE_FRESH_SECS - 1),
            Judgement::Recent(_)
        ));
        let stale_at = 1_000 + LIVE_FRESH_SECS;
        let first = kept.judge("r", tally(9, 3), stale_at);
        let second = kept.judge("r", tally(9, 3), stale_at);
        assert!(matches!(first, Judgement::Stale { refresh: true, .. }));
        assert!(matches!(second, Judgement::Stale { refresh: false, .. }));
        // The refresh failed: the next caller tries again.
        if let Judgement::Stale { computed, .. } = second {
            computed.refresh_failed();
        }
        assert!(matches!(
            kept.judge("r", tally(9, 3), stale_at),
            Judgement::Stale { refresh: true, .. }
        ));
        assert!(matches!(
            kept.judge("r", tally(9, 3), 1_000 + LIVE_STALE_LIMIT_SECS),
            Judgement::Missing
        ));
    }

    #[test]
    fn older_figures_never_replace_newer_ones_and_the_oldest_make_room() {
        let kept = KeptFigures::default();
        kept.keep("r", computed(7, 0, 10));
        kept.keep("r", computed(6, 0, 20));
        assert!(matches!(
            kept.judge("r", tally(7, 0), 30),
            Judgement::Exact(_)
        ));
        for n in 0..KEPT_ROOMS {
            kept.keep(&format!("room{n}"), computed(1, 0, 100 + n as i64));
        }
        assert!(
            matches!(kept.judge("r", tally(7, 0), 30), Judgement::Missing),
            "computed first, evicted first"
        );
        assert!(matches!(
            kept.judge("room0", tally(1, 0), 30),
            Judgement::Exact(_)
        ));
        assert_eq!(kept.lock().len(), KEPT_ROOMS);
    }
}
