//! Announcements in running rooms: a confirmed tip shown to everyone in the room.
//!
//! Stock Jitsi Meet shows a chat line for a `<message>` from the room's own JID that
//! carries `<json-message xmlns='http://jitsi.org/jitmeet'>` with
//! `{"type":"system_chat_message","message":…,"displayName":…}` (what jitsi-meet's
//! `mod_system_chat_message.lua` sends; lib-jitsi-meet reports it as a message from no
//! participant, and the chat feature adds it to the chat panel). `mod_roomkey` builds
//! that stanza for each occupant when it gets an `announce` command (PROTOCOL.md).
//!
//! An announcement is durable like a kick: stored for every shard before the change is
//! acknowledged, retried within [`super::DELIVERY_WINDOW_SECS`]. Its id is derived from
//! what it announces, so a change delivered twice (delivery is at least once) is shown
//! once: a shard runs a repeated id once, within the 120 s it remembers ids, and a notice
//! delivered later than [`super::DELIVERY_WINDOW_SECS`] after the tip is not sent at all.

use super::{Command, LiveEnforcer, LiveError};
use crate::domain::TipNotice;
use crate::telemetry::metrics::{TipChannel, TipNoticeOutcome};

impl LiveEnforcer {
    /// Shows `notice` in its room on every shard that hosts the room; `payment_id` makes
    /// the command's id.
    pub async fn announce_tip(
        &self,
        payment_id: &str,
        notice: &TipNotice,
    ) -> Result<(), LiveError> {
        // A notice older than the shards' memory of command ids could be shown twice; one
        // that late (its change kept failing elsewhere) is not news in a live room anyway.
        let stale = self.clock.now() - notice.confirmed_at >= super::DELIVERY_WINDOW_SECS;
        if self.shards.is_empty() || stale {
            self.metrics
                .tip_notice(TipChannel::Jitsi, TipNoticeOutcome::Skipped);
            return Ok(());
        }
        let text = notice.text();
        let command = Command::Announce {
            room: notice.room.as_str(),
            message: &text,
            display_name: "Tips",
        };
        let body = Self::body_with_id(format!("tip-{payment_id}"), &command);
        let stored = self.send_durably_as(body, command.label()).await;
        let outcome = if stored.is_ok() {
            TipNoticeOutcome::Queued
        } else {
            TipNoticeOutcome::Failed
        };
        self.metrics.tip_notice(TipChannel::Jitsi, outcome);
        stored
    }
}
