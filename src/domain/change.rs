//! A fact that changed: what the rest of the platform must hear about after a write.
//!
//! A change is stored in the same transaction as the fact it describes (the store's
//! `change_outbox`), then handed to every subscriber by [`crate::changes`]: the caches, the
//! shards' live enforcement, Matrix and Mastodon. Writing it with the fact means a crash
//! between the commit and the delivery delays the delivery, never loses it.
//!
//! A change carries the record as it stood when it was committed, so a subscriber needs no
//! second read to know what happened; subscribers that act on *who may enter* re-read the
//! current state anyway (a late delivery must not undo a newer change).

use serde::{Deserialize, Serialize};

use super::{Ban, Entitlement, Role, Room, TipNotice, User, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// By an admin, a payment or a provisioning call.
    EntitlementGranted {
        entitlement: Entitlement,
    },
    /// By an admin, a refund or a chargeback; `reason` is what Matrix and the shards show.
    EntitlementRevoked {
        entitlement: Entitlement,
        reason: String,
    },
    BanPlaced {
        ban: Ban,
    },
    BanLifted {
        ban: Ban,
    },
    RoleChanged {
        user: User,
        before: Role,
    },
    /// A performer gained or lost staff verification.
    VerificationChanged {
        user: User,
    },
    RoomCreated {
        room: Room,
    },
    /// Title, access, price, plans or schedule.
    RoomUpdated {
        room: Room,
    },
    /// Ended by a moderator (`reason` goes to the shards) or by its schedule.
    RoomEnded {
        room: Room,
        reason: String,
    },
    /// A payment moved to a new state (paid, refunded, charged back), with the entitlement
    /// it granted or reversed, which subscribers treat as they treat those changes. One row
    /// per confirmation keeps the payment's transaction as short as it can be.
    PaymentApplied {
        payment_id: String,
        user_id: UserId,
        state: String,
        granted: Option<Box<Entitlement>>,
        revoked: Option<Box<Entitlement>>,
        /// A confirmed tip: what its room and the room's chat are told (changes stored
        /// before tips were announced have none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tip: Option<Box<TipNotice>>,
    },
    /// Every session of the user ended at once (signed out everywhere, changed password,
    /// revoked by an admin); a global ban ends them too, but is its own change.
    SessionsEnded {
        user_id: UserId,
        reason: SessionsEndedReason,
    },
    /// A minute slot of a private call was charged to the viewer's credit: the cached
    /// balance is stale everywhere.
    CallMinuteCharged {
        call_id: String,
        user_id: UserId,
        slot: i64,
    },
}

/// Why every session of a user ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionsEndedReason {
    SignedOutEverywhere,
    PasswordChanged,
    RevokedByAdmin,
}

impl Change {
    /// The stored kind: one word per variant, for the outbox's rows and the metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::EntitlementGranted { .. } => "entitlement_granted",
            Change::EntitlementRevoked { .. } => "entitlement_revoked",
            Change::BanPlaced { .. } => "ban_placed",
            Change::BanLifted { .. } => "ban_lifted",
            Change::RoleChanged { .. } => "role_changed",
            Change::VerificationChanged { .. } => "verification_changed",
            Change::RoomCreated { .. } => "room_created",
            Change::RoomUpdated { .. } => "room_updated",
            Change::RoomEnded { .. } => "room_ended",
            Change::PaymentApplied { .. } => "payment_applied",
            Change::SessionsEnded { .. } => "sessions_ended",
            Change::CallMinuteCharged { .. } => "call_minute_charged",
        }
    }

    /// The user whose access the change may alter, if it is about one user.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Change::EntitlementGranted { entitlement }
            | Change::EntitlementRevoked { entitlement, .. } => Some(&entitlement.user_id),
            Change::BanPlaced { ban } | Change::BanLifted { ban } => Some(&ban.user_id),
            Change::RoleChanged { user, .. } | Change::VerificationChanged { user } => {
                Some(&user.id)
            }
            Change::PaymentApplied { user_id, .. } | Change::SessionsEnded { user_id, .. } => {
                Some(user_id)
            }
            Change::CallMinuteCharged { user_id, .. } => Some(user_id),
            Change::RoomCreated { .. } | Change::RoomUpdated { .. } | Change::RoomEnded { .. } => {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{fixtures, EntitlementScope};

    #[test]
    fn a_change_survives_the_round_trip_through_its_stored_form() {
        let entitlement = fixtures::entitlement(EntitlementScope::Room("room-1".into()), 0, None);
        let change = Change::EntitlementRevoked {
            entitlement,
            reason: "refund".into(),
        };
        let stored = serde_json::to_string(&change).unwrap();
        assert!(
            stored.contains(r#""change":"entitlement_revoked""#),
            "{stored}"
        );
        assert_eq!(change.user_id(), Some("viewer"));
        assert_eq!(serde_json::from_str::<Change>(&stored).unwrap(), change);
    }
}
