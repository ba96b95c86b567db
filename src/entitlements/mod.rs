//! Entitlements: granting and revoking the right to enter.
//!
//! Payments (and, here, admins) grant; refunds, chargebacks and admins revoke. Both are
//! appended as facts with their [`crate::changes::Change`] in one transaction; the change is
//! delivered before the call returns, so every instance's cache forgets the user's
//! entitlements and the shards ask again.

use std::sync::Arc;

use crate::authz::Admin;
use crate::changes::Dispatcher;
use crate::clock::{Clock, UnixSeconds};
use crate::domain::{
    Entitlement, EntitlementScope, EntitlementSource, ModerationAction, Revocation, RoomName,
    UserId,
};
use crate::moderation::audit::{Action, AuditLog};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EntitlementError {
    #[error("{1}")]
    Invalid(&'static str, &'static str),
    #[error("no such user")]
    UnknownUser,
    #[error("no such room")]
    UnknownRoom,
    #[error("no such entitlement")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to grant, with rooms named as clients name them.
pub enum ScopeRequest {
    Room(RoomName),
    Performer(UserId),
    Plan(String),
    Credit(String),
}

pub struct GrantRequest {
    pub user_id: UserId,
    pub scope: ScopeRequest,
    pub valid_from: Option<UnixSeconds>,
    /// `None` grants for life.
    pub valid_until: Option<UnixSeconds>,
    pub quantity: Option<i64>,
    pub source: EntitlementSource,
    pub source_ref: Option<String>,
}

pub struct EntitlementService {
    store: Store,
    changes: Arc<Dispatcher>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
}

impl EntitlementService {
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

    /// An admin grants an entitlement (a comp ticket, a plan, credits).
    pub async fn grant(
        &self,
        admin: &Admin,
        request: GrantRequest,
    ) -> Result<Entitlement, EntitlementError> {
        let now = self.clock.now();
        let scope = match request.scope {
            ScopeRequest::Room(name) => {
                let room = self
                    .store
                    .find_room_by_name(&name)
                    .await?
                    .ok_or(EntitlementError::UnknownRoom)?;
                EntitlementScope::Room(room.id)
            }
            ScopeRequest::Performer(id) => {
                self.store
                    .find_user(&id)
                    .await?
                    .ok_or(EntitlementError::Invalid(
                        "scope.performer_id",
                        "no such performer",
                    ))?;
                EntitlementScope::Performer(id)
            }
            ScopeRequest::Plan(plan) => {
                if crate::domain::parse_handle(&plan).as_deref() != Some(plan.as_str()) {
                    return Err(EntitlementError::Invalid(
                        "scope.plan",
                        "plan must be a lowercase name such as member or prime",
                    ));
                }
                EntitlementScope::Plan(plan)
            }
            ScopeRequest::Credit(kind) => {
                if crate::domain::parse_handle(&kind).as_deref() != Some(kind.as_str()) {
                    return Err(EntitlementError::Invalid(
                        "scope.credit",
                        "credit must be a lowercase name",
                    ));
                }
                EntitlementScope::Credit(kind)
            }
        };
        match (&scope, request.quantity) {
            (EntitlementScope::Credit(_), Some(q)) if q > 0 => {}
            (EntitlementScope::Credit(_), _) => {
                return Err(EntitlementError::Invalid(
                    "quantity",
                    "a credit needs a positive quantity",
                ))
            }
            (_, Some(_)) => {
                return Err(EntitlementError::Invalid(
                    "quantity",
                    "only credits have a quantity",
                ))
            }
            _ => {}
        }
        let valid_from = request.valid_from.unwrap_or(now);
        if request.valid_until.is_some_and(|until| until <= valid_from) {
            return Err(EntitlementError::Invalid(
                "valid_until",
                "valid_until must be after valid_from",
            ));
        }
        let entitlement = Entitlement {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: request.user_id,
            scope,
            quantity: request.quantity,
            valid_from,
            valid_until: request.valid_until,
            source: request.source,
            source_ref: request.source_ref,
            granted_by: Some(admin.actor().as_str().to_owned()),
            created_at: now,
            revocation: None,
        };
        let change = self
            .store
            .insert_entitlement(&entitlement)
            .await
            .map_err(|e| match e {
                StoreError::MissingReference(_) => EntitlementError::UnknownUser,
                other => EntitlementError::Store(other),
            })?;
        self.changes.deliver(change).await;
        if entitlement.source == EntitlementSource::AdminGrant {
            self.audit_entitlement(
                ModerationAction::Grant,
                &entitlement,
                entitlement.granted_by.as_deref(),
                entitlement.source_ref.as_deref(),
            )
            .await;
        }
        Ok(entitlement)
    }

    pub async fn revoke(
        &self,
        admin: &Admin,
        id: &str,
        reason: String,
    ) -> Result<Entitlement, EntitlementError> {
        let actor = Some(admin.actor().as_str().to_owned());
        if reason.trim().is_empty() || reason.chars().count() > 500 {
            return Err(EntitlementError::Invalid(
                "reason",
                "reason must be 1 to 500 characters",
            ));
        }
        let revocation = Revocation {
            revoked_at: self.clock.now(),
            revoked_by: actor,
            reason,
        };
        let (entitlement, change) = self
            .store
            .insert_revocation(id, &revocation, "access revoked")
            .await?
            .ok_or(EntitlementError::NotFound)?;
        if let Some(change) = change {
            self.changes.deliver(change).await;
        }
        if let Some(revocation) = &entitlement.revocation {
            self.audit_entitlement(
                ModerationAction::Revoke,
                &entitlement,
                revocation.revoked_by.as_deref(),
                Some(&revocation.reason),
            )
            .await;
        }
        Ok(entitlement)
    }

    async fn audit_entitlement(
        &self,
        action: ModerationAction,
        entitlement: &Entitlement,
        actor: Option<&str>,
        reason: Option<&str>,
    ) {
        let room = match &entitlement.scope {
            EntitlementScope::Room(room_id) => self.audit.room_name(room_id).await,
            _ => None,
        };
        self.audit
            .record(Action {
                actor,
                action,
                user_id: Some(&entitlement.user_id),
                room: room.as_deref(),
                reason,
                details: serde_json::json!({
                    "entitlement_id": entitlement.id,
                    "scope": {"kind": entitlement.scope.kind(), "ref": entitlement.scope.reference()},
                    "valid_until": entitlement.valid_until,
                }),
            })
            .await;
    }

    pub async fn list(&self, user_id: &str) -> Result<Vec<Entitlement>, EntitlementError> {
        Ok(self.store.find_all_entitlements(user_id).await?)
    }
}
