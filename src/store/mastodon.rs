//! Calls owed to Mastodon: written with the change that causes them, taken by the worker.

use anyhow::Context as _;
use sqlx::any::AnyRow;

use super::{int, opt_text, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::telemetry::metrics::StoreOp;

/// One call owed to Mastodon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MastodonCall {
    pub seq: i64,
    pub order_key: String,
    pub action: String,
    pub event_id: Option<String>,
    pub user_id: Option<String>,
    /// JSON parameters of the call.
    pub payload: String,
    pub idempotency_key: String,
    pub attempts: i64,
    pub next_attempt_at: UnixSeconds,
    pub claimed_until: UnixSeconds,
}

/// A call to queue.
#[derive(Debug, Clone)]
pub struct NewMastodonCall {
    pub order_key: String,
    pub action: &'static str,
    pub event_id: Option<String>,
    pub user_id: Option<String>,
    pub payload: String,
    pub idempotency_key: String,
}

fn call_from_row(row: &AnyRow) -> Result<MastodonCall, StoreError> {
    Ok(MastodonCall {
        seq: int(row, "seq")?,
        order_key: text(row, "order_key")?,
        action: text(row, "action")?,
        event_id: opt_text(row, "event_id")?,
        user_id: opt_text(row, "user_id")?,
        payload: text(row, "payload")?,
        idempotency_key: text(row, "idempotency_key")?,
        attempts: int(row, "attempts")?,
        next_attempt_at: int(row, "next_attempt_at")?,
        claimed_until: int(row, "claimed_until")?,
    })
}

/// Queues `calls` on `conn`, inside the caller's transaction.
pub(super) async fn insert_mastodon_calls_on(
    conn: &mut sqlx::AnyConnection,
    calls: &[NewMastodonCall],
    now: UnixSeconds,
) -> Result<(), StoreError> {
    for call in calls {
        sqlx::query(
            "INSERT INTO mastodon_outbox (order_key, action, event_id, user_id, payload, \
             idempotency_key, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&call.order_key)
        .bind(call.action)
        .bind(&call.event_id)
        .bind(&call.user_id)
        .bind(&call.payload)
        .bind(&call.idempotency_key)
        .bind(now)
        .execute(&mut *conn)
        .await
        .context("queue Mastodon call")?;
    }
    Ok(())
}

impl Store {
    pub async fn insert_mastodon_calls(
        &self,
        calls: &[NewMastodonCall],
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            insert_mastodon_calls_on(&mut tx, calls, now).await?;
            tx.commit().await.context("commit")?;
            Ok(())
        })
        .await
    }

    /// The oldest calls not given up on, in order.
    pub async fn find_pending_mastodon_calls(
        &self,
        limit: i64,
    ) -> Result<Vec<MastodonCall>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT seq, order_key, action, event_id, user_id, payload, idempotency_key, \
                 attempts, next_attempt_at, claimed_until FROM mastodon_outbox \
                 WHERE failed_at IS NULL ORDER BY seq LIMIT $1",
            )
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("find pending Mastodon calls")?;
            rows.iter().map(call_from_row).collect()
        })
        .await
    }
}
