//! The bookkeeping the outboxes share (Matrix changes, Mastodon calls, commands to Prosody
//! shards, back-channel logouts): a worker claims a due row for a while, deletes it when done, or records a
//! failed attempt.

use anyhow::Context as _;

use super::{int, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::telemetry::metrics::StoreOp;

/// Which outbox. The table name comes from this closed set, never from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbox {
    Matrix,
    Mastodon,
    Live,
    Changes,
    OidcLogout,
}

impl Outbox {
    fn table(self) -> &'static str {
        match self {
            Outbox::Matrix => "matrix_outbox",
            Outbox::Mastodon => "mastodon_outbox",
            Outbox::Live => "live_outbox",
            Outbox::Changes => "change_outbox",
            Outbox::OidcLogout => "oidc_logout_outbox",
        }
    }
}

/// A command waiting for one shard.
#[derive(Debug, Clone)]
pub struct LiveCommandRow {
    pub seq: i64,
    pub shard: String,
    pub kind: String,
    pub body: String,
    pub attempts: i64,
    pub created_at: UnixSeconds,
}

impl Store {
    /// How many rows wait (including ones being retried; not the ones given up on).
    pub async fn count_pending_outbox_rows(&self, outbox: Outbox) -> Result<i64, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(&format!(
                "SELECT COUNT(*) AS n FROM {} WHERE failed_at IS NULL",
                outbox.table()
            ))
            .fetch_one(&self.pool)
            .await
            .context("count pending outbox rows")?;
            int(&row, "n")
        })
        .await
    }

    /// Takes a due row for this worker until `until`; false when another worker holds it.
    pub async fn claim_outbox_row(
        &self,
        outbox: Outbox,
        seq: i64,
        now: UnixSeconds,
        until: UnixSeconds,
    ) -> Result<bool, StoreError> {
        self.timed(StoreOp::Write, async {
            let done = sqlx::query(&format!(
                "UPDATE {} SET claimed_until = $3 WHERE seq = $1 \
                 AND claimed_until <= $2 AND next_attempt_at <= $2 AND failed_at IS NULL",
                outbox.table()
            ))
            .bind(seq)
            .bind(now)
            .bind(until)
            .execute(&self.pool)
            .await
            .context("claim outbox row")?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    /// A row whose work is done.
    pub async fn delete_outbox_row(&self, outbox: Outbox, seq: i64) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(&format!("DELETE FROM {} WHERE seq = $1", outbox.table()))
                .bind(seq)
                .execute(&self.pool)
                .await
                .context("delete outbox row")?;
            Ok(())
        })
        .await
    }

    /// A failed attempt: tried again from `next_attempt_at`, or given up on (`failed_at`,
    /// kept for inspection).
    pub async fn update_outbox_row_failure(
        &self,
        outbox: Outbox,
        seq: i64,
        error: &str,
        next_attempt_at: UnixSeconds,
        failed_at: Option<UnixSeconds>,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(&format!(
                "UPDATE {} SET attempts = attempts + 1, last_error = $2, \
                 next_attempt_at = $3, claimed_until = 0, failed_at = $4 WHERE seq = $1",
                outbox.table()
            ))
            .bind(seq)
            .bind(error)
            .bind(next_attempt_at)
            .bind(failed_at)
            .execute(&self.pool)
            .await
            .context("record outbox failure")?;
            Ok(())
        })
        .await
    }

    /// Stores `body` for each shard, held by the caller until `claimed_until` (it makes the
    /// first attempts itself); returns each shard's row.
    pub async fn insert_live_commands(
        &self,
        shards: &[String],
        kind: &str,
        body: &str,
        now: UnixSeconds,
        claimed_until: UnixSeconds,
    ) -> Result<Vec<i64>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let mut seqs = Vec::with_capacity(shards.len());
            for shard in shards {
                let row = sqlx::query(
                    "INSERT INTO live_outbox (shard, kind, body, next_attempt_at, claimed_until, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $4) RETURNING seq",
                )
                .bind(shard)
                .bind(kind)
                .bind(body)
                .bind(now)
                .bind(claimed_until)
                .fetch_one(&mut *tx)
                .await
                .context("store a command for a shard")?;
                seqs.push(int(&row, "seq")?);
            }
            tx.commit().await.context("commit")?;
            Ok(seqs)
        })
        .await
    }

    /// Commands due for another attempt at `now`, oldest first.
    pub async fn find_due_live_commands(
        &self,
        now: UnixSeconds,
        limit: i64,
    ) -> Result<Vec<LiveCommandRow>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT seq, shard, kind, body, attempts, created_at FROM live_outbox \
                 WHERE failed_at IS NULL AND next_attempt_at <= $1 AND claimed_until <= $1 \
                 ORDER BY seq LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("find due commands")?;
            rows.iter()
                .map(|row| {
                    Ok(LiveCommandRow {
                        seq: int(row, "seq")?,
                        shard: text(row, "shard")?,
                        kind: text(row, "kind")?,
                        body: text(row, "body")?,
                        attempts: int(row, "attempts")?,
                        created_at: int(row, "created_at")?,
                    })
                })
                .collect()
        })
        .await
    }
}
