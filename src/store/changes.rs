//! The change outbox: a fact's change is stored in the transaction that makes it, and
//! handed to the subscribers after the commit (see [`crate::changes`]).

use anyhow::Context as _;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::batch::Batch;

use super::{int, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::domain::Change;
use crate::telemetry::metrics::StoreOp;

/// How long the instance that wrote a change holds it while it delivers it itself; after
/// that (it crashed, or a subscriber failed) any instance's worker may take it.
pub const WRITER_HOLD_SECS: i64 = 10;

/// A change as stored: its place in the outbox and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedChange {
    pub seq: i64,
    pub change: Change,
    pub attempts: i64,
}

/// Stores `change` on `conn`, inside the caller's transaction, held for the writer until
/// `now + WRITER_HOLD_SECS`.
pub(super) async fn record_change(
    conn: &mut AnyConnection,
    change: Change,
    now: UnixSeconds,
) -> Result<RecordedChange, StoreError> {
    let mut batch = Batch::default();
    push_change(&mut batch, &change, now)?;
    let rows = batch.run_one(conn).await.context("record change")?;
    recorded(&rows, change)
}

/// Adds the statement that stores `change` to `batch`, as its last statement: it returns
/// the change's place in the outbox, which [`recorded`] reads.
pub(super) fn push_change(
    batch: &mut Batch,
    change: &Change,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    let body = serde_json::to_string(change).context("encode change")?;
    let (kind, body) = (batch.text(Some(change.kind())), batch.text(Some(&body)));
    let (due, hold) = (
        batch.int(Some(now)),
        batch.int(Some(now + WRITER_HOLD_SECS)),
    );
    batch.push(format!(
        "INSERT INTO change_outbox (kind, body, next_attempt_at, claimed_until, created_at) \
         VALUES ({kind}, {body}, {due}, {hold}, {due}) RETURNING seq"
    ));
    Ok(())
}

/// The stored change, from the rows of the batch [`push_change`] ended.
pub(super) fn recorded(rows: &[AnyRow], change: Change) -> Result<RecordedChange, StoreError> {
    let row = rows
        .first()
        .context("the change outbox returned no place")?;
    Ok(RecordedChange {
        seq: int(row, "seq")?,
        change,
        attempts: 0,
    })
}

impl Store {
    /// Forgets delivered changes, in one statement.
    pub async fn delete_changes(&self, seqs: &[i64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        self.timed(StoreOp::Write, async {
            let placeholders: Vec<String> = (1..=seqs.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "DELETE FROM change_outbox WHERE seq IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for seq in seqs {
                query = query.bind(*seq);
            }
            query
                .execute(&self.pool)
                .await
                .context("delete delivered changes")?;
            Ok(())
        })
        .await
    }

    /// Changes no instance holds at `now` and due for an attempt, oldest first.
    pub async fn find_due_changes(
        &self,
        now: UnixSeconds,
        limit: i64,
    ) -> Result<Vec<RecordedChange>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT seq, body, attempts FROM change_outbox \
                 WHERE next_attempt_at <= $1 AND claimed_until <= $1 ORDER BY seq LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("find due changes")?;
            rows.iter()
                .map(|row| {
                    let seq = int(row, "seq")?;
                    // The row's number, not its body, goes in the error: a body names users.
                    let change = serde_json::from_str(&text(row, "body")?)
                        .map_err(|_| super::corrupt("change", &format!("seq {seq}")))?;
                    Ok(RecordedChange {
                        seq,
                        change,
                        attempts: int(row, "attempts")?,
                    })
                })
                .collect()
        })
        .await
    }
}
