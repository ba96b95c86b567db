//! The Matrix outbox, the Matrix room of each room, and what was last done to each member.

use anyhow::Context as _;
use sqlx::any::AnyRow;

use super::{int, opt_text, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::domain::{CommunityRoom, CommunityRule, Entitlement, Role, Room};
use crate::telemetry::metrics::StoreOp;

/// One change owed to the homeserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub seq: i64,
    pub order_key: String,
    pub action: String,
    pub user_id: Option<String>,
    pub room_id: Option<String>,
    /// The Matrix id a `forget` removes.
    pub matrix_user_id: Option<String>,
    pub reason: String,
    pub attempts: i64,
    pub next_attempt_at: UnixSeconds,
    pub claimed_until: UnixSeconds,
}

/// A change to queue.
pub struct NewOutboxItem<'a> {
    pub order_key: String,
    pub action: &'static str,
    pub user_id: Option<&'a str>,
    pub room_id: Option<&'a str>,
    pub matrix_user_id: Option<&'a str>,
    pub reason: &'a str,
}

impl<'a> NewOutboxItem<'a> {
    /// Brings a room's power levels in line with who moderates it; ordered with the room's
    /// other changes.
    pub fn power_levels(room_id: &'a str, reason: &'a str) -> Self {
        Self {
            order_key: format!("room/{room_id}"),
            action: "power_levels",
            user_id: None,
            room_id: Some(room_id),
            matrix_user_id: None,
            reason,
        }
    }
}

fn community_from_row(row: &AnyRow) -> Result<CommunityRoom, StoreError> {
    let rule = text(row, "rule")?;
    Ok(CommunityRoom {
        name: text(row, "name")?,
        title: text(row, "title")?,
        rule: CommunityRule::parse(&rule).ok_or_else(|| super::corrupt("rule", &rule))?,
        matrix_room_id: opt_text(row, "matrix_room_id")?,
    })
}

const COMMUNITY_COLUMNS: &str = "name, title, rule, matrix_room_id";

fn item_from_row(row: &AnyRow) -> Result<OutboxItem, StoreError> {
    Ok(OutboxItem {
        seq: int(row, "seq")?,
        order_key: text(row, "order_key")?,
        action: text(row, "action")?,
        user_id: opt_text(row, "user_id")?,
        room_id: opt_text(row, "room_id")?,
        matrix_user_id: opt_text(row, "matrix_user_id")?,
        reason: text(row, "reason")?,
        attempts: int(row, "attempts")?,
        next_attempt_at: int(row, "next_attempt_at")?,
        claimed_until: int(row, "claimed_until")?,
    })
}

