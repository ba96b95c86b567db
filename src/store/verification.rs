//! Performer verification facts and the verified flag they set on the user.

use anyhow::Context as _;
use sqlx::any::AnyRow;

use super::changes::{record_change, RecordedChange};
use super::users::{user_from_row, USER_COLUMNS};
use super::{corrupt, int, text, Store, StoreError};
use crate::domain::{Change, VerificationFact, VerificationStep};
use crate::telemetry::metrics::StoreOp;

const FACT_COLUMNS: &str = "id, user_id, action, actor, note, created_at";

fn fact_from_row(row: &AnyRow) -> Result<VerificationFact, StoreError> {
    let action = text(row, "action")?;
    Ok(VerificationFact {
        id: text(row, "id")?,
        user_id: text(row, "user_id")?,
        step: VerificationStep::parse(&action).ok_or_else(|| corrupt("verification", &action))?,
        actor: text(row, "actor")?,
        note: text(row, "note")?,
        created_at: int(row, "created_at")?,
    })
}

impl Store {
    /// Appends `fact` and, in the same transaction, sets the user's verified flag to what
    /// the fact makes it: `approve` sets it (and makes a viewer a performer), `revoke`
    /// clears it, the others leave it. The user's `updated_at` moves with the flag, so no
    /// token signed before is reused. A fact that moves the flag records the change.
    pub async fn insert_verification_fact(
        &self,
        fact: &VerificationFact,
    ) -> Result<Option<RecordedChange>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            sqlx::query(&format!(
                "INSERT INTO performer_verifications ({FACT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .bind(&fact.id)
            .bind(&fact.user_id)
            .bind(fact.step.as_str())
            .bind(&fact.actor)
            .bind(&fact.note)
            .bind(fact.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| super::classify_write_error(e, &[]))?;
            let verified_at = match fact.step {
                VerificationStep::Approve => Some(Some(fact.created_at)),
                VerificationStep::Revoke => Some(None),
                VerificationStep::Apply | VerificationStep::Reject => None,
            };
            if let Some(verified_at) = verified_at {
                // Approving a viewer makes them a performer.
                sqlx::query(
                    "UPDATE users SET verified_at = $2, updated_at = $3, \
                     role = CASE WHEN role = 'viewer' AND $2 IS NOT NULL THEN 'performer' ELSE role END \
                     WHERE id = $1",
                )
                    .bind(&fact.user_id)
                    .bind(verified_at)
                    .bind(fact.created_at)
                    .execute(&mut *tx)
                    .await
                    .context("set verified")?;
            }
            let change = if verified_at.is_some() {
                let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                    .bind(&fact.user_id)
                    .fetch_one(&mut *tx)
                    .await
                    .context("read back the user")?;
                let user = user_from_row(&row)?;
                let change = Change::VerificationChanged { user };
                Some(record_change(&mut tx, change, fact.created_at).await?)
            } else {
                None
            };
            tx.commit().await.context("commit")?;
            Ok(change)
        })
        .await
    }

    /// Every verification step of one user, oldest first.
    pub async fn find_verification_facts(
        &self,
        user_id: &str,
    ) -> Result<Vec<VerificationFact>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "SELECT {FACT_COLUMNS} FROM performer_verifications WHERE user_id = $1 ORDER BY id"
            ))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .context("find verification facts")?;
            rows.iter().map(fact_from_row).collect()
        })
        .await
    }

    /// Applications still waiting for staff: each user's latest step is `apply`.
    pub async fn find_open_applications(
        &self,
        limit: i64,
    ) -> Result<Vec<VerificationFact>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "SELECT {FACT_COLUMNS} FROM performer_verifications v WHERE v.action = 'apply' \
                 AND v.id = (SELECT MAX(w.id) FROM performer_verifications w WHERE w.user_id = v.user_id) \
                 ORDER BY v.id LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("find open applications")?;
            rows.iter().map(fact_from_row).collect()
        })
        .await
    }
}
