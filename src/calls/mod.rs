//! Private calls paid by the minute (`docs/calls.md`).
//!
//! A viewer with call credit asks a performer for a call; the performer accepts (a
//! private, invite-only room for the two of them) or declines; either ends it, or leaves.
//! While the viewer is in the room, every started minute on the call's grid is charged
//! once to their credit and split in the call ledger ([`crate::domain::calls`] has the
//! arithmetic, [`crate::store`] the once-only charge). The access path holds the viewer's
//! token and the shards' `recheck_at` to the moment the credit runs out.

mod meter;

use std::sync::Arc;

use crate::authz::{self, Caller};
use crate::changes::Dispatcher;
use crate::clock::Clock;
use crate::config::CallsConfig;
use crate::domain::calls::CALL_ROOM_PREFIX;
use crate::domain::{
    Call, CallState, CallTerms, Entitlement, EntitlementScope, EntitlementSource, ModerationAction,
    Role, Room, RoomAccess, RoomName, User,
};
use crate::moderation::audit::{Action, AuditLog};
use crate::store::{CallTotals, Store, StoreError};
use crate::telemetry::metrics::Metrics;

/// The highest per-minute price a performer may set, in minor units.
const MAX_PRICE_MINOR: i64 = 1_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{1}")]
    Invalid(&'static str, &'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("no such call")]
    NotFound,
    #[error("no such performer")]
    UnknownPerformer,
    #[error("this performer has not set a per-minute price for private calls")]
    NoPrice,
    #[error("you have no call credit left; buy minutes first")]
    NoCredit,
    #[error("{0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A call as its parties and staff see it.
#[derive(Debug, Clone)]
pub struct CallSummary {
    pub call: Call,
    pub room: Option<String>,
    /// From acceptance to the end, or to now while it lasts.
    pub running_seconds: i64,
    pub totals: CallTotals,
    /// The viewer's credit left, in minutes (shown to the viewer and staff only).
    pub viewer_credit_minutes: Option<i64>,
}

pub struct CallService {
    store: Store,
    changes: Arc<Dispatcher>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    /// `payments.performer_share_bps`, for performers without terms of their own.
    default_share_bps: i64,
    settings: CallsConfig,
}

/// Who is acting on a call.
enum Party {
    Viewer,
    Performer,
    Staff(authz::Staff),
}

impl CallService {
    pub fn new(
        store: Store,
        changes: Arc<Dispatcher>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        default_share_bps: i64,
        settings: CallsConfig,
    ) -> Self {
        Self {
            store,
            changes,
            audit,
            clock,
            metrics,
            default_share_bps,
            settings,
        }
    }

