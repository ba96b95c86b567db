//! Rooms as viewers see them, and the token endpoint.

use axum::extract::State;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::clock::rfc3339;
use crate::domain::{Money, Room, RoomName};
use crate::http::error::{denial_error, ApiError};
use crate::http::extract::{OptionalJson, UserPrincipal};
use crate::http::params::RoomParam;
use crate::http::state::TokenState;
use crate::matrix::{ChatStatus, MatrixServiceError};
use crate::tokens::{RoomToken, TokenRefusal};

#[derive(Serialize, JsonSchema)]
pub struct RoomView {
    name: String,
    title: String,
    owner_id: String,
    access: &'static str,
    price: Option<PriceView>,
    plans: Vec<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    /// Seats for viewers; `null`: no limit.
    capacity: Option<u32>,
}

#[derive(Serialize, JsonSchema)]
pub struct PriceView {
    amount_minor: i64,
    currency: String,
}

impl From<&Money> for PriceView {
    fn from(price: &Money) -> Self {
        Self {
            amount_minor: price.amount_minor,
            currency: price.currency.clone(),
        }
    }
}

impl From<&Room> for RoomView {
    fn from(room: &Room) -> Self {
        Self {
            name: room.name.to_string(),
            title: room.title.clone(),
            owner_id: room.owner_id.clone(),
            access: room.access.as_str(),
            price: room.price.as_ref().map(PriceView::from),
            plans: room.plans.clone(),
            starts_at: room.starts_at.map(rfc3339),
            ends_at: room.ends_at.map(rfc3339),
            capacity: room.capacity,
        }
    }
}

/// The token request body: nothing yet, but unknown fields are refused rather than ignored.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {}

#[derive(Serialize, JsonSchema)]
pub struct TokenView {
    jwt: String,
    expires_at: String,
    room: String,
    /// The Jitsi room with the token in the fragment, which browsers never send to servers.
    join_url: String,
    moderator: bool,
    /// The room's chat, when Matrix is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    matrix: Option<ChatStatus>,
}

pub fn parse_room(room: &str) -> Result<RoomName, ApiError> {
    RoomName::parse(room).map_err(ApiError::invalid_room_name)
}

/// Where a refused caller can buy the room.
fn pay_url(state: &TokenState, room: &RoomName) -> String {
    format!("{}/api/rooms/{}/pay", state.public_url(), room)
}

impl TokenView {
    fn new(meet_url: &str, issued: RoomToken, matrix: Option<ChatStatus>) -> Self {
        let jwt = issued.token.jwt.to_string();
        Self {
            matrix,
            join_url: crate::tokens::join_url(meet_url, &issued.room.name, &jwt),
            jwt,
            expires_at: rfc3339(issued.token.expires_at),
            room: issued.room.name.to_string(),
            moderator: issued.token.moderator,
        }
    }
}

/// # `GET /api/rooms/{room}`
/// A room's public description: title, access rule, price, schedule.
/// **Permissions**: anyone.
pub async fn show(
    State(state): State<TokenState>,
    RoomParam(name): RoomParam,
) -> Result<Json<RoomView>, ApiError> {
    let room = state.access().room(&name).await?.ok_or_else(|| {
        ApiError::new(crate::http::error::ErrorCode::RoomNotFound, "no such room")
    })?;
    Ok(Json(RoomView::from(room.as_ref())))
}

/// # `POST /api/rooms/{room}/token`
/// A short-lived Jitsi JWT for the caller in this room, if they may enter.
/// Answers 402 with the price for a paid room without entitlement, 403 when banned, 409
/// `room_full` (with `capacity` and `retry_after`) to a viewer when every seat is taken.
/// **Permissions**: a session, or a service key naming the user; rate-limited per user.
#[tracing::instrument(level = "debug", skip_all, fields(room = %name))]
pub async fn issue_token(
    State(state): State<TokenState>,
    caller: UserPrincipal,
    RoomParam(name): RoomParam,
    OptionalJson(_request): OptionalJson<TokenRequest>,
) -> Result<Json<TokenView>, ApiError> {
    state
        .token_limit()
        .check(&caller.user_id)
        .map_err(ApiError::rate_limited)?;
    let issued = state
        .tokens()
        .issue(&caller.user_id, &name)
        .await
        .map_err(|refusal| refusal_error(&state, &name, refusal))?;
    let matrix = state.matrix().status(&caller.user_id, &issued.room).await?;
    Ok(Json(TokenView::new(state.meet_url(), issued, matrix)))
}

/// How the token endpoint answers a refusal.
fn refusal_error(state: &TokenState, room: &RoomName, refusal: TokenRefusal) -> ApiError {
    match refusal {
        TokenRefusal::Denied(denial) => denial_error(denial, pay_url(state, room)),
        TokenRefusal::Access(error) => error.into(),
        TokenRefusal::RoomFull {
            capacity,
            retry_after,
        } => ApiError::room_full(capacity, retry_after),
    }
}

/// # `POST /api/rooms/{room}/matrix-invite`
/// Queues the caller's invite to the room's Matrix chat again (for a lost or declined
/// invite); 202 with the alias. Refused like the token endpoint when the caller may not
/// enter; 404 when this deployment has no Matrix chat.
/// **Permissions**: a session, or a service key naming the user; rate-limited per user.
#[tracing::instrument(level = "debug", skip_all, fields(room = %name))]
pub async fn matrix_invite(
    State(state): State<TokenState>,
    caller: UserPrincipal,
    RoomParam(name): RoomParam,
) -> Result<(axum::http::StatusCode, Json<ChatStatus>), ApiError> {
    state
        .token_limit()
        .check(&caller.user_id)
        .map_err(ApiError::rate_limited)?;
    let status = state
        .matrix()
        .invite_again(&caller.user_id, &name)
        .await
        .map_err(|error| match error {
            MatrixServiceError::Denied(denial) => denial_error(denial, pay_url(&state, &name)),
            other => other.into(),
        })?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(status)))
}
