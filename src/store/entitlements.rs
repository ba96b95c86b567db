//! Entitlements and their revocations (append-only: a revocation is its own row).

use anyhow::Context as _;
use sqlx::any::AnyRow;

use super::batch::Batch;
use super::changes::{record_change, RecordedChange};
use super::{
    classify_write_error, corrupt, int, opt_int, opt_text, text, union_of, Store, StoreError,
};
use crate::clock::UnixSeconds;
use crate::domain::{Change, Entitlement, EntitlementScope, EntitlementSource, Revocation};
use crate::telemetry::metrics::StoreOp;

pub(super) const ENTITLEMENT_SELECT: &str =
    "SELECT e.id, e.user_id, e.scope_kind, e.scope_ref, e.quantity, \
     e.valid_from, e.valid_until, e.source, e.source_ref, e.granted_by, e.created_at, \
     r.revoked_at, r.revoked_by, r.reason AS revoke_reason \
     FROM entitlements e LEFT JOIN entitlement_revocations r ON r.entitlement_id = e.id";

/// What can still grant access to user `$1` at or after `$2`: not revoked, not ended
/// (including entitlements that start later); `e` entitlements, `r` their revocations. Two
/// filters, an end to come and none, each a range of `entitlements_user (user_id,
/// valid_until)`, to be joined by [`union_of`]: most of a long-time viewer's tickets are
/// for past shows, and they are never read.
pub(super) const LIVE_ENTITLEMENTS_OF_USER: [&str; 2] = [
    "e.user_id = $1 AND e.valid_until > $2 AND r.entitlement_id IS NULL",
    "e.user_id = $1 AND e.valid_until IS NULL AND r.entitlement_id IS NULL",
];

