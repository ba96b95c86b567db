//! Rooms as viewers see them, and the token endpoint.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
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
use crate::tokens::{JoinUrl, RoomToken, TokenRefusal};

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

// Written straight from the issued token: the JWT, the room name and the join URL are
// serialised in place, not copied into strings of their own first.
#[derive(Serialize, JsonSchema)]
pub struct TokenView<'a> {
    jwt: &'a str,
    expires_at: String,
    room: &'a str,
    /// The Jitsi room with the token in the fragment, which browsers never send to servers.
    #[serde(serialize_with = "display")]
    #[schemars(with = "String")]
    join_url: JoinUrl<'a>,
    moderator: bool,
    /// The room's chat, when Matrix is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    matrix: Option<ChatStatus>,
}

fn display<S: serde::Serializer>(
    value: &impl std::fmt::Display,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

pub fn parse_room(room: &str) -> Result<RoomName, ApiError> {
    RoomName::parse(room).map_err(ApiError::invalid_room_name)
}

/// Where a refused caller can buy the room.
fn pay_url(state: &TokenState, room: &RoomName) -> String {
    format!("{}/api/rooms/{}/pay", state.public_url(), room)
}

impl<'a> TokenView<'a> {
    pub fn new(meet_url: &'a str, issued: &'a RoomToken, matrix: Option<ChatStatus>) -> Self {
        let jwt = &*issued.token.jwt;
        Self {
            matrix,
            join_url: JoinUrl {
                meet_url,
                room: &issued.room.name,
                jwt,
            },
            jwt,
            expires_at: rfc3339(issued.token.expires_at),
            room: issued.room.name.as_str(),
            moderator: issued.token.moderator,
        }
    }

    /// The JSON answer, in a buffer sized for it up front: the JWT appears twice, and a
    /// buffer grown from axum's default 128 bytes would be copied three times on the way.
    pub fn answer(&self) -> Response {
        let room = self.room.len();
        json_answer(
            self,
            2 * self.jwt.len() + 2 * room + self.join_url.meet_url.len() + 160,
        )
    }
}

/// `value` as an `application/json` answer, serialised into `capacity` bytes to start with.
pub fn json_answer(value: &impl Serialize, capacity: usize) -> Response {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response(),
        Err(error) => ApiError::internal(error).into_response(),
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
) -> Result<Response, ApiError> {
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
    Ok(TokenView::new(state.meet_url(), &issued, matrix).answer())
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
