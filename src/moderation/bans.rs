//! Banning and unbanning: appended as facts with their change, delivered before the call
//! returns so that the next token request on any instance is refused.

use std::sync::Arc;

use super::audit::{Action, AuditLog};
use crate::authz::{self, BanWarrant, Staff};
use crate::changes::Dispatcher;
use crate::clock::{Clock, UnixSeconds};
use crate::domain::{Ban, BanLift, BanScope, ModerationAction, UserId};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BanError {
    #[error("{1}")]
    Invalid(&'static str, &'static str),
    #[error("no such user")]
    UnknownUser,
    #[error("no such room")]
    UnknownRoom,
    #[error("no such ban")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A ban to place, under the warrant an [`authz`] rule gave.
pub struct BanRequest {
    pub user_id: UserId,
    pub reason: String,
    /// `None` bans until lifted.
    pub until: Option<UnixSeconds>,
}

pub struct BanService {
    store: Store,
    changes: Arc<Dispatcher>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
}

impl BanService {
    pub fn new(
        store: Store,
        changes: Arc<Dispatcher>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            changes,
            audit,
            clock,
        }
    }

    /// Places a ban; `warrant` names who bans and with which scope.
    pub async fn ban(&self, warrant: &BanWarrant, request: BanRequest) -> Result<Ban, BanError> {
        let now = self.clock.now();
        check_reason(&request.reason)?;
        if request.until.is_some_and(|until| until <= now) {
            return Err(BanError::Invalid("until", "until must be in the future"));
        }
        let scope = match warrant.scope() {
            authz::BanScope::Global => BanScope::Global,
            authz::BanScope::Room(name) => BanScope::Room(
                self.store
                    .find_room_by_name(name)
                    .await?
                    .ok_or(BanError::UnknownRoom)?
                    .id,
            ),
            authz::BanScope::Performer(id) => {
                self.store
                    .find_user(id)
                    .await?
                    .ok_or(BanError::Invalid("scope.performer_id", "no such performer"))?;
                BanScope::Performer(id.clone())
            }
        };
        let ban = Ban {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: request.user_id,
            scope,
            reason: request.reason,
            until: request.until,
            banned_by: Some(warrant.actor().as_str().to_owned()),
            created_at: now,
            lift: None,
        };
        let change = self.store.insert_ban(&ban).await.map_err(|e| match e {
            StoreError::MissingReference(_) => BanError::UnknownUser,
            other => BanError::Store(other),
        })?;
        self.changes.deliver(change).await;
        self.audit_ban(
            ModerationAction::Ban,
            &ban,
            ban.banned_by.as_deref(),
            &ban.reason,
        )
        .await;
        Ok(ban)
    }

    /// Lifts a ban; staff only.
    pub async fn lift(&self, staff: &Staff, ban_id: &str, reason: String) -> Result<Ban, BanError> {
        check_reason(&reason)?;
        let lift = BanLift {
            lifted_at: self.clock.now(),
            lifted_by: Some(staff.actor().as_str().to_owned()),
            reason,
        };
        let (ban, change) = self
            .store
            .insert_ban_lift(ban_id, &lift)
            .await?
            .ok_or(BanError::NotFound)?;
        if let Some(change) = change {
            self.changes.deliver(change).await;
        }
        if let Some(lift) = &ban.lift {
            self.audit_ban(
                ModerationAction::Unban,
                &ban,
                lift.lifted_by.as_deref(),
                &lift.reason,
            )
            .await;
        }
        Ok(ban)
    }

    async fn audit_ban(
        &self,
        action: ModerationAction,
        ban: &Ban,
        actor: Option<&str>,
        reason: &str,
    ) {
        let room = match &ban.scope {
            BanScope::Room(room_id) => self.audit.room_name(room_id).await,
            _ => None,
        };
        self.audit
            .record(Action {
                actor,
                action,
                user_id: Some(&ban.user_id),
                room: room.as_deref(),
                reason: Some(reason),
                details: serde_json::json!({
                    "ban_id": ban.id,
                    "scope": {"kind": ban.scope.kind(), "ref": ban.scope.reference()},
                    "until": ban.until,
                }),
            })
            .await;
    }

    pub async fn list(&self, user_id: &str) -> Result<Vec<Ban>, BanError> {
        Ok(self.store.find_all_bans(user_id).await?)
    }
}

fn check_reason(reason: &str) -> Result<(), BanError> {
    if reason.trim().is_empty() || reason.chars().count() > 500 {
        return Err(BanError::Invalid(
            "reason",
            "reason must be 1 to 500 characters",
        ));
    }
    Ok(())
}
