//! Attendance segments reported by Prosody. Every write is idempotent: the module retries
//! batches, so the same join or leave can arrive more than once.

use anyhow::Context as _;

use super::{int, opt_int, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::domain::{AttendanceSegment, RoomName};
use crate::telemetry::metrics::StoreOp;

impl Store {
    /// Opens a segment; `false` when it already exists or the room or user is unknown.
    pub async fn record_join(
        &self,
        shard: &str,
        room: &RoomName,
        user_id: &str,
        occupant_id: &str,
        nick: Option<&str>,
        at: UnixSeconds,
    ) -> Result<bool, StoreError> {
        self.timed(StoreOp::Write, async {
            let done = sqlx::query(
                "INSERT INTO attendance (occupant_id, shard, room_id, user_id, nick, joined_at) \
                 SELECT $1, $2, r.id, u.id, $3, $4 FROM rooms r, users u \
                 WHERE r.name = $5 AND u.id = $6 \
                 ON CONFLICT (occupant_id) DO NOTHING",
            )
            .bind(occupant_id)
            .bind(shard)
            .bind(nick)
            .bind(at)
            .bind(room.as_str())
            .bind(user_id)
            .execute(&self.pool)
            .await
            .context("record join")?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    /// Closes an open segment; `false` when it is unknown or already closed.
    pub async fn record_leave(
        &self,
        occupant_id: &str,
        at: UnixSeconds,
    ) -> Result<bool, StoreError> {
        self.timed(StoreOp::Write, async {
            let done = sqlx::query(
                "UPDATE attendance SET left_at = CASE WHEN joined_at > $1 THEN joined_at ELSE $1 END \
                 WHERE occupant_id = $2 AND left_at IS NULL",
            )
            .bind(at)
            .bind(occupant_id)
            .execute(&self.pool)
            .await
            .context("record leave")?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    /// Closes every open segment of `room` on `shard` (the room was destroyed there).
    pub async fn close_room_attendance(
        &self,
        shard: &str,
        room: &RoomName,
        at: UnixSeconds,
    ) -> Result<u64, StoreError> {
        self.timed(StoreOp::Write, async {
            let done = sqlx::query(
                "UPDATE attendance SET left_at = CASE WHEN joined_at > $1 THEN joined_at ELSE $1 END \
                 WHERE shard = $2 AND left_at IS NULL \
                 AND room_id = (SELECT id FROM rooms WHERE name = $3)",
            )
            .bind(at)
            .bind(shard)
            .bind(room.as_str())
            .execute(&self.pool)
            .await
            .context("close room attendance")?;
            Ok(done.rows_affected())
        })
        .await
    }

    /// The latest `limit` segments of a room, oldest first.
    pub async fn room_attendance(
        &self,
        room_id: &str,
        limit: i64,
    ) -> Result<Vec<AttendanceSegment>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT a.occupant_id, a.user_id, u.handle, u.display_name, a.joined_at, a.left_at \
                 FROM attendance a JOIN users u ON u.id = a.user_id \
                 WHERE a.room_id = $1 ORDER BY a.joined_at DESC, a.occupant_id DESC LIMIT $2",
            )
            .bind(room_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("room attendance")?;
            let mut segments = rows
                .iter()
                .map(|row| {
                    Ok(AttendanceSegment {
                        occupant_id: text(row, "occupant_id")?,
                        user_id: text(row, "user_id")?,
                        handle: text(row, "handle")?,
                        display_name: text(row, "display_name")?,
                        joined_at: int(row, "joined_at")?,
                        left_at: opt_int(row, "left_at")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            segments.reverse();
            Ok(segments)
        })
        .await
    }
}