pub(super) fn entitlement_from_row(row: &AnyRow) -> Result<Entitlement, StoreError> {
    let kind = text(row, "scope_kind")?;
    let source = text(row, "source")?;
    let revocation = match opt_int(row, "revoked_at")? {
        Some(revoked_at) => Some(Revocation {
            revoked_at,
            revoked_by: opt_text(row, "revoked_by")?,
            reason: opt_text(row, "revoke_reason")?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Entitlement {
        id: text(row, "id")?,
        user_id: text(row, "user_id")?,
        scope: EntitlementScope::from_parts(&kind, text(row, "scope_ref")?)
            .ok_or_else(|| corrupt("scope_kind", &kind))?,
        quantity: opt_int(row, "quantity")?,
        valid_from: int(row, "valid_from")?,
        valid_until: opt_int(row, "valid_until")?,
        source: EntitlementSource::parse(&source).ok_or_else(|| corrupt("source", &source))?,
        source_ref: opt_text(row, "source_ref")?,
        granted_by: opt_text(row, "granted_by")?,
        created_at: int(row, "created_at")?,
        revocation,
    })
}

/// Appends an entitlement, in the caller's transaction.
pub(super) async fn write_entitlement(
    conn: &mut sqlx::AnyConnection,
    e: &Entitlement,
) -> Result<(), StoreError> {
    let mut batch = Batch::default();
    push_entitlement(&mut batch, e);
    batch
        .run_one(conn)
        .await
        .map_err(|err| entitlement_write_error(err, &[]))?;
    Ok(())
}

/// Adds the statement that appends `e` to `batch`.
pub(super) fn push_entitlement(batch: &mut Batch, e: &Entitlement) {
    let values = [
        batch.text(Some(&e.id)),
        batch.text(Some(&e.user_id)),
        batch.text(Some(e.scope.kind())),
        batch.text(Some(e.scope.reference())),
        batch.int(e.quantity),
        batch.int(Some(e.valid_from)),
        batch.int(e.valid_until),
        batch.text(Some(e.source.as_str())),
        batch.text(e.source_ref.as_deref()),
        batch.text(e.granted_by.as_deref()),
        batch.int(Some(e.created_at)),
    ];
    batch.push(format!(
        "INSERT INTO entitlements (id, user_id, scope_kind, scope_ref, quantity, valid_from, \
         valid_until, source, source_ref, granted_by, created_at) VALUES ({})",
        values.join(", ")
    ));
}

/// A failed write that included an entitlement: a missing reference is its user.
pub(super) fn entitlement_write_error(
    error: sqlx::Error,
    unique_fields: &[&'static str],
) -> StoreError {
    match classify_write_error(error, unique_fields) {
        StoreError::MissingReference(_) => StoreError::MissingReference("user"),
        other => other,
    }
}

/// One entitlement as it stands, read inside the caller's transaction.
pub(super) async fn read_entitlement(
    conn: &mut sqlx::AnyConnection,
    entitlement_id: &str,
) -> Result<Option<Entitlement>, StoreError> {
    let row = sqlx::query(&format!("{ENTITLEMENT_SELECT} WHERE e.id = $1"))
        .bind(entitlement_id)
        .fetch_optional(conn)
        .await
        .context("read back entitlement")?;
    row.as_ref().map(entitlement_from_row).transpose()
}

/// Appends a revocation; a second one for the same entitlement is ignored (`false`).
pub(super) async fn write_revocation<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    entitlement_id: &str,
    revocation: &Revocation,
) -> Result<bool, StoreError> {
    let written = sqlx::query(
        "INSERT INTO entitlement_revocations (entitlement_id, revoked_at, revoked_by, reason) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (entitlement_id) DO NOTHING",
    )
    .bind(entitlement_id)
    .bind(revocation.revoked_at)
    .bind(revocation.revoked_by.as_deref())
    .bind(&revocation.reason)
    .execute(executor)
    .await
    .context("insert revocation")?;
    Ok(written.rows_affected() == 1)
}

impl Store {
    /// Stores the entitlement and its change in one transaction.
    pub async fn insert_entitlement(&self, e: &Entitlement) -> Result<RecordedChange, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            write_entitlement(&mut tx, e).await?;
            let change = Change::EntitlementGranted {
                entitlement: e.clone(),
            };
            let change = record_change(&mut tx, change, e.created_at).await?;
            tx.commit().await.context("commit")?;
            Ok(change)
        })
        .await
    }

    /// Records a revocation and its change (`public_reason` is what the user is told).
    /// Revoking twice keeps the first record and records no second change; either way the
    /// entitlement as it now stands is returned (`None` if there is no such entitlement).
    pub async fn insert_revocation(
        &self,
        entitlement_id: &str,
        revocation: &Revocation,
        public_reason: &str,
    ) -> Result<Option<(Entitlement, Option<RecordedChange>)>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            // The first statement writes, so SQLite takes its write lock before reading: a
            // read first could not be upgraded once another connection had committed.
            let revoked = sqlx::query(
                "INSERT INTO entitlement_revocations (entitlement_id, revoked_at, revoked_by, reason) \
                 SELECT id, $2, $3, $4 FROM entitlements WHERE id = $1 \
                 ON CONFLICT (entitlement_id) DO NOTHING",
            )
            .bind(entitlement_id)
            .bind(revocation.revoked_at)
            .bind(revocation.revoked_by.as_deref())
            .bind(&revocation.reason)
            .execute(&mut *tx)
            .await
            .context("insert revocation")?
            .rows_affected()
                == 1;
            let Some(entitlement) = read_entitlement(&mut tx, entitlement_id).await? else {
                return Ok(None);
            };
            let change = if revoked {
                let change = Change::EntitlementRevoked {
                    entitlement: entitlement.clone(),
                    reason: public_reason.to_owned(),
                };
                Some(record_change(&mut tx, change, revocation.revoked_at).await?)
            } else {
                None
            };
            tx.commit().await.context("commit")?;
            Ok(Some((entitlement, change)))
        })
        .await
    }

    /// What can still grant access for `user_id` at or after `now`; timed by its caller
    /// (the user's facts).
    pub(super) async fn fetch_live_entitlements(
        &self,
        user_id: &str,
        now: UnixSeconds,
    ) -> Result<Vec<Entitlement>, StoreError> {
        let rows = sqlx::query(&format!(
            "{} ORDER BY created_at, id",
            union_of(ENTITLEMENT_SELECT, &LIVE_ENTITLEMENTS_OF_USER)
        ))
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .context("find live entitlements")?;
        rows.iter().map(entitlement_from_row).collect()
    }

    /// Every entitlement a user ever held, newest first, for explanations and admin views.
    pub async fn find_all_entitlements(
        &self,
        user_id: &str,
    ) -> Result<Vec<Entitlement>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "{ENTITLEMENT_SELECT} WHERE e.user_id = $1 ORDER BY e.created_at DESC, e.id DESC"
            ))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .context("find entitlements")?;
            rows.iter().map(entitlement_from_row).collect()
        })
        .await
    }
}
