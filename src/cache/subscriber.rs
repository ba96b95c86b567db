//! The caches hear about changed facts first: the entry a change makes stale is dropped
//! here and, through the bus, on every other instance before the next subscriber runs.

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;

use super::{Bus, Invalidation};
use crate::changes::{Change, DeliveryError, Subscriber};

/// The cache entry a change makes stale, if any.
pub(super) fn invalidation_for(change: &Change) -> Option<Invalidation> {
    Some(match change {
        Change::EntitlementGranted { entitlement }
        | Change::EntitlementRevoked { entitlement, .. } => {
            Invalidation::Entitlements(entitlement.user_id.clone())
        }
        Change::BanPlaced { ban } | Change::BanLifted { ban } => {
            Invalidation::Bans(ban.user_id.clone())
        }
        Change::RoleChanged { user, .. } | Change::VerificationChanged { user } => {
            Invalidation::User(user.id.clone())
        }
        // The user's cached facts carry the session generation the ending moved on.
        Change::SessionsEnded { user_id, .. } => Invalidation::User(user_id.clone()),
        // Creating a room also clears a cached "no such room" left by earlier requests.
        Change::RoomCreated { room }
        | Change::RoomUpdated { room }
        | Change::RoomEnded { room, .. } => Invalidation::Room(room.name.as_str().to_owned()),
        Change::PaymentApplied {
            user_id,
            granted,
            revoked,
            ..
        } => {
            if granted.is_none() && revoked.is_none() {
                return None;
            }
            Invalidation::Entitlements(user_id.clone())
        }
        // The call balance is read from the store on each decision in a call room.
        Change::CallMinuteCharged { .. } => return None,
    })
}

impl Subscriber for Bus {
    fn name(&self) -> &'static str {
        "caches"
    }

    /// Never fails: a bus that cannot reach Redis has already dropped every local entry and
    /// keeps the shared ones short-lived until it is back (see `bus`).
    fn on_change<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<(), DeliveryError>> {
        async move {
            if let Some(invalidation) = invalidation_for(change) {
                self.publish(invalidation).await;
            }
            Ok(())
        }
        .boxed()
    }
}