impl Store {
    /// Queues changes, all or none.
    pub async fn insert_outbox_items(
        &self,
        items: &[NewOutboxItem<'_>],
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            insert_outbox_items_on(&mut tx, items, now).await?;
            tx.commit().await.context("commit")?;
            Ok(())
        })
        .await
    }

    /// The oldest pending changes (not given up on), in order.
    pub async fn find_pending_outbox(&self, limit: i64) -> Result<Vec<OutboxItem>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT seq, order_key, action, user_id, room_id, matrix_user_id, reason, attempts, \
                 next_attempt_at, claimed_until FROM matrix_outbox WHERE failed_at IS NULL \
                 ORDER BY seq LIMIT $1",
            )
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("find pending outbox")?;
            rows.iter().map(item_from_row).collect()
        })
        .await
    }

    /// Whether a change of `action` for `order_key` is still waiting.
    pub async fn has_pending_outbox(
        &self,
        order_key: &str,
        action: &str,
    ) -> Result<bool, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(
                "SELECT seq FROM matrix_outbox WHERE order_key = $1 AND action = $2 \
                 AND failed_at IS NULL LIMIT 1",
            )
            .bind(order_key)
            .bind(action)
            .fetch_optional(&self.pool)
            .await
            .context("find pending outbox item")?;
            Ok(row.is_some())
        })
        .await
    }

    /// Whether a change of `action` for `order_key` and `user_id` is still waiting.
    pub async fn has_pending_outbox_for_user(
        &self,
        order_key: &str,
        action: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(
                "SELECT seq FROM matrix_outbox WHERE order_key = $1 AND action = $2 \
                 AND user_id = $3 AND failed_at IS NULL LIMIT 1",
            )
            .bind(order_key)
            .bind(action)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .context("find pending outbox item")?;
            Ok(row.is_some())
        })
        .await
    }

    pub async fn find_matrix_room(&self, room_id: &str) -> Result<Option<String>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query("SELECT matrix_room_id FROM matrix_rooms WHERE room_id = $1")
                .bind(room_id)
                .fetch_optional(&self.pool)
                .await
                .context("find matrix room")?;
            row.as_ref().map(|r| text(r, "matrix_room_id")).transpose()
        })
        .await
    }

    pub async fn upsert_matrix_room(
        &self,
        room_id: &str,
        matrix_room_id: &str,
        alias: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(
                "INSERT INTO matrix_rooms (room_id, matrix_room_id, alias, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (room_id) DO UPDATE \
                 SET matrix_room_id = excluded.matrix_room_id, alias = excluded.alias",
            )
            .bind(room_id)
            .bind(matrix_room_id)
            .bind(alias)
            .bind(now)
            .execute(&self.pool)
            .await
            .context("record matrix room")?;
            Ok(())
        })
        .await
    }

    /// Whether `room_id`'s Matrix room has been archived (made read-only).
    pub async fn is_matrix_room_archived(&self, room_id: &str) -> Result<bool, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(
                "SELECT room_id FROM matrix_rooms WHERE room_id = $1 AND archived_at IS NOT NULL",
            )
            .bind(room_id)
            .fetch_optional(&self.pool)
            .await
            .context("find archived matrix room")?;
            Ok(row.is_some())
        })
        .await
    }

    pub async fn update_matrix_room_archived(
        &self,
        room_id: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query("UPDATE matrix_rooms SET archived_at = $2 WHERE room_id = $1")
                .bind(room_id)
                .bind(now)
                .execute(&self.pool)
                .await
                .context("record archived matrix room")?;
            Ok(())
        })
        .await
    }

    /// Every room with a Matrix room, as `(room id, Matrix room id)`.
    pub async fn find_all_matrix_rooms(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows =
                sqlx::query("SELECT room_id, matrix_room_id FROM matrix_rooms ORDER BY room_id")
                    .fetch_all(&self.pool)
                    .await
                    .context("find matrix rooms")?;
            rows.iter()
                .map(|r| Ok((text(r, "room_id")?, text(r, "matrix_room_id")?)))
                .collect()
        })
        .await
    }

    pub async fn upsert_matrix_member(
        &self,
        room_id: &str,
        user_id: &str,
        state: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(
                "INSERT INTO matrix_members (room_id, user_id, state, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (room_id, user_id) DO UPDATE \
                 SET state = excluded.state, updated_at = excluded.updated_at",
            )
            .bind(room_id)
            .bind(user_id)
            .bind(state)
            .bind(now)
            .execute(&self.pool)
            .await
            .context("record matrix member")?;
            Ok(())
        })
        .await
    }

    /// What roomkey last did to `user_id` in `room_id`'s Matrix room, if anything.
    pub async fn find_matrix_member(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row =
                sqlx::query("SELECT state FROM matrix_members WHERE room_id = $1 AND user_id = $2")
                    .bind(room_id)
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await
                    .context("find matrix member")?;
            row.as_ref().map(|r| text(r, "state")).transpose()
        })
        .await
    }

    /// Rooms whose show has not ended at `now` (or has no end), oldest first.
    pub async fn find_open_rooms(&self, now: UnixSeconds) -> Result<Vec<Room>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "SELECT {} FROM rooms WHERE ends_at IS NULL OR ends_at > $1 ORDER BY created_at, id",
                super::rooms::ROOM_COLUMNS
            ))
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .context("find open rooms")?;
            rows.iter().map(super::rooms::room_from_row).collect()
        })
        .await
    }

    /// Entitlements not revoked and not ended at `now` whose scope could cover `room`
    /// (the room itself, its performer, or one of its plans); the access rule decides.
    pub async fn find_entitlements_covering(
        &self,
        room: &Room,
        now: UnixSeconds,
    ) -> Result<Vec<Entitlement>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "{} WHERE r.entitlement_id IS NULL AND (e.valid_until IS NULL OR e.valid_until > $1) \
                 AND ((e.scope_kind = 'room' AND e.scope_ref = $2) \
                 OR (e.scope_kind = 'performer' AND e.scope_ref = $3) OR e.scope_kind = 'plan') \
                 ORDER BY e.user_id",
                super::entitlements::ENTITLEMENT_SELECT
            ))
            .bind(now)
            .bind(&room.id)
            .bind(&room.owner_id)
            .fetch_all(&self.pool)
            .await
            .context("find entitlements covering a room")?;
            let all: Vec<Entitlement> = rows
                .iter()
                .map(super::entitlements::entitlement_from_row)
                .collect::<Result<_, _>>()?;
            Ok(all
                .into_iter()
                .filter(|e| match &e.scope {
                    crate::domain::EntitlementScope::Plan(plan) => room.plans.contains(plan),
                    _ => true,
                })
                .collect())
        })
        .await
    }

    pub async fn update_user_matrix_id(
        &self,
        user_id: &str,
        matrix_user_id: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query("UPDATE users SET matrix_user_id = $2, updated_at = $3 WHERE id = $1")
                .bind(user_id)
                .bind(matrix_user_id)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(|e| super::classify_write_error(e, &["matrix_user_id"]))?;
            Ok(())
        })
        .await
    }

    /// The user whose Matrix id is `matrix_user_id`.
    pub async fn find_user_by_matrix_id(
        &self,
        matrix_user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query("SELECT id FROM users WHERE matrix_user_id = $1")
                .bind(matrix_user_id)
                .fetch_optional(&self.pool)
                .await
                .context("find user by matrix id")?;
            row.as_ref().map(|r| text(r, "id")).transpose()
        })
        .await
    }

    /// Registers a community room, or changes its title and rule if it exists.
    pub async fn upsert_community_room(
        &self,
        name: &str,
        title: &str,
        rule: CommunityRule,
        now: UnixSeconds,
    ) -> Result<CommunityRoom, StoreError> {
        self.timed(StoreOp::Write, async {
            let row = sqlx::query(&format!(
                "INSERT INTO matrix_community_rooms (name, title, rule, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO UPDATE \
                 SET title = excluded.title, rule = excluded.rule, updated_at = excluded.updated_at \
                 RETURNING {COMMUNITY_COLUMNS}"
            ))
            .bind(name)
            .bind(title)
            .bind(rule.as_str())
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .context("record community room")?;
            community_from_row(&row)
        })
        .await
    }

    pub async fn find_community_room(
        &self,
        name: &str,
    ) -> Result<Option<CommunityRoom>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(&format!(
                "SELECT {COMMUNITY_COLUMNS} FROM matrix_community_rooms WHERE name = $1"
            ))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .context("find community room")?;
            row.as_ref().map(community_from_row).transpose()
        })
        .await
    }

    /// Every community room, by name.
    pub async fn find_community_rooms(&self) -> Result<Vec<CommunityRoom>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "SELECT {COMMUNITY_COLUMNS} FROM matrix_community_rooms ORDER BY name"
            ))
            .fetch_all(&self.pool)
            .await
            .context("find community rooms")?;
            rows.iter().map(community_from_row).collect()
        })
        .await
    }

    pub async fn update_community_matrix_room(
        &self,
        name: &str,
        matrix_room_id: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(
                "UPDATE matrix_community_rooms SET matrix_room_id = $2, updated_at = $3 \
                 WHERE name = $1",
            )
            .bind(name)
            .bind(matrix_room_id)
            .bind(now)
            .execute(&self.pool)
            .await
            .context("record community room's Matrix room")?;
            Ok(())
        })
        .await
    }

    /// Ids of users with a Matrix id whose role is one of `roles` (every role if `None`).
    pub async fn find_user_ids_with_matrix_id(
        &self,
        roles: Option<&[Role]>,
    ) -> Result<Vec<String>, StoreError> {
        self.timed(StoreOp::Other, async {
            let mut sql = "SELECT id FROM users WHERE matrix_user_id IS NOT NULL".to_owned();
            if let Some(roles) = roles {
                let list: Vec<String> = (1..=roles.len()).map(|n| format!("${n}")).collect();
                sql.push_str(&format!(" AND role IN ({})", list.join(", ")));
            }
            sql.push_str(" ORDER BY id");
            let mut query = sqlx::query(&sql);
            for role in roles.unwrap_or_default() {
                query = query.bind(role.as_str());
            }
            let rows = query
                .fetch_all(&self.pool)
                .await
                .context("find users with a Matrix id")?;
            rows.iter().map(|r| text(r, "id")).collect()
        })
        .await
    }

    /// The Matrix ids of platform moderators and admins.
    pub async fn find_staff_matrix_ids(&self) -> Result<Vec<String>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT matrix_user_id FROM users WHERE matrix_user_id IS NOT NULL \
                 AND role IN ('moderator', 'admin') ORDER BY matrix_user_id",
            )
            .fetch_all(&self.pool)
            .await
            .context("find staff Matrix ids")?;
            rows.iter().map(|r| text(r, "matrix_user_id")).collect()
        })
        .await
    }
}

/// Queues Matrix changes on `conn`, inside the caller's transaction.
pub(super) async fn insert_outbox_items_on(
    conn: &mut sqlx::AnyConnection,
    items: &[NewOutboxItem<'_>],
    now: UnixSeconds,
) -> Result<(), StoreError> {
    for item in items {
        sqlx::query(
            "INSERT INTO matrix_outbox (order_key, action, user_id, room_id, \
             matrix_user_id, reason, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&item.order_key)
        .bind(item.action)
        .bind(item.user_id)
        .bind(item.room_id)
        .bind(item.matrix_user_id)
        .bind(item.reason)
        .bind(now)
        .execute(&mut *conn)
        .await
        .context("insert outbox item")?;
    }
    Ok(())
}
