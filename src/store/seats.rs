//! Who holds a seat in a room, as attendance reports tell it: the input of the token
//! path's advisory capacity check (`access::seats`).

use anyhow::Context as _;

use super::{opt_int, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::domain::Role;
use crate::telemetry::metrics::StoreOp;

impl Store {
    /// Viewers of `room_id` with a stay open now or closed after `since`, as
    /// `(user_id, left_at)` rows (`None` while present). The owner and staff hold no seat
    /// and are left out here, so a seat count is a count of distinct users.
    pub async fn find_seat_holders(
        &self,
        room_id: &str,
        since: UnixSeconds,
    ) -> Result<Vec<(String, Option<UnixSeconds>)>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT a.user_id, a.left_at FROM attendance a \
                 JOIN rooms r ON r.id = a.room_id JOIN users u ON u.id = a.user_id \
                 WHERE a.room_id = $1 AND (a.left_at IS NULL OR a.left_at > $2) \
                 AND a.user_id <> r.owner_id AND u.role <> $3 AND u.role <> $4",
            )
            .bind(room_id)
            .bind(since)
            .bind(Role::Moderator.as_str())
            .bind(Role::Admin.as_str())
            .fetch_all(&self.pool)
            .await
            .context("find seat holders")?;
            rows.iter()
                .map(|row| Ok((text(row, "user_id")?, opt_int(row, "left_at")?)))
                .collect()
        })
        .await
    }
}
