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
        let mut body = Vec::with_capacity(
            2 * self.jwt.len() + 2 * self.room.len() + self.join_url.meet_url.len() + 160,
        );
        if self.write_json(&mut body).is_err() {
            body.clear();
            if let Err(error) = serde_json::to_writer(&mut body, self) {
                return ApiError::internal(error).into_response();
            }
        }
        (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response()
    }

    /// Writes what the derived serialisation writes (a test pins the two together), but
    /// copies the JWT, twice its answer's largest part, instead of scanning it byte by byte
    /// for characters to escape: base64url and dots never need escaping in JSON. The other
    /// strings are short and go through serde_json; a meet URL or room name that would need
    /// escaping inside the join URL makes this refuse, and the derived path answers instead.
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), NeedsEscaping> {
        let JoinUrl {
            meet_url,
            room: join_room,
            jwt: _,
        } = &self.join_url;
        let join_room = join_room.as_str();
        // The signer writes base64url segments joined by dots (`Signer::assemble`).
        debug_assert!(is_jwt_text(self.jwt), "not a compact JWS: {:?}", self.jwt);
        if !is_plain_json_text(meet_url) || !is_plain_json_text(join_room) {
            return Err(NeedsEscaping);
        }
        let string = |out: &mut Vec<u8>, text: &str| {
            serde_json::to_writer(&mut *out, text).map_err(|_| NeedsEscaping)
        };
        out.extend_from_slice(b"{\"jwt\":\"");
        out.extend_from_slice(self.jwt.as_bytes());
        out.extend_from_slice(b"\",\"expires_at\":");
        string(out, &self.expires_at)?;
        out.extend_from_slice(b",\"room\":");
        string(out, self.room)?;
        out.extend_from_slice(b",\"join_url\":\"");
        for part in [*meet_url, "/", join_room, "#jwt=%22", self.jwt, "%22"] {
            out.extend_from_slice(part.as_bytes());
        }
        out.extend_from_slice(b"\",\"moderator\":");
        out.extend_from_slice(if self.moderator { b"true" } else { b"false" });
        if let Some(matrix) = &self.matrix {
            out.extend_from_slice(b",\"matrix\":");
            serde_json::to_writer(&mut *out, matrix).map_err(|_| NeedsEscaping)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// A string the hand-written answer cannot copy as it is.
struct NeedsEscaping;

/// The alphabet of a compact JWS: base64url segments joined by dots.
fn is_jwt_text(jwt: &str) -> bool {
    jwt.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Text JSON takes between quotes unchanged: no quote, backslash or control character.
fn is_plain_json_text(text: &str) -> bool {
    text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
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
        .issue(&caller.user_id, &name, caller.facts_read.as_ref())
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

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoic2hvdyJ9.c2lnbmF0dXJlLV8";

    fn view<'a>(
        meet_url: &'a str,
        room: &'a RoomName,
        moderator: bool,
        matrix: Option<ChatStatus>,
    ) -> TokenView<'a> {
        TokenView {
            jwt: JWT,
            expires_at: "2026-12-06T08:00:00Z".into(),
            room: room.as_str(),
            join_url: JoinUrl {
                meet_url,
                room,
                jwt: JWT,
            },
            moderator,
            matrix,
        }
    }

    fn written(view: &TokenView<'_>) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        view.write_json(&mut out).ok().map(|()| out)
    }

    #[test]
    fn the_hand_written_token_answer_is_the_derived_serialisation() {
        let room = RoomName::parse("late-show").unwrap();
        let chat = ChatStatus {
            alias: "#late-show:\"matrix\".example".into(),
            invited: true,
        };
        for (moderator, matrix) in [(false, None), (true, Some(chat))] {
            let view = view("https://meet.example.com", &room, moderator, matrix);
            let written = written(&view).expect("plain text needs no fallback");
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(&view).unwrap()
            );
        }
    }

    #[test]
    fn a_meet_url_that_json_must_escape_takes_the_derived_path() {
        let room = RoomName::parse("late-show").unwrap();
        let view = view("https://meet.example.com/\"x\"", &room, false, None);
        assert!(written(&view).is_none());
        let answer: serde_json::Value = serde_json::to_value(&view).unwrap();
        assert_eq!(
            answer["join_url"],
            "https://meet.example.com/\"x\"/late-show#jwt=%22".to_owned() + JWT + "%22"
        );
    }

    #[test]
    fn issued_jwts_are_in_the_alphabet_copied_without_escaping() {
        let signer = crate::tokens::jwt::Signer::hs256(&[7; 32], Some("k\"1".into()));
        let jwt = signer.sign(&serde_json::json!({"name": "Ada \"\\ \u{1F600}"}));
        assert!(is_jwt_text(&jwt), "{jwt}");
    }
}
