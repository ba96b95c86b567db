//! The moderation audit trail: every ban, unban, kick, room end, hand-made grant or
//! revocation and role change, with who did it and why.
//!
//! An entry is written right after the action it describes is stored. If that write fails
//! the action stands (undoing a ban because its log line failed would be worse) and the
//! failure is logged as an error; the facts themselves (bans, lifts, revocations) keep
//! their own who, when and why in any case.

use std::sync::Arc;

use serde_json::Value;

use crate::authz::AuditReader;
use crate::clock::Clock;
use crate::domain::{AuditEntry, ModerationAction};
use crate::store::{AuditQuery, Store, StoreError};

/// Largest page of the trail.
pub const MAX_PAGE: i64 = 200;

pub struct AuditLog {
    store: Store,
    clock: Arc<dyn Clock>,
}

/// What is being recorded, before it gets its id and time.
pub struct Action<'a> {
    pub actor: Option<&'a str>,
    pub action: ModerationAction,
    pub user_id: Option<&'a str>,
    pub room: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub details: Value,
}

impl AuditLog {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub async fn record(&self, action: Action<'_>) {
        let entry = AuditEntry {
            id: uuid::Uuid::now_v7().to_string(),
            at: self.clock.now(),
            actor: action.actor.unwrap_or("system").to_owned(),
            action: action.action,
            user_id: action.user_id.map(str::to_owned),
            room: action.room.map(str::to_owned),
            reason: action.reason.map(str::to_owned),
            details: action.details,
        };
        if let Err(error) = self.store.insert_audit(&entry).await {
            tracing::error!(action = entry.action.as_str(), actor = %entry.actor, %error, "the audit entry for a moderation action could not be written");
        }
    }

    /// The name of the room with id `room_id`, for an entry that names it. A failed lookup
    /// leaves the entry without it rather than stopping the action it records.
    pub async fn room_name(&self, room_id: &str) -> Option<String> {
        self.store
            .find_room_by_id(room_id)
            .await
            .ok()
            .flatten()
            .map(|room| room.name.as_str().to_owned())
    }

    /// Entries matching `query`, within what `reader` may read: a reader held to one room
    /// reads that room's entries whatever the query asks.
    pub async fn list(
        &self,
        reader: &AuditReader,
        query: AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let query = match reader.only_room() {
            Some(room) => AuditQuery {
                room: Some(room.as_str().to_owned()),
                ..query
            },
            None => query,
        };
        self.store.list_audit(&query).await
    }
}
