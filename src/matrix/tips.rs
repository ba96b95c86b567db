//! A confirmed tip in the show's Matrix chat: an `m.notice` from the bot (clients show
//! notices as the service's own voice, and bots are expected not to answer them).
//!
//! The notice is a row of the Matrix outbox (`notice`) under its own order key,
//! `tip/<payment id>`; the homeserver is sent it with the transaction id
//! `roomkey-tip-<payment id>`, so a retried delivery, or the change delivered twice, is one
//! message in the room (Synapse answers a repeated transaction id with the first event).

use super::*;
use crate::domain::TipNotice;
use crate::telemetry::metrics::{TipChannel, TipNoticeOutcome};

/// The order keys of tip notices: `tip/<payment id>`.
const ORDER_PREFIX: &str = "tip/";

impl MatrixService {
    /// Queues the notice of a confirmed tip for its room's chat; nothing when Matrix is off.
    pub(super) async fn tip_confirmed(
        &self,
        payment_id: &str,
        notice: &TipNotice,
    ) -> Result<(), StoreError> {
        if !self.is_enabled() {
            self.metrics
                .tip_notice(TipChannel::Matrix, TipNoticeOutcome::Skipped);
            return Ok(());
        }
        let text = notice.text();
        let queued = self
            .try_enqueue(vec![NewOutboxItem {
                order_key: format!("{ORDER_PREFIX}{payment_id}"),
                action: "notice",
                user_id: None,
                room_id: Some(&notice.room_id),
                matrix_user_id: None,
                reason: &text,
            }])
            .await;
        let outcome = if queued.is_ok() {
            TipNoticeOutcome::Queued
        } else {
            TipNoticeOutcome::Failed
        };
        self.metrics.tip_notice(TipChannel::Matrix, outcome);
        queued
    }

    /// Posts a queued notice (its text is the row's `reason`) to the room's chat, making
    /// the chat first if it is not there yet.
    pub(super) async fn apply_notice(
        &self,
        m: &Enabled,
        room: &Room,
        item: &OutboxItem,
    ) -> Result<DeliveryOutcome, MatrixError> {
        let Some(payment_id) = item.order_key.strip_prefix(ORDER_PREFIX) else {
            return Ok(DeliveryOutcome::Skipped);
        };
        let matrix_room = self.ensure_room(m, room).await?;
        m.client
            .send_notice(
                &matrix_room,
                &format!("roomkey-tip-{payment_id}"),
                &item.reason,
            )
            .await?;
        Ok(DeliveryOutcome::Delivered)
    }
}
