//! Performer verification: a user applies, staff approve or reject, and staff may revoke.
//!
//! Only a verified performer may create shows, and Jitsi tokens carry the flag in
//! `context.user.verified`. Each step is an append-only fact; the user's verified flag is
//! set in the same transaction as the fact that changes it, and every instance's cached
//! copy of the user is dropped at once. Approving a viewer makes them a performer.

use std::sync::Arc;

use crate::authz::Staff;
use crate::changes::Dispatcher;
use crate::clock::Clock;
use crate::domain::{ModerationAction, User, VerificationFact, VerificationStep};
use crate::moderation::audit::{Action, AuditLog};
use crate::store::{Store, StoreError};

/// Applications listed at most per request.
pub const MAX_APPLICATIONS: i64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum VerificationError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error("no such user")]
    UserNotFound,
    #[error("staff are not verified as performers")]
    Staff,
    #[error("{0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a user's verification stands, from their latest step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationState {
    None,
    Applied,
    Verified,
    Rejected,
    Revoked,
}

impl VerificationState {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationState::None => "none",
            VerificationState::Applied => "applied",
            VerificationState::Verified => "verified",
            VerificationState::Rejected => "rejected",
            VerificationState::Revoked => "revoked",
        }
    }

    fn of(facts: &[VerificationFact]) -> Self {
        match facts.last().map(|fact| fact.step) {
            None => VerificationState::None,
            Some(VerificationStep::Apply) => VerificationState::Applied,
            Some(VerificationStep::Approve) => VerificationState::Verified,
            Some(VerificationStep::Reject) => VerificationState::Rejected,
            Some(VerificationStep::Revoke) => VerificationState::Revoked,
        }
    }
}

/// A user's verification: the current state and every step that led to it.
#[derive(Debug, Clone)]
pub struct Verification {
    pub user_id: String,
    pub state: VerificationState,
    pub history: Vec<VerificationFact>,
}

pub struct VerificationService {
    store: Store,
    changes: Arc<Dispatcher>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
}

impl VerificationService {
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

    pub async fn status(&self, user_id: &str) -> Result<Verification, VerificationError> {
        Ok(self.current(user_id).await?.1)
    }

    /// The user and their verification as it stands.
    async fn current(&self, user_id: &str) -> Result<(User, Verification), VerificationError> {
        let user = self
            .store
            .find_user(user_id)
            .await?
            .ok_or(VerificationError::UserNotFound)?;
        let history = self.store.find_verification_facts(user_id).await?;
        let verification = Verification {
            user_id: user_id.to_owned(),
            state: VerificationState::of(&history),
            history,
        };
        Ok((user, verification))
    }

    /// Applications waiting for staff, oldest first.
    pub async fn open_applications(
        &self,
        limit: i64,
    ) -> Result<Vec<VerificationFact>, VerificationError> {
        Ok(self
            .store
            .find_open_applications(limit.clamp(1, MAX_APPLICATIONS))
            .await?)
    }

    /// A user asks to be verified. Asking again while waiting changes nothing.
    pub async fn apply(
        &self,
        user_id: &str,
        note: &str,
    ) -> Result<Verification, VerificationError> {
        let (user, current) = self.current(user_id).await?;
        match current.state {
            VerificationState::Applied => return Ok(current),
            VerificationState::Verified => {
                return Err(VerificationError::Conflict("already verified"))
            }
            _ => {}
        }
        refuse_staff(&user)?;
        self.record(current, VerificationStep::Apply, user_id, note)
            .await
    }

    /// Staff verify a user (with or without an application); a viewer becomes a performer.
    pub async fn approve(
        &self,
        staff: &Staff,
        user_id: &str,
        note: &str,
    ) -> Result<Verification, VerificationError> {
        let actor = staff.actor().as_str();
        let (user, current) = self.current(user_id).await?;
        if current.state == VerificationState::Verified {
            return Ok(current);
        }
        refuse_staff(&user)?;
        let verification = self
            .record(current, VerificationStep::Approve, actor, note)
            .await?;
        self.audit(ModerationAction::VerifyPerformer, user_id, actor, note)
            .await;
        Ok(verification)
    }

    /// Staff turn an application down.
    pub async fn reject(
        &self,
        staff: &Staff,
        user_id: &str,
        note: &str,
    ) -> Result<Verification, VerificationError> {
        let actor = staff.actor().as_str();
        let (_, current) = self.current(user_id).await?;
        if current.state != VerificationState::Applied {
            return Err(VerificationError::Conflict("there is no open application"));
        }
        self.record(current, VerificationStep::Reject, actor, note)
            .await
    }

    /// Staff take a verification back: the performer can no longer create shows.
    pub async fn revoke(
        &self,
        staff: &Staff,
        user_id: &str,
        reason: &str,
    ) -> Result<Verification, VerificationError> {
        let actor = staff.actor().as_str();
        if reason.trim().is_empty() {
            return Err(VerificationError::Invalid("a revocation needs a reason"));
        }
        let (_, current) = self.current(user_id).await?;
        if current.state != VerificationState::Verified {
            return Err(VerificationError::Conflict("the user is not verified"));
        }
        let verification = self
            .record(current, VerificationStep::Revoke, actor, reason)
            .await?;
        self.audit(ModerationAction::UnverifyPerformer, user_id, actor, reason)
            .await;
        Ok(verification)
    }

    /// Appends `step` to `current` and answers with the verification it makes.
    async fn record(
        &self,
        mut current: Verification,
        step: VerificationStep,
        actor: &str,
        note: &str,
    ) -> Result<Verification, VerificationError> {
        if note.chars().count() > 1_000 {
            return Err(VerificationError::Invalid(
                "note must be at most 1000 characters",
            ));
        }
        let fact = VerificationFact {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: current.user_id.clone(),
            step,
            actor: actor.to_owned(),
            note: note.trim().to_owned(),
            created_at: self.clock.now(),
        };
        if let Some(change) = self.store.insert_verification_fact(&fact).await? {
            self.changes.deliver(change).await;
        }
        current.history.push(fact);
        current.state = VerificationState::of(&current.history);
        Ok(current)
    }

    async fn audit(&self, action: ModerationAction, user_id: &str, actor: &str, note: &str) {
        self.audit
            .record(Action {
                actor: Some(actor),
                action,
                user_id: Some(user_id),
                room: None,
                reason: (!note.trim().is_empty()).then_some(note.trim()),
                details: serde_json::json!({}),
            })
            .await;
    }
}

/// Staff hold their powers by role; they are never verified as performers.
fn refuse_staff(user: &User) -> Result<(), VerificationError> {
    if user.role.is_staff() {
        Err(VerificationError::Staff)
    } else {
        Ok(())
    }
}
