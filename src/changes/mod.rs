//! Changes as events after commit: one dispatcher hands every stored change to every
//! subscriber.
//!
//! A service that changes a fact (an entitlement, a ban, a role, a room, a payment) stores
//! a [`Change`] in the same transaction (the store's `change_outbox`) and, after the
//! commit, gives the [`RecordedChange`] to [`Dispatcher::deliver`]. The dispatcher calls the
//! subscribers in the order they were registered — the caches first, so that the shards'
//! fresh verdicts and Matrix's invites read the new fact, then live enforcement, Matrix and
//! Mastodon. Rows delivered this way are deleted in batches by the worker, off the
//! request's path, well within the writer's hold (a row deleted late is delivered again,
//! which every subscriber tolerates).
//!
//! Nothing in the service fans out by hand any more, and nothing is lost between the
//! commit and the delivery: a row the writer did not finish (it crashed, or a subscriber
//! failed) is picked up by [`Dispatcher::run`] on any instance once the writer's hold
//! ([`WRITER_HOLD_SECS`]) has passed, and retried with backoff until it is delivered.
//! Delivery is therefore at least once, and every subscriber is written to be idempotent:
//! an invalidation or a revalidation twice costs a cache miss, and the Matrix and Mastodon
//! outboxes act on current state when they run.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{watch, Notify};

use crate::clock::{Clock, UnixSeconds};
pub use crate::domain::Change;
pub use crate::store::WRITER_HOLD_SECS;
use crate::store::{Outbox, RecordedChange, Store, StoreError};
use crate::telemetry::metrics::{ChangeKind, ChangeOutcome, Metrics};

/// Why a subscriber could not take a change now; the change is tried again later.
pub type DeliveryError = Box<dyn std::error::Error + Send + Sync>;

/// Something that must hear about changed facts.
pub trait Subscriber: Send + Sync {
    /// For logs: which subscriber failed.
    fn name(&self) -> &'static str;

    /// Acts on one change. Called at least once per change, in the order the changes were
    /// stored when the writer delivers them itself, oldest first otherwise.
    fn on_change<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<(), DeliveryError>>;
}

/// How many stored changes one pass of the worker takes.
const BATCH: i64 = 100;
/// How long a worker holds a change it took from the outbox.
const WORKER_HOLD_SECS: i64 = 30;
/// The longest wait between two attempts at a change that keeps failing.
const MAX_BACKOFF_SECS: i64 = 60;
/// The most rows one batched delete names.
const DELETE_BATCH: usize = 500;

pub struct Dispatcher {
    store: Store,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    subscribers: Vec<Arc<dyn Subscriber>>,
    wake: Notify,
    /// Rows delivered inline, deleted by the worker's next pass.
    delivered: Mutex<Vec<i64>>,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        subscribers: Vec<Arc<dyn Subscriber>>,
    ) -> Self {
        Self {
            store,
            clock,
            metrics,
            subscribers,
            wake: Notify::new(),
            delivered: Mutex::new(Vec::new()),
        }
    }

    /// Delivers a change the caller just committed, before the caller answers: a ban is in
    /// the caches and on its way to the shards when the moderator sees it placed. A failure
    /// is logged and left to the worker; the caller's write stands either way.
    pub async fn deliver(&self, recorded: RecordedChange) {
        match self.notify_subscribers(&recorded).await {
            Ok(()) => {
                self.count(&recorded, ChangeOutcome::Delivered);
                self.delivered_list().push(recorded.seq);
            }
            Err(error) => {
                tracing::warn!(seq = recorded.seq, change = recorded.change.kind(), %error, "a change is not delivered yet; the worker retries it");
                self.wake.notify_one();
            }
        }
    }

    fn count(&self, recorded: &RecordedChange, outcome: ChangeOutcome) {
        if let Some(kind) = ChangeKind::parse(recorded.change.kind()) {
            self.metrics.change(kind, outcome);
        }
    }

    fn delivered_list(&self) -> std::sync::MutexGuard<'_, Vec<i64>> {
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Deletes the rows delivered inline since the last pass. On a failure they stay
    /// listed for the next pass (and, should this instance die first, are delivered again
    /// once the writer's hold lapses).
    async fn forget_delivered(&self) -> Result<(), StoreError> {
        loop {
            let batch: Vec<i64> = {
                let mut delivered = self.delivered_list();
                let take = delivered.len().min(DELETE_BATCH);
                delivered.drain(..take).collect()
            };
            if batch.is_empty() {
                return Ok(());
            }
            if let Err(error) = self.store.delete_changes(&batch).await {
                self.delivered_list().extend(batch);
                return Err(error);
            }
        }
    }

    /// [`Dispatcher::deliver`] for each change, in order.
    pub async fn deliver_all(&self, changes: Vec<RecordedChange>) {
        for change in changes {
            self.deliver(change).await;
        }
    }

    /// Every subscriber in turn; on a failure the row stays, due again after a backoff that
    /// doubles with each attempt.
    async fn notify_subscribers(&self, recorded: &RecordedChange) -> Result<(), StoreError> {
        for subscriber in &self.subscribers {
            if let Err(error) = subscriber.on_change(&recorded.change).await {
                self.count(recorded, ChangeOutcome::Retried);
                let message = format!("{}: {error}", subscriber.name());
                let now = self.clock.now();
                self.store
                    .update_outbox_row_failure(
                        Outbox::Changes,
                        recorded.seq,
                        &message,
                        now + backoff(recorded.attempts),
                        None,
                    )
                    .await?;
                return Err(StoreError::Unexpected(anyhow::anyhow!(message)));
            }
        }
        Ok(())
    }

    /// Delivers the changes no instance holds until `shutdown`: every second, and at once
    /// after an inline delivery failed.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if let Err(error) = self.try_once().await {
                tracing::warn!(%error, "cannot read the change outbox; trying again");
            }
            tokio::select! {
                _ = shutdown.changed() => {
                    if let Err(error) = self.forget_delivered().await {
                        tracing::warn!(%error, "delivered changes stay in the outbox; they are delivered again");
                    }
                    return;
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// One pass: takes every due change (oldest first) that no other instance holds and
    /// delivers it. Returns how many were delivered.
    pub async fn try_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut delivered = 0;
        for recorded in self.store.find_due_changes(now, BATCH).await? {
            let held = self
                .store
                .claim_outbox_row(Outbox::Changes, recorded.seq, now, now + WORKER_HOLD_SECS)
                .await?;
            if !held {
                continue;
            }
            match self.notify_subscribers(&recorded).await {
                Ok(()) => {
                    self.count(&recorded, ChangeOutcome::DeliveredLate);
                    self.delivered_list().push(recorded.seq);
                    delivered += 1;
                }
                Err(error) => {
                    tracing::warn!(seq = recorded.seq, change = recorded.change.kind(), attempts = recorded.attempts + 1, %error, "a change could not be delivered; it is tried again");
                }
            }
        }
        // What this pass and the inline deliveries since the last one delivered, in one
        // statement per batch.
        self.forget_delivered().await?;
        Ok(delivered)
    }

    /// How many changes wait for delivery (for the operator and tests).
    pub async fn pending(&self) -> Result<i64, StoreError> {
        self.forget_delivered().await?;
        self.store.count_pending_outbox_rows(Outbox::Changes).await
    }
}

