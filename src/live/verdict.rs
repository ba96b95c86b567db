//! What roomkey tells Prosody about one user in one room
//! (`prosody-plugins/PROTOCOL.md`, "Verdicts"): the access decision, reduced to what a
//! running room needs: in or out, owner or member, and when to ask again.

use futures_util::{stream, StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use crate::access::{AccessError, AccessService, Decision, Denial, Verdict};
use crate::clock::{rfc3339, UnixSeconds};
use crate::domain::calls::WARN_BEFORE_SECS;
use crate::domain::{BanScope, RoomAccess, RoomName};
use crate::store::StoreError;

/// Lookups in flight at once for one batch; each is usually an in-process cache hit.
const CONCURRENT_CHECKS: usize = 16;

/// One occupant (or would-be occupant) to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OccupantCheck {
    pub user_id: String,
    pub room: String,
}

/// Judges every check through the same access rule as the token path, in order. Only an
/// outage fails the batch: the module then keeps its occupants and refuses new joins.
pub async fn judge_all(
    access: &AccessService,
    checks: Vec<OccupantCheck>,
) -> Result<Vec<OccupantVerdict>, StoreError> {
    stream::iter(checks)
        .map(|check| async move { judge(access, &check).await })
        .buffered(CONCURRENT_CHECKS)
        .try_collect()
        .await
}

