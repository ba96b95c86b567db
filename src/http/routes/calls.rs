//! Private calls paid by the minute: a performer's price, a viewer's request, the
//! performer's answer, the running call and its end (`docs/calls.md`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::authz::Caller;
use crate::calls::CallSummary;
use crate::clock::rfc3339;
use crate::domain::CallTerms;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, UserPrincipal};
use crate::http::params::UserParam;
use crate::http::state::CallApiState;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CallTermsBody")]
pub struct TermsBody {
    /// The price of one minute, in the currency's minor units.
    price_minor: i64,
    /// ISO 4217, e.g. `COP`.
    currency: String,
}

#[derive(Serialize, JsonSchema)]
pub struct TermsView {
    performer_id: String,
    price_minor: i64,
    currency: String,
    updated_at: String,
}

impl From<CallTerms> for TermsView {
    fn from(terms: CallTerms) -> Self {
        Self {
            performer_id: terms.performer_id,
            price_minor: terms.price_minor,
            currency: terms.currency,
            updated_at: rfc3339(terms.updated_at),
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    /// The performer asked for a call.
    performer_id: String,
}

#[derive(Serialize, JsonSchema)]
pub struct CallView {
    id: String,
    /// `requested`, `accepted`, `declined` or `ended`.
    state: &'static str,
    viewer_id: String,
    performer_id: String,
    /// The private room's name, once accepted.
    room: Option<String>,
    price_minor: i64,
    currency: String,
    requested_at: String,
    accepted_at: Option<String>,
    ended_at: Option<String>,
    end_reason: Option<String>,
    running_seconds: i64,
    minutes_charged: i64,
    /// The performer's share of the charged minutes.
    earnings_minor: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    viewer_credit_minutes: Option<i64>,
}

impl From<CallSummary> for CallView {
    fn from(summary: CallSummary) -> Self {
        let call = summary.call;
        Self {
            id: call.id,
            state: call.state.as_str(),
            viewer_id: call.viewer_id,
            performer_id: call.performer_id,
            room: summary.room,
            price_minor: call.price_minor,
            currency: call.currency,
            requested_at: rfc3339(call.requested_at),
            accepted_at: call.accepted_at.map(rfc3339),
            ended_at: call.ended_at.map(rfc3339),
            end_reason: call.end_reason,
            running_seconds: summary.running_seconds,
            minutes_charged: summary.totals.minutes,
            earnings_minor: summary.totals.performer_minor,
            viewer_credit_minutes: summary.viewer_credit_minutes,
        }
    }
}

/// # `PUT /api/performers/{id}/call-terms`
/// Sets the performer's price per minute of a private call; calls asked for from now on
/// pay it (a call under way keeps the price it was asked at).
/// **Permissions**: the performer themself; rate-limited per user.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_terms(
    State(state): State<CallApiState>,
    caller: Caller,
    UserParam(id): UserParam,
    ApiJson(body): ApiJson<TermsBody>,
) -> Result<Json<TermsView>, ApiError> {
    state
        .token_limit()
        .check(&id)
        .map_err(ApiError::rate_limited)?;
    let terms = state
        .calls()
        .set_terms(&caller, &id, body.price_minor, &body.currency)
        .await?;
    Ok(Json(terms.into()))
}

/// # `POST /api/calls`
/// Asks a performer for a private call at their current price. Refused when the
/// performer has no price, the caller has no call credit, or names themself.
/// **Permissions**: any signed-in user; rate-limited per user.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn request(
    State(state): State<CallApiState>,
    caller: UserPrincipal,
    ApiJson(body): ApiJson<RequestBody>,
) -> Result<(StatusCode, Json<CallView>), ApiError> {
    state
        .token_limit()
        .check(&caller.user_id)
        .map_err(ApiError::rate_limited)?;
    let call = state
        .calls()
        .request(&caller.user_id, &body.performer_id)
        .await?;
    Ok((StatusCode::CREATED, Json(call.into())))
}

/// # `POST /api/calls/{id}/accept`
/// Opens the private room for the viewer and the performer (staff may enter too).
/// **Permissions**: the call's performer; rate-limited per user.
#[tracing::instrument(level = "debug", skip_all, fields(call = %id))]
pub async fn accept(
    State(state): State<CallApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CallView>, ApiError> {
    limit(&state, &caller)?;
    Ok(Json(state.calls().accept(&caller, &id).await?.into()))
}

/// # `POST /api/calls/{id}/decline`
/// Turns a waiting call down.
/// **Permissions**: the call's performer; rate-limited per user.
#[tracing::instrument(level = "debug", skip_all, fields(call = %id))]
pub async fn decline(
    State(state): State<CallApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CallView>, ApiError> {
    limit(&state, &caller)?;
    Ok(Json(state.calls().decline(&caller, &id).await?.into()))
}

/// # `POST /api/calls/{id}/end`
/// Ends the call and closes its room; minutes already charged stay charged, credit not
/// used stays on the viewer's balance. Staff ending a call is audited.
/// **Permissions**: the call's viewer or performer, moderators and admins; rate-limited
/// per user.
#[tracing::instrument(level = "debug", skip_all, fields(call = %id))]
pub async fn end(
    State(state): State<CallApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CallView>, ApiError> {
    limit(&state, &caller)?;
    Ok(Json(state.calls().end(&caller, &id).await?.into()))
}

/// # `GET /api/calls/{id}`
/// The call: its state, running time, minutes charged and the performer's earnings;
/// the viewer and staff also see the viewer's credit left.
/// **Permissions**: the call's viewer or performer, moderators and admins; rate-limited
/// per user.
#[tracing::instrument(level = "debug", skip_all, fields(call = %id))]
pub async fn show(
    State(state): State<CallApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CallView>, ApiError> {
    limit(&state, &caller)?;
    Ok(Json(state.calls().view(&caller, &id).await?.into()))
}

/// The per-user request limit the token path uses; the admin key counts as one user.
fn limit(state: &CallApiState, caller: &Caller) -> Result<(), ApiError> {
    let key = match caller {
        Caller::User { user, .. } => user.id.as_str(),
        Caller::AdminKey => "admin-key",
    };
    state
        .token_limit()
        .check(key)
        .map_err(ApiError::rate_limited)
}
