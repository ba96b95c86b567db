//! Performer verification: apply, see where it stands, and staff's approve, reject, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::authz::{self, Caller, Staff};
use crate::clock::rfc3339;
use crate::domain::VerificationFact;
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, OptionalJson, UserPrincipal};
use crate::http::params::UserParam;
use crate::http::state::PerformerState;
use crate::performers::Verification;

#[derive(Serialize, JsonSchema)]
pub struct VerificationView {
    user_id: String,
    /// `none`, `applied`, `verified`, `rejected` or `revoked`.
    state: &'static str,
    history: Vec<StepView>,
}

#[derive(Serialize, JsonSchema)]
pub struct StepView {
    step: &'static str,
    at: String,
    actor: String,
    note: String,
}

impl From<&VerificationFact> for StepView {
    fn from(fact: &VerificationFact) -> Self {
        Self {
            step: fact.step.as_str(),
            at: rfc3339(fact.created_at),
            actor: fact.actor.clone(),
            note: fact.note.clone(),
        }
    }
}

impl From<Verification> for VerificationView {
    fn from(verification: Verification) -> Self {
        Self {
            user_id: verification.user_id,
            state: verification.state.as_str(),
            history: verification.history.iter().map(StepView::from).collect(),
        }
    }
}

#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// Links, stage name, anything staff should see (≤ 1000 characters).
    #[serde(default)]
    note: String,
}

/// # `POST /api/performers/verification`
/// Asks staff to verify the caller as a performer; asking again while waiting changes
/// nothing.
/// **Permissions**: any signed-in user but staff.
pub async fn apply(
    State(state): State<PerformerState>,
    caller: UserPrincipal,
    OptionalJson(body): OptionalJson<NoteBody>,
) -> Result<(StatusCode, Json<VerificationView>), ApiError> {
    let verification = state
        .performers()
        .apply(&caller.user_id, &body.note)
        .await?;
    Ok((StatusCode::CREATED, Json(verification.into())))
}

/// # `GET /api/performers/{id}/verification`
/// **Permissions**: the user themselves, moderators and admins.
pub async fn status(
    State(state): State<PerformerState>,
    caller: Caller,
    UserParam(id): UserParam,
) -> Result<Json<VerificationView>, ApiError> {
    authz::self_or_staff(&caller, &id)?;
    Ok(Json(state.performers().status(&id).await?.into()))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationsQuery {
    limit: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
pub struct ApplicationsView {
    applications: Vec<ApplicationView>,
}

#[derive(Serialize, JsonSchema)]
pub struct ApplicationView {
    user_id: String,
    applied_at: String,
    note: String,
}

/// # `GET /api/admin/performers/applications`
/// Applications waiting for a decision, oldest first.
/// **Permissions**: moderators and admins.
pub async fn applications(
    State(state): State<PerformerState>,
    _staff: Staff,
    ApiQuery(query): ApiQuery<ApplicationsQuery>,
) -> Result<Json<ApplicationsView>, ApiError> {
    let open = state
        .performers()
        .open_applications(query.limit.unwrap_or(50))
        .await?;
    Ok(Json(ApplicationsView {
        applications: open
            .iter()
            .map(|fact| ApplicationView {
                user_id: fact.user_id.clone(),
                applied_at: rfc3339(fact.created_at),
                note: fact.note.clone(),
            })
            .collect(),
    }))
}

/// # `POST /api/admin/performers/{id}/verification/approve`
/// Verifies the user (a viewer becomes a performer); approving again changes nothing.
/// **Permissions**: moderators and admins.
pub async fn approve(
    State(state): State<PerformerState>,
    staff: Staff,
    UserParam(id): UserParam,
    OptionalJson(body): OptionalJson<NoteBody>,
) -> Result<Json<VerificationView>, ApiError> {
    let verification = state.performers().approve(&staff, &id, &body.note).await?;
    Ok(Json(verification.into()))
}

/// # `POST /api/admin/performers/{id}/verification/reject`
/// Turns an open application down.
/// **Permissions**: moderators and admins.
pub async fn reject(
    State(state): State<PerformerState>,
    staff: Staff,
    UserParam(id): UserParam,
    OptionalJson(body): OptionalJson<NoteBody>,
) -> Result<Json<VerificationView>, ApiError> {
    let verification = state.performers().reject(&staff, &id, &body.note).await?;
    Ok(Json(verification.into()))
}

/// # `POST /api/admin/performers/{id}/verification/revoke`
/// Takes a verification back (`note` is the reason, required): the performer can no
/// longer create shows, and their next Jitsi token says `verified: "false"`.
/// **Permissions**: moderators and admins.
pub async fn revoke(
    State(state): State<PerformerState>,
    staff: Staff,
    UserParam(id): UserParam,
    OptionalJson(body): OptionalJson<NoteBody>,
) -> Result<Json<VerificationView>, ApiError> {
    let verification = state.performers().revoke(&staff, &id, &body.note).await?;
    Ok(Json(verification.into()))
}
