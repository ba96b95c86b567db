//! The meter: charges every started minute of the viewer's presence, once, and ends calls
//! a party has left.
//!
//! Any instance may run it, as often as it likes: a slot already charged is a no-op, so a
//! second instance, a restart or a replayed attendance report changes nothing. It reads
//! presence from the attendance segments the shards report, so a report that arrives late
//! (a shard's retries, a restart) is charged on the next pass, up to
//! [`LATE_REPORTS_SECS`] after the call ended.

use std::time::Duration;

use tokio::sync::watch;

use super::{CallError, CallService};
use crate::clock::UnixSeconds;
use crate::domain::calls::slots_touched;
use crate::domain::{Call, CallState};
use crate::payments::ledger::split;
use crate::store::{SlotCharge, StoreError};

/// How long after a call ended a late attendance report is still charged.
const LATE_REPORTS_SECS: i64 = 600;

impl CallService {
    /// One pass over every call under way or recently ended; returns the minutes charged.
    pub async fn meter_once(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let mut charged = 0;
        for call in self.store.calls_to_meter(now - LATE_REPORTS_SECS).await? {
            charged += self.charge(&call, now).await?;
            if call.state == CallState::Accepted {
                self.end_if_left(&call, now).await?;
            }
        }
        Ok(charged)
    }

    /// [`Self::meter_once`] without ending calls a party left: only the charges.
    pub async fn charge_due(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let mut charged = 0;
        for call in self.store.calls_to_meter(now - LATE_REPORTS_SECS).await? {
            charged += self.charge(&call, now).await?;
        }
        Ok(charged)
    }

    /// Charges every slot of `call` the viewer's presence touched up to `now` (or the
    /// call's end) and no one charged yet, oldest first, until the credit runs out.
    pub(super) async fn charge(&self, call: &Call, now: UnixSeconds) -> Result<u64, StoreError> {
        let Some(anchor) = call.accepted_at else {
            return Ok(0);
        };
        let until = call.ended_at.map_or(now, |ended| ended.min(now));
        let stays = self.store.call_stays(call).await?;
        let wanted = slots_touched(anchor, &stays, until);
        if wanted.is_empty() {
            return Ok(0);
        }
        let done = self.store.charged_slots(&call.id).await?;
        let shares = split(call.price_minor, call.performer_share_bps);
        let mut charged = 0;
        for slot in wanted.difference(&done) {
            match self
                .store
                .charge_call_slot(call, *slot, (shares.performer, shares.platform), now)
                .await?
            {
                SlotCharge::Charged(change) => {
                    self.changes.deliver(*change).await;
                    self.metrics.calls.minute_debited();
                    charged += 1;
                }
                SlotCharge::AlreadyCharged => {}
                SlotCharge::NoCredit => break,
            }
        }
        Ok(charged)
    }

    /// Ends `call` when its viewer or performer was there and has been gone for
    /// `calls.leave_grace_secs`.
    async fn end_if_left(&self, call: &Call, now: UnixSeconds) -> Result<(), StoreError> {
        let Some(room_id) = &call.room_id else {
            return Ok(());
        };
        for (who, reason) in [
            (&call.viewer_id, "The viewer left the call"),
            (&call.performer_id, "The performer left the call"),
        ] {
            let (present, last_left) = self.store.presence_in(room_id, who).await?;
            let grace = self.settings.leave_grace_secs;
            if !present && last_left.is_some_and(|left| now - left >= grace) {
                return match self.close(call, reason).await {
                    Ok(_) | Err(CallError::Conflict(_)) => Ok(()),
                    Err(CallError::Store(error)) => Err(error),
                    Err(other) => Err(StoreError::Unexpected(anyhow::anyhow!("{other}"))),
                };
            }
        }
        Ok(())
    }

    /// Runs the meter every `calls.meter_interval_secs` until shutdown.
    pub async fn run(self: std::sync::Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let every = Duration::from_secs(self.settings.meter_interval_secs.max(1));
        let mut ticker = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = ticker.tick() => {
                    if let Err(error) = self.meter_once().await {
                        tracing::warn!(error = %format!("{error:#}"), "metering private calls failed; retrying");
                    }
                }
            }
        }
    }
}
