//! Private calls paid by the minute: the call record and the metering arithmetic.
//!
//! Metering charges minute *slots* on a grid anchored at the call's acceptance: slot `k`
//! is `[anchor + 60k, anchor + 60(k+1))`, and it is charged when any presence of the
//! viewer overlaps it. The grid is fixed once the call is accepted, so which slots a
//! presence touches does not depend on the order, the number or the lateness of the
//! reports that describe it; the store keeps charged slots under the key (call, slot), and
//! the total charged is the union of presence rounded up per started minute.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::UserId;
use crate::clock::UnixSeconds;

/// Length of one charged slot.
pub const SLOT_SECS: i64 = 60;

/// The credit kind a call spends (`EntitlementScope::Credit`), in minutes.
pub const CALL_MINUTES_CREDIT: &str = "call_minutes";

/// Call rooms are named `call-<id>`: the access path recognises a metered room by its
/// name alone, without a lookup for every other room.
pub const CALL_ROOM_PREFIX: &str = "call-";

/// How long before the credit runs out the viewer is warned.
pub const WARN_BEFORE_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Requested,
    Accepted,
    Declined,
    Ended,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Requested => "requested",
            CallState::Accepted => "accepted",
            CallState::Declined => "declined",
            CallState::Ended => "ended",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "requested" => Some(CallState::Requested),
            "accepted" => Some(CallState::Accepted),
            "declined" => Some(CallState::Declined),
            "ended" => Some(CallState::Ended),
            _ => None,
        }
    }
}

/// A performer's price for one minute of a private call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallTerms {
    pub performer_id: UserId,
    pub price_minor: i64,
    pub currency: String,
    pub updated_at: UnixSeconds,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub id: String,
    pub viewer_id: UserId,
    pub performer_id: UserId,
    /// Set on acceptance.
    pub room_id: Option<String>,
    pub state: CallState,
    pub price_minor: i64,
    pub currency: String,
    pub performer_share_bps: i64,
    pub requested_at: UnixSeconds,
    pub accepted_at: Option<UnixSeconds>,
    pub ended_at: Option<UnixSeconds>,
    pub end_reason: Option<String>,
}

/// The slot `at` falls in.
pub fn slot_of(anchor: UnixSeconds, at: UnixSeconds) -> i64 {
    (at - anchor).div_euclid(SLOT_SECS)
}

/// The slots a viewer's presence touches up to `now`. A stay is `[joined, left)`, at least
/// one second long; an open stay lasts until `now`; nothing before the anchor counts (the
/// viewer could not enter before the call was accepted).
pub fn slots_touched(
    anchor: UnixSeconds,
    stays: &[(UnixSeconds, Option<UnixSeconds>)],
    now: UnixSeconds,
) -> BTreeSet<i64> {
    let mut slots = BTreeSet::new();
    for &(joined, left) in stays {
        let from = joined.max(anchor);
        let until = left.unwrap_or(now).max(joined + 1).min(now.max(from) + 1);
        if until <= from {
            continue;
        }
        slots.extend(slot_of(anchor, from)..=slot_of(anchor, until - 1));
    }
    slots
}

/// When the viewer's credit runs out if they stay from `now` on: the end of the slot `now`
/// is in when it is already charged, else its start, plus a minute per remaining credit.
/// It does not move while the viewer stays (each charged slot spends one minute of
/// credit), moves later with a top-up, and is at or before `now` when nothing is left.
pub fn credit_ends_at(
    anchor: UnixSeconds,
    now: UnixSeconds,
    current_slot_charged: bool,
    remaining_minutes: i64,
) -> UnixSeconds {
    let current = slot_of(anchor, now);
    anchor + SLOT_SECS * (current + i64::from(current_slot_charged) + remaining_minutes.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stay_is_charged_per_started_minute_on_the_calls_grid() {
        assert_eq!(
            slots_touched(1000, &[(1000, Some(1060))], 2000),
            BTreeSet::from([0])
        );
        assert_eq!(
            slots_touched(1000, &[(1030, Some(1061))], 2000),
            BTreeSet::from([0, 1])
        );
        // A join and a leave in the same second still started a minute.
        assert_eq!(
            slots_touched(1000, &[(1100, Some(1100))], 2000),
            BTreeSet::from([1])
        );
        // An open stay counts to now; overlapping stays count once.
        assert_eq!(
            slots_touched(1000, &[(1000, None), (1010, Some(1100))], 1125),
            BTreeSet::from([0, 1, 2])
        );
    }

    #[test]
    fn the_credit_runs_out_a_minute_per_remaining_credit_after_the_charged_slot() {
        // Joined at the anchor with 3 minutes: slot 0 charged leaves 2, out at +180.
        assert_eq!(credit_ends_at(1000, 1005, true, 2), 1180);
        // Before the worker charged slot 0 the answer is the same.
        assert_eq!(credit_ends_at(1000, 1005, false, 3), 1180);
        // Nothing left: out at the start of the slot not paid for.
        assert_eq!(credit_ends_at(1000, 1185, false, 0), 1180);
    }

    /// A property test: passes of the meter at random moments, each charging what the
    /// stays reported so far touch and nobody charged yet (insert-if-absent), end with
    /// exactly the started minutes of the union of presence, second by second.
    #[test]
    fn passes_at_any_moments_charge_the_started_minutes_of_the_union_once() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(19);
        for _ in 0..2_000 {
            let anchor = rng.gen_range(0..1_000_000_i64);
            let stays: Vec<(i64, Option<i64>)> = (0..rng.gen_range(1..6))
                .map(|_| {
                    let joined = anchor + rng.gen_range(0..900);
                    let left = rng.gen_bool(0.8).then(|| joined + rng.gen_range(0..300));
                    (joined, left)
                })
                .collect();
            let end = anchor + 1_300;
            let mut charged = BTreeSet::new();
            let mut charges = 0;
            let mut now = anchor;
            while now < end {
                now = (now + rng.gen_range(1..200)).min(end);
                // What a shard has reported by `now`: joins so far, leaves so far.
                let known: Vec<_> = stays
                    .iter()
                    .filter(|(joined, _)| *joined <= now)
                    .map(|&(joined, left)| (joined, left.filter(|l| *l <= now)))
                    .collect();
                for slot in slots_touched(anchor, &known, now) {
                    charges += usize::from(charged.insert(slot));
                }
            }
            let mut truth = BTreeSet::new();
            for &(joined, left) in &stays {
                let until = left.unwrap_or(end).max(joined + 1);
                truth.extend((joined..until).map(|second| slot_of(anchor, second)));
            }
            assert_eq!(charged, truth, "{stays:?}");
            assert_eq!(charges, truth.len());
        }
    }
}
