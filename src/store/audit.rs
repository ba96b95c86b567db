//! The moderation audit trail: appended, read newest first, never changed.

use anyhow::Context as _;

use super::{corrupt, int, opt_text, text, Store, StoreError};
use crate::domain::{AuditEntry, ModerationAction};
use crate::telemetry::metrics::StoreOp;

/// Filters for reading the trail; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub user_id: Option<String>,
    pub room: Option<String>,
    pub actor: Option<String>,
    pub action: Option<ModerationAction>,
    /// Only entries older than this entry id (the previous page's last).
    pub before: Option<String>,
    pub limit: i64,
}

impl Store {
    pub async fn insert_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(
                "INSERT INTO moderation_audit (id, at, actor, action, user_id, room, reason, details) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&entry.id)
            .bind(entry.at)
            .bind(&entry.actor)
            .bind(entry.action.as_str())
            .bind(entry.user_id.as_deref())
            .bind(entry.room.as_deref())
            .bind(entry.reason.as_deref())
            .bind(entry.details.to_string())
            .execute(&self.pool)
            .await
            .context("insert audit entry")?;
            Ok(())
        })
        .await
    }

    /// Newest first. Absent filters are bound as NULL and match everything.
    pub async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT id, at, actor, action, user_id, room, reason, details FROM moderation_audit \
                 WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR room = $2) \
                 AND ($3 IS NULL OR actor = $3) AND ($4 IS NULL OR action = $4) \
                 AND ($5 IS NULL OR id < $5) \
                 ORDER BY id DESC LIMIT $6",
            )
            .bind(query.user_id.as_deref())
            .bind(query.room.as_deref())
            .bind(query.actor.as_deref())
            .bind(query.action.map(ModerationAction::as_str))
            .bind(query.before.as_deref())
            .bind(query.limit)
            .fetch_all(&self.pool)
            .await
            .context("list audit entries")?;
            rows.iter()
                .map(|row| {
                    let action = text(row, "action")?;
                    let details = text(row, "details")?;
                    Ok(AuditEntry {
                        id: text(row, "id")?,
                        at: int(row, "at")?,
                        actor: text(row, "actor")?,
                        action: ModerationAction::parse(&action)
                            .ok_or_else(|| corrupt("audit action", &action))?,
                        user_id: opt_text(row, "user_id")?,
                        room: opt_text(row, "room")?,
                        reason: opt_text(row, "reason")?,
                        details: serde_json::from_str(&details)
                            .map_err(|_| corrupt("audit details", &details))?,
                    })
                })
                .collect()
        })
        .await
    }
}