    /// A performer sets their own per-minute price; it applies to calls asked for later.
    pub async fn set_terms(
        &self,
        caller: &Caller,
        performer_id: &str,
        price_minor: i64,
        currency: &str,
    ) -> Result<CallTerms, CallError> {
        match acting_user(caller) {
            Some(user) if user.id == performer_id && user.role == Role::Performer => {}
            _ => {
                return Err(CallError::Forbidden(
                    "only the performer sets their call price",
                ))
            }
        }
        if !(1..=MAX_PRICE_MINOR).contains(&price_minor) {
            return Err(CallError::Invalid(
                "price_minor",
                "price_minor must be a positive whole number of minor units",
            ));
        }
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(CallError::Invalid(
                "currency",
                "currency must be an ISO 4217 code such as COP or USD",
            ));
        }
        let terms = CallTerms {
            performer_id: performer_id.to_owned(),
            price_minor,
            currency: currency.to_owned(),
            updated_at: self.clock.now(),
        };
        self.store.upsert_call_terms(&terms).await?;
        Ok(terms)
    }

    /// A viewer asks `performer_id` for a call, at the performer's current price.
    pub async fn request(
        &self,
        viewer_id: &str,
        performer_id: &str,
    ) -> Result<CallSummary, CallError> {
        if viewer_id == performer_id {
            return Err(CallError::Invalid(
                "performer_id",
                "you cannot ask yourself for a call",
            ));
        }
        let performer = self.store.find_user(performer_id).await?;
        if performer.is_none_or(|p| p.role != Role::Performer) {
            return Err(CallError::UnknownPerformer);
        }
        let terms = self
            .store
            .find_call_terms(performer_id)
            .await?
            .ok_or(CallError::NoPrice)?;
        let now = self.clock.now();
        if self.store.call_credit_left(viewer_id, now).await? <= 0 {
            return Err(CallError::NoCredit);
        }
        let share = self.store.find_performer_terms(performer_id).await?;
        let call = Call {
            id: uuid::Uuid::now_v7().to_string(),
            viewer_id: viewer_id.to_owned(),
            performer_id: performer_id.to_owned(),
            room_id: None,
            state: CallState::Requested,
            price_minor: terms.price_minor,
            currency: terms.currency,
            performer_share_bps: share.map_or(self.default_share_bps, |t| t.performer_share_bps),
            requested_at: now,
            accepted_at: None,
            ended_at: None,
            end_reason: None,
        };
        self.store.insert_call(&call).await?;
        self.summary(call, true).await
    }

    /// The performer accepts: the room for the two of them opens, the viewer is invited.
    pub async fn accept(&self, caller: &Caller, call_id: &str) -> Result<CallSummary, CallError> {
        let call = self.find_as(caller, call_id).await?;
        if !matches!(party(caller, &call), Some(Party::Performer)) {
            return Err(CallError::Forbidden("only the performer accepts a call"));
        }
        let now = self.clock.now();
        let name = RoomName::parse(&format!("{CALL_ROOM_PREFIX}{}", call.id))
            .map_err(|_| CallError::Conflict("the call's id makes no room name"))?;
        let room = Room {
            id: uuid::Uuid::now_v7().to_string(),
            name,
            title: "Private call".into(),
            owner_id: call.performer_id.clone(),
            access: RoomAccess::InviteOnly,
            price: None,
            plans: Vec::new(),
            starts_at: Some(now),
            ends_at: None,
            // One viewer's seat: the call is for the viewer and the performer (an owner, as
            // are staff, who take no seat).
            capacity: Some(1),
            created_at: now,
            updated_at: now,
        };
        let invitation = Entitlement {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: call.viewer_id.clone(),
            scope: EntitlementScope::Room(room.id.clone()),
            quantity: None,
            valid_from: now,
            valid_until: None,
            source: EntitlementSource::InviteCode,
            source_ref: Some(call.id.clone()),
            granted_by: Some(call.performer_id.clone()),
            created_at: now,
            revocation: None,
        };
        let (call, changes) = self
            .store
            .accept_call(&call.id, &room, &invitation, now)
            .await?
            .ok_or(CallError::Conflict(
                "this call is no longer waiting for an answer",
            ))?;
        self.changes.deliver_all(changes).await;
        self.metrics.calls.started();
        self.summary(call, true).await
    }

    /// The performer turns a waiting call down.
    pub async fn decline(&self, caller: &Caller, call_id: &str) -> Result<CallSummary, CallError> {
        let call = self.find_as(caller, call_id).await?;
        if !matches!(party(caller, &call), Some(Party::Performer)) {
            return Err(CallError::Forbidden("only the performer declines a call"));
        }
        let (call, _) = self
            .store
            .close_call(
                &call.id,
                &[CallState::Requested],
                CallState::Declined,
                "Declined by the performer",
                self.clock.now(),
            )
            .await?
            .ok_or(CallError::Conflict(
                "this call is no longer waiting for an answer",
            ))?;
        self.summary(call, false).await
    }

    /// Either party, or staff, ends the call; its last minutes are charged first.
    pub async fn end(&self, caller: &Caller, call_id: &str) -> Result<CallSummary, CallError> {
        let call = self.find_as(caller, call_id).await?;
        let (reason, staff) = match party(caller, &call) {
            Some(Party::Viewer) => ("The viewer ended the call", None),
            Some(Party::Performer) => ("The performer ended the call", None),
            Some(Party::Staff(staff)) => ("A moderator ended the call", Some(staff)),
            None => return Err(CallError::NotFound),
        };
        let call = self.close(&call, reason).await?;
        if let Some(staff) = staff {
            self.audit_end(&staff, &call).await;
        }
        self.summary(call, true).await
    }

    /// The call, for its parties and staff.
    pub async fn view(&self, caller: &Caller, call_id: &str) -> Result<CallSummary, CallError> {
        let call = self.find_as(caller, call_id).await?;
        let sees_credit = !matches!(party(caller, &call), Some(Party::Performer));
        self.summary(call, sees_credit).await
    }

    /// Charges what is due, then ends the call; `Conflict` if it is over already.
    async fn close(&self, call: &Call, reason: &str) -> Result<Call, CallError> {
        if call.state == CallState::Accepted {
            self.charge(call, self.clock.now()).await?;
        }
        let (closed, change) = self
            .store
            .close_call(
                &call.id,
                &[CallState::Requested, CallState::Accepted],
                CallState::Ended,
                reason,
                self.clock.now(),
            )
            .await?
            .ok_or(CallError::Conflict("this call has already ended"))?;
        if let Some(change) = change {
            self.changes.deliver(change).await;
        }
        if call.state == CallState::Accepted {
            self.metrics.calls.ended();
        }
        Ok(closed)
    }

    async fn audit_end(&self, staff: &authz::Staff, call: &Call) {
        let room = format!("{CALL_ROOM_PREFIX}{}", call.id);
        self.audit
            .record(Action {
                actor: Some(staff.actor().as_str()),
                action: ModerationAction::EndRoom,
                user_id: Some(&call.viewer_id),
                room: call.room_id.as_ref().map(|_| room.as_str()),
                reason: call.end_reason.as_deref(),
                details: serde_json::json!({ "call_id": call.id, "performer_id": call.performer_id }),
            })
            .await;
    }

    /// The call if `caller` is one of its parties or staff; `NotFound` to anyone else, who
    /// must not learn that it exists.
    async fn find_as(&self, caller: &Caller, call_id: &str) -> Result<Call, CallError> {
        let call = self
            .store
            .find_call(call_id)
            .await?
            .ok_or(CallError::NotFound)?;
        party(caller, &call).ok_or(CallError::NotFound)?;
        Ok(call)
    }

    async fn summary(&self, call: Call, sees_credit: bool) -> Result<CallSummary, CallError> {
        let now = self.clock.now();
        let totals = self.store.call_totals(&call.id).await?;
        let viewer_credit_minutes = match sees_credit {
            true => Some(self.store.call_credit_left(&call.viewer_id, now).await?),
            false => None,
        };
        let running_seconds = call
            .accepted_at
            .map_or(0, |from| (call.ended_at.unwrap_or(now) - from).max(0));
        Ok(CallSummary {
            room: call
                .room_id
                .as_ref()
                .map(|_| format!("{CALL_ROOM_PREFIX}{}", call.id)),
            call,
            running_seconds,
            totals,
            viewer_credit_minutes,
        })
    }
}

fn acting_user(caller: &Caller) -> Option<&User> {
    match caller {
        Caller::User { user, .. } => Some(user),
        Caller::AdminKey => None,
    }
}

/// The caller's part in `call`: a party first (a performer who is also staff acts as the
/// performer), then staff.
fn party(caller: &Caller, call: &Call) -> Option<Party> {
    match acting_user(caller) {
        Some(user) if user.id == call.viewer_id => return Some(Party::Viewer),
        Some(user) if user.id == call.performer_id => return Some(Party::Performer),
        _ => {}
    }
    authz::staff(caller).ok().map(Party::Staff)
}
