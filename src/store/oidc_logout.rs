//! Back-channel logout's outbox: one row per ended OIDC session whose client listens for
//! logout tokens, written in the transaction that ends the session — whether a user's
//! sign-ins all ended, one browser session did, or one grant was revoked.

use anyhow::Context as _;

use super::{int, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::telemetry::metrics::StoreOp;

/// A logout token waiting to reach one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcLogoutRow {
    pub seq: i64,
    pub client_id: String,
    /// The OIDC session (the token's `sid`).
    pub session_id: String,
    /// The roomkey user (the token's `sub`).
    pub user_id: String,
    pub attempts: i64,
}

impl Store {
    /// Ends the OIDC sessions of `user_id` granted under a session generation older than
    /// the user's current one (the sign-ins that just ended; a sign-in made since is left
    /// alone, so a late or repeated delivery ends nothing new), and queues a logout for each
    /// one held by a client in `listening` (the clients with a back-channel logout URI).
    /// Returns how many logouts were queued.
    pub async fn end_outlived_oidc_sessions(
        &self,
        user_id: &str,
        listening: &[&str],
        now: UnixSeconds,
    ) -> Result<usize, StoreError> {
        // The statement writes first, so SQLite takes its write lock before it reads.
        let sql = "UPDATE oidc_sessions SET ended_at = $2 \
                   WHERE user_id = $1 AND ended_at IS NULL AND session_generation < \
                   (SELECT u.session_generation FROM users u WHERE u.id = $1) \
                   RETURNING id, client_id, user_id";
        self.end_oidc_sessions_where(sql, &[user_id], listening, now)
            .await
    }

    /// Ends one OIDC session and every token of its family (a code or a refresh token
    /// presented twice, a revocation), and queues its logout if its client is in
    /// `listening`. A session already ended keeps its first end and queues nothing.
    /// Returns how many logouts were queued (0 or 1).
    pub async fn end_oidc_session(
        &self,
        id: &str,
        listening: &[&str],
        now: UnixSeconds,
    ) -> Result<usize, StoreError> {
        let sql = "UPDATE oidc_sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL \
                   RETURNING id, client_id, user_id";
        self.end_oidc_sessions_where(sql, &[id], listening, now)
            .await
    }

    /// Ends the OIDC sessions `user_id` was granted in one roomkey browser session (the
    /// session token's `jti`), which has just ended (RP-initiated logout), and queues their
    /// logouts. Returns how many logouts were queued.
    pub async fn end_browser_oidc_sessions(
        &self,
        user_id: &str,
        browser_session: &str,
        listening: &[&str],
        now: UnixSeconds,
    ) -> Result<usize, StoreError> {
        let sql = "UPDATE oidc_sessions SET ended_at = $2 \
                   WHERE user_id = $1 AND browser_session = $3 AND ended_at IS NULL \
                   RETURNING id, client_id, user_id";
        self.end_oidc_sessions_where(sql, &[user_id, browser_session], listening, now)
            .await
    }

    /// Runs `sql` (an `UPDATE … RETURNING id, client_id, user_id` that ends sessions, with
    /// `$2` the time and `binds` as `$1`, `$3`, …) and, in the same transaction, queues a
    /// logout for each ended session whose client is in `listening`: a session never ends
    /// without its logout being queued, whichever way it ends.
    async fn end_oidc_sessions_where(
        &self,
        sql: &'static str,
        binds: &[&str],
        listening: &[&str],
        now: UnixSeconds,
    ) -> Result<usize, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let mut query = sqlx::query(sql).bind(binds[0]).bind(now);
            for bind in &binds[1..] {
                query = query.bind(*bind);
            }
            let ended = query
                .fetch_all(&mut *tx)
                .await
                .context("end oidc sessions")?;
            let mut queued = 0;
            for row in &ended {
                let client_id = text(row, "client_id")?;
                if !listening.contains(&client_id.as_str()) {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO oidc_logout_outbox \
                     (client_id, session_id, user_id, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(&client_id)
                .bind(text(row, "id")?)
                .bind(text(row, "user_id")?)
                .bind(now)
                .execute(&mut *tx)
                .await
                .context("queue a back-channel logout")?;
                queued += 1;
            }
            tx.commit().await.context("commit")?;
            Ok(queued)
        })
        .await
    }

    /// Logouts due for an attempt at `now` that no worker holds, oldest first.
    pub async fn find_due_oidc_logouts(
        &self,
        now: UnixSeconds,
        limit: i64,
    ) -> Result<Vec<OidcLogoutRow>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT seq, client_id, session_id, user_id, attempts FROM oidc_logout_outbox \
                 WHERE failed_at IS NULL AND next_attempt_at <= $1 AND claimed_until <= $1 \
                 ORDER BY seq LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("find due logouts")?;
            rows.iter()
                .map(|row| {
                    Ok(OidcLogoutRow {
                        seq: int(row, "seq")?,
                        client_id: text(row, "client_id")?,
                        session_id: text(row, "session_id")?,
                        user_id: text(row, "user_id")?,
                        attempts: int(row, "attempts")?,
                    })
                })
                .collect()
        })
        .await
    }
}