/// 1, 2, 4 … seconds, capped at [`MAX_BACKOFF_SECS`].
fn backoff(attempts: i64) -> UnixSeconds {
    let doubled = 1_i64
        .checked_shl(attempts.clamp(0, 16) as u32)
        .unwrap_or(i64::MAX);
    doubled.min(MAX_BACKOFF_SECS)
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use crate::domain::{
        fixtures, Ban, BanScope, Change, EntitlementScope, Role, RoomAccess, SessionsEndedReason,
    };
    use crate::telemetry::metrics::ChangeKind;

    #[test]
    fn every_change_has_its_metric_label() {
        let user = fixtures::user("u", Role::Viewer);
        let room = fixtures::room(RoomAccess::Paid);
        let entitlement = fixtures::entitlement(EntitlementScope::Room("room-1".into()), 0, None);
        let ban = Ban {
            id: "b".into(),
            user_id: "u".into(),
            scope: BanScope::Global,
            reason: "spam".into(),
            until: None,
            banned_by: None,
            created_at: 0,
            lift: None,
        };
        let every = [
            Change::EntitlementGranted {
                entitlement: entitlement.clone(),
            },
            Change::EntitlementRevoked {
                entitlement,
                reason: "r".into(),
            },
            Change::BanPlaced { ban: ban.clone() },
            Change::BanLifted { ban },
            Change::RoleChanged {
                user: user.clone(),
                before: Role::Viewer,
            },
            Change::VerificationChanged { user },
            Change::RoomCreated { room: room.clone() },
            Change::RoomUpdated { room: room.clone() },
            Change::RoomEnded {
                room,
                reason: "r".into(),
            },
            Change::PaymentApplied {
                payment_id: "p".into(),
                user_id: "u".into(),
                state: "accepted".into(),
                granted: None,
                revoked: None,
                tip: None,
            },
            Change::SessionsEnded {
                user_id: "u".into(),
                reason: SessionsEndedReason::PasswordChanged,
            },
            Change::CallMinuteCharged {
                call_id: "c".into(),
                user_id: "u".into(),
                slot: 0,
            },
        ];
        let kinds: Vec<_> = every.iter().map(Change::kind).collect();
        let labels: Vec<_> = ChangeKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(kinds, labels);
    }

    #[test]
    fn a_failing_change_waits_longer_each_time_up_to_a_minute() {
        let waits: Vec<_> = [0, 1, 2, 5, 6, 40].map(backoff).to_vec();
        assert_eq!(waits, [1, 2, 4, 32, 60, 60]);
    }
}
