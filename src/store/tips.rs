//! What a tipper asked to be shown with a tip, and the notice a confirmed tip becomes.

use anyhow::Context as _;

use super::{int, opt_int, opt_text, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::domain::{tipper_name, RoomName, TipNotice};
use crate::telemetry::metrics::StoreOp;

impl Store {
    /// Stores a tip's message and anonymity with its intent (written at checkout, before
    /// the client is given the reference it pays with).
    pub async fn insert_tip_message(
        &self,
        intent_id: &str,
        message: Option<&str>,
        anonymous: bool,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(
                "INSERT INTO tip_messages (intent_id, message, anonymous, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(intent_id)
            .bind(message)
            .bind(i64::from(anonymous))
            .bind(now)
            .execute(&self.pool)
            .await
            .context("store a tip's message")?;
            Ok(())
        })
        .await
    }

    /// What the room is told when the tip `intent_id` is confirmed (`confirmed_at` is left
    /// to the caller); `None` when the intent is not a tip to a room.
    pub async fn find_tip_notice(&self, intent_id: &str) -> Result<Option<TipNotice>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(
                "SELECT i.room_id, r.name AS room_name, u.display_name, u.handle, \
                 i.amount_minor, i.currency, t.message, t.anonymous \
                 FROM payment_intents i \
                 JOIN rooms r ON r.id = i.room_id \
                 JOIN users u ON u.id = i.user_id \
                 LEFT JOIN tip_messages t ON t.intent_id = i.id \
                 WHERE i.id = $1 AND i.kind = 'tip'",
            )
            .bind(intent_id)
            .fetch_optional(&self.pool)
            .await
            .context("find a tip's notice")?;
            let Some(row) = row else {
                return Ok(None);
            };
            let anonymous = opt_int(&row, "anonymous")?.unwrap_or(0) != 0;
            let name = tipper_name(&text(&row, "display_name")?, &text(&row, "handle")?);
            Ok(Some(TipNotice {
                room_id: text(&row, "room_id")?,
                room: RoomName::from_canonical(text(&row, "room_name")?),
                from: (!anonymous).then_some(name),
                amount_minor: int(&row, "amount_minor")?,
                currency: text(&row, "currency")?,
                message: opt_text(&row, "message")?,
                confirmed_at: 0,
            }))
        })
        .await
    }
}