async fn judge(
    access: &AccessService,
    check: &OccupantCheck,
) -> Result<OccupantVerdict, StoreError> {
    let decided = match RoomName::parse(&check.room) {
        // Prosody hands over the node exactly; anything that does not parse is no room of ours.
        Ok(name) if name.as_str() == check.room => access.decide(&check.user_id, &name).await,
        _ => Err(AccessError::RoomNotFound),
    };
    match decided {
        Ok(decision) => Ok(OccupantVerdict::from_decision(&decision)),
        Err(AccessError::Unavailable(error)) => Err(error),
        Err(error) => Ok(
            OccupantVerdict::unknown(&check.user_id, &check.room, &error)
                .expect("only outages have no verdict"),
        ),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OccupantVerdict {
    pub user_id: String,
    pub room: String,
    pub allow: bool,
    pub affiliation: Option<&'static str>,
    /// When the answer may change by itself; the module re-asks then.
    pub recheck_at: Option<UnixSeconds>,
    /// Paid or invite-only: a module that cannot reach roomkey keeps new joins out.
    pub paid: bool,
    pub code: Option<&'static str>,
    pub reason: Option<String>,
    /// Seats for viewers (`member` occupants); the module refuses a join when none is left.
    /// `None`: no limit.
    pub capacity: Option<u32>,
    /// In a private call: when the module warns the viewer that their credit runs out,
    /// and what it tells them (`recheck_at` is then the moment it runs out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<UnixSeconds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl OccupantVerdict {
    pub fn from_decision(decision: &Decision) -> Self {
        let room = &decision.room;
        let paid = room.access != RoomAccess::Free;
        let base = Self {
            user_id: decision.user.id().to_owned(),
            room: room.name.as_str().to_owned(),
            allow: false,
            affiliation: None,
            recheck_at: None,
            paid,
            code: None,
            reason: None,
            capacity: room.capacity,
            warn_at: None,
            warning: None,
        };
        if let Some(ends_at) = decision.call_credit_ends_at {
            return Self::metered(decision, ends_at, base);
        }
        match &decision.verdict {
            Verdict::Allow(grant) => {
                // Staff and the owner stay past the scheduled end; everyone else leaves
                // when their entitlement or the show ends, whichever comes first.
                let show_end = if grant.moderator { None } else { room.ends_at };
                let recheck_at = match (grant.until, show_end) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                Self {
                    allow: true,
                    affiliation: Some(if grant.moderator { "owner" } else { "member" }),
                    recheck_at,
                    ..base
                }
            }
            Verdict::Deny(denial) => {
                let (code, reason, recheck_at) = explain(denial);
                Self {
                    code: Some(code),
                    reason: Some(reason),
                    recheck_at,
                    ..base
                }
            }
        }
    }

    /// A private call's viewer: in until the credit runs out, warned a minute before, then
    /// removed with a reason that says why.
    fn metered(decision: &Decision, ends_at: UnixSeconds, base: Self) -> Self {
        match &decision.verdict {
            Verdict::Allow(grant) => Self {
                allow: true,
                affiliation: Some("member"),
                recheck_at: grant.until,
                warn_at: Some(ends_at - WARN_BEFORE_SECS),
                warning: Some(
                    "Your call credit runs out in one minute: top up to stay in the call"
                        .to_owned(),
                ),
                ..base
            },
            Verdict::Deny(_) => Self {
                code: Some("call_credit_exhausted"),
                reason: Some("Your call credit has run out".to_owned()),
                ..base
            },
        }
    }

    /// A user or room roomkey does not know: never allowed. `None` for an outage.
    fn unknown(user_id: &str, room: &str, error: &AccessError) -> Option<Self> {
        let (code, reason) = match error {
            AccessError::UnknownUser => ("unknown_user", "Unknown user"),
            AccessError::RoomNotFound => ("unknown_room", "This room does not exist"),
            AccessError::Unavailable(_) => return None,
        };
        Some(Self {
            user_id: user_id.to_owned(),
            room: room.to_owned(),
            allow: false,
            affiliation: None,
            recheck_at: None,
            paid: false,
            code: Some(code),
            reason: Some(reason.to_owned()),
            capacity: None,
            warn_at: None,
            warning: None,
        })
    }
}

fn explain(denial: &Denial) -> (&'static str, String, Option<UnixSeconds>) {
    match denial {
        Denial::Banned {
            scope,
            reason,
            until,
            ..
        } => {
            let from = match scope {
                BanScope::Global => "Banned",
                BanScope::Room(_) => "Banned from this room",
                BanScope::Performer(_) => "Banned from this performer's rooms",
            };
            let text = match until {
                Some(until) => format!("{from} until {}: {reason}", rfc3339(*until)),
                None => format!("{from}: {reason}"),
            };
            ("banned", text, *until)
        }
        Denial::PaymentRequired { .. } => (
            "payment_required",
            "A ticket is needed for this room".to_owned(),
            None,
        ),
        Denial::InviteRequired => (
            "invite_required",
            "This room is by invitation only".to_owned(),
            None,
        ),
        Denial::NotYetValid { starts_at } => (
            "not_yet_valid",
            format!("Your access starts at {}", rfc3339(*starts_at)),
            Some(*starts_at),
        ),
        Denial::RoomEnded { .. } => ("room_ended", "The show has ended".to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::access::{Basis, Grant, Profile};
    use crate::domain::{Role, Room, RoomName, User};

    fn decision(access: RoomAccess, ends_at: Option<UnixSeconds>, verdict: Verdict) -> Decision {
        Decision {
            user: Arc::new(Profile::from(User {
                id: "u1".into(),
                handle: "ada".into(),
                display_name: "Ada".into(),
                email: "ada@example.com".into(),
                role: Role::Viewer,
                matrix_user_id: None,
                avatar_url: None,
                verified: false,
                created_at: 0,
                updated_at: 0,
                session_generation: 0,
            })),
            room: Arc::new(Room {
                id: "r1".into(),
                name: RoomName::parse("show").unwrap(),
                title: "Show".into(),
                owner_id: "p1".into(),
                access,
                price: None,
                plans: vec![],
                starts_at: None,
                ends_at,
                created_at: 0,
                updated_at: 0,
                capacity: None,
            }),
            verdict,
            decided_at: 100,
            call_credit_ends_at: None,
        }
    }

    fn grant(moderator: bool, until: Option<UnixSeconds>) -> Verdict {
        Verdict::Allow(Grant {
            moderator,
            until,
            basis: Basis::FreeRoom,
        })
    }

    #[test]
    fn a_viewer_is_a_member_until_the_entitlement_or_the_show_ends() {
        let v = OccupantVerdict::from_decision(&decision(
            RoomAccess::Paid,
            Some(500),
            grant(false, Some(300)),
        ));
        assert!(v.allow && v.paid);
        assert_eq!(v.affiliation, Some("member"));
        assert_eq!(v.recheck_at, Some(300));
        let v = OccupantVerdict::from_decision(&decision(
            RoomAccess::Paid,
            Some(200),
            grant(false, Some(300)),
        ));
        assert_eq!(v.recheck_at, Some(200));
    }

    #[test]
    fn the_owner_and_staff_are_owners_past_the_scheduled_end() {
        let v = OccupantVerdict::from_decision(&decision(
            RoomAccess::Free,
            Some(500),
            grant(true, None),
        ));
        assert_eq!(v.affiliation, Some("owner"));
        assert_eq!(v.recheck_at, None);
        assert!(!v.paid);
    }

    #[test]
    fn a_timed_ban_is_explained_and_rechecked_when_it_ends() {
        let v = OccupantVerdict::from_decision(&decision(
            RoomAccess::Paid,
            None,
            Verdict::Deny(Denial::Banned {
                ban_id: "b1".into(),
                scope: BanScope::Room("r1".into()),
                reason: "spam".into(),
                until: Some(1_800_000_000),
            }),
        ));
        assert!(!v.allow);
        assert_eq!(v.affiliation, None);
        assert_eq!(v.code, Some("banned"));
        assert_eq!(
            v.reason.as_deref(),
            Some("Banned from this room until 2027-01-15T08:00:00Z: spam")
        );
        assert_eq!(v.recheck_at, Some(1_800_000_000));
    }
}
