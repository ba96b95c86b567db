//! Live enforcement hears about changed facts: the shards ask again about the user a
//! change concerns, close a room that ended, and show a confirmed tip in its room.

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;

use super::LiveEnforcer;
use crate::changes::{Change, DeliveryError, Subscriber};
use crate::domain::EntitlementSource;

impl Subscriber for LiveEnforcer {
    fn name(&self) -> &'static str {
        "live"
    }

    /// A revalidation is best effort by design (a shard that misses it asks on its next
    /// reconcile); a room's end is stored for every shard before this returns.
    fn on_change<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<(), DeliveryError>> {
        async move {
            match change {
                Change::RoomEnded { room, reason } => self.end_room(&room.name, reason).await?,
                Change::PaymentApplied {
                    payment_id,
                    tip: Some(tip),
                    ..
                } => self.announce_tip(payment_id, tip).await?,
                other => {
                    if let (Some(user_id), Some(reason)) =
                        (other.user_id(), revalidation_reason(other))
                    {
                        self.revalidate(user_id, reason);
                    }
                }
            }
            Ok(())
        }
        .boxed()
    }
}

/// What the shards are told when they ask again; `None` when the change cannot alter
/// anyone's verdict.
fn revalidation_reason(change: &Change) -> Option<&str> {
    Some(match change {
        Change::EntitlementGranted { entitlement }
            if entitlement.source == EntitlementSource::Payment =>
        {
            "payment received"
        }
        // A shard may hold a refusal for this user from before; it asks again now.
        Change::EntitlementGranted { .. } => "access granted",
        Change::EntitlementRevoked { reason, .. } => reason,
        Change::PaymentApplied {
            granted: Some(_), ..
        } => "payment received",
        Change::PaymentApplied {
            revoked: Some(_), ..
        } => "payment reversed",
        Change::BanPlaced { .. } => "banned",
        Change::BanLifted { .. } => "ban lifted",
        // Roles and verification change what a user may manage, not whether they may enter.
        Change::RoleChanged { .. }
        | Change::VerificationChanged { .. }
        | Change::PaymentApplied { .. }
        | Change::RoomCreated { .. }
        | Change::RoomUpdated { .. }
        | Change::RoomEnded { .. }
        // A signed-in session is not a seat: tokens already issued run out on their own.
        | Change::SessionsEnded { .. }
        // A charged minute leaves the moment the credit runs out where it was.
        | Change::CallMinuteCharged { .. } => return None,
    })
}
