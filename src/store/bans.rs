//! Bans and their lifts (append-only: lifting a ban is its own row).

use anyhow::Context as _;
use sqlx::any::AnyRow;

use super::changes::{record_change, RecordedChange};
use super::{
    classify_write_error, corrupt, int, opt_int, opt_text, text, union_of, Store, StoreError,
};
use crate::clock::UnixSeconds;
use crate::domain::{Ban, BanLift, BanScope, Change};
use crate::telemetry::metrics::StoreOp;

const BAN_SELECT: &str = "SELECT b.id, b.user_id, b.scope_kind, b.scope_ref, b.reason, b.until, \
     b.banned_by, b.created_at, l.lifted_at, l.lifted_by, l.reason AS lift_reason \
     FROM bans b LEFT JOIN ban_lifts l ON l.ban_id = b.id";

/// The bans on user `$1` in force at `$2`: not lifted, not over (`b` bans, `l` their lifts).
/// Two filters, an end to come and none, each a range of `bans_user (user_id, until)`, to
/// be joined by [`union_of`]: the bans that are over are never read.
pub(super) const ACTIVE_BANS_OF_USER: [&str; 2] = [
    "b.user_id = $1 AND b.until > $2 AND l.ban_id IS NULL",
    "b.user_id = $1 AND b.until IS NULL AND l.ban_id IS NULL",
];

pub(super) fn ban_from_row(row: &AnyRow) -> Result<Ban, StoreError> {
    let kind = text(row, "scope_kind")?;
    let lift = match opt_int(row, "lifted_at")? {
        Some(lifted_at) => Some(BanLift {
            lifted_at,
            lifted_by: opt_text(row, "lifted_by")?,
            reason: opt_text(row, "lift_reason")?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Ban {
        id: text(row, "id")?,
        user_id: text(row, "user_id")?,
        scope: BanScope::from_parts(&kind, opt_text(row, "scope_ref")?)
            .ok_or_else(|| corrupt("ban scope", &kind))?,
        reason: text(row, "reason")?,
        until: opt_int(row, "until")?,
        banned_by: opt_text(row, "banned_by")?,
        created_at: int(row, "created_at")?,
        lift,
    })
}

impl Store {
    /// Appends a ban. A global ban also ends every session of the user, in the same
    /// transaction: no session outlives the ban, and lifting it later revives none.
    /// Stores the ban and its change in one transaction; a global ban also ends the user's
    /// sessions there.
    pub async fn insert_ban(&self, ban: &Ban) -> Result<RecordedChange, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            sqlx::query(
                "INSERT INTO bans (id, user_id, scope_kind, scope_ref, reason, until, banned_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&ban.id)
            .bind(&ban.user_id)
            .bind(ban.scope.kind())
            .bind(ban.scope.reference())
            .bind(&ban.reason)
            .bind(ban.until)
            .bind(ban.banned_by.as_deref())
            .bind(ban.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|err| match classify_write_error(err, &[]) {
                StoreError::MissingReference(_) => StoreError::MissingReference("user"),
                other => other,
            })?;
            if ban.scope == BanScope::Global {
                sqlx::query(
                    "UPDATE users SET session_generation = session_generation + 1 WHERE id = $1",
                )
                .bind(&ban.user_id)
                .execute(&mut *tx)
                .await
                .context("end the banned user's sessions")?;
            }
            let change =
                record_change(&mut tx, Change::BanPlaced { ban: ban.clone() }, ban.created_at)
                    .await?;
            tx.commit().await.context("commit")?;
            Ok(change)
        })
        .await
    }

    /// Records that a ban was lifted; lifting twice keeps the first record (and records no
    /// second change). Returns the ban as it now stands, or `None` if there is no such ban.
    pub async fn insert_ban_lift(
        &self,
        ban_id: &str,
        lift: &BanLift,
    ) -> Result<Option<(Ban, Option<RecordedChange>)>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            // The first statement writes, so SQLite takes its write lock before reading: a
            // read first could not be upgraded once another connection had committed.
            let lifted = sqlx::query(
                "INSERT INTO ban_lifts (ban_id, lifted_at, lifted_by, reason) \
                 SELECT id, $2, $3, $4 FROM bans WHERE id = $1 \
                 ON CONFLICT (ban_id) DO NOTHING",
            )
            .bind(ban_id)
            .bind(lift.lifted_at)
            .bind(lift.lifted_by.as_deref())
            .bind(&lift.reason)
            .execute(&mut *tx)
            .await
            .context("insert ban lift")?
            .rows_affected()
                == 1;
            let row = sqlx::query(&format!("{BAN_SELECT} WHERE b.id = $1"))
                .bind(ban_id)
                .fetch_optional(&mut *tx)
                .await
                .context("read back ban")?;
            let Some(ban) = row.as_ref().map(ban_from_row).transpose()? else {
                return Ok(None);
            };
            let change = if lifted {
                let change = Change::BanLifted { ban: ban.clone() };
                Some(record_change(&mut tx, change, lift.lifted_at).await?)
            } else {
                None
            };
            tx.commit().await.context("commit")?;
            Ok(Some((ban, change)))
        })
        .await
    }

    /// Bans on `user_id` in force at `now` (not lifted, not expired).
    pub async fn find_active_bans(
        &self,
        user_id: &str,
        now: UnixSeconds,
    ) -> Result<Vec<Ban>, StoreError> {
        self.timed(StoreOp::FindBans, self.fetch_active_bans(user_id, now))
            .await
    }

    /// [`Self::find_active_bans`] without its own timing, for reads timed as part of a
    /// larger one.
    pub(super) async fn fetch_active_bans(
        &self,
        user_id: &str,
        now: UnixSeconds,
    ) -> Result<Vec<Ban>, StoreError> {
        let rows = sqlx::query(&format!(
            "{} ORDER BY created_at, id",
            union_of(BAN_SELECT, &ACTIVE_BANS_OF_USER)
        ))
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .context("find active bans")?;
        rows.iter().map(ban_from_row).collect()
    }

    /// Every ban on a user, newest first.
    pub async fn find_all_bans(&self, user_id: &str) -> Result<Vec<Ban>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "{BAN_SELECT} WHERE b.user_id = $1 ORDER BY b.created_at DESC, b.id DESC"
            ))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .context("find bans")?;
            rows.iter().map(ban_from_row).collect()
        })
        .await
    }
}
