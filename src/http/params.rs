//! Path parameters parsed into domain values by the extractor: a handler never holds an
//! unchecked room name or user id, and a malformed one is refused in the error envelope
//! before the handler runs.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorCode};
use crate::domain::{parse_user_id, RoomName, UserId, MAX_USER_ID_LEN};

/// A `{room}` path parameter, as the canonical Jitsi room name.
#[derive(Debug, Clone)]
pub struct RoomParam(pub RoomName);

/// A path parameter that names a user (a performer is a user too).
#[derive(Debug, Clone)]
pub struct UserParam(pub UserId);

/// The one path parameter, as text. axum's refusal (a segment that is not UTF-8) is
/// passed on as it is: the middleware puts it into the envelope like any other.
async fn raw_param<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<String, Response> {
    Path::<String>::from_request_parts(parts, state)
        .await
        .map(|Path(raw)| raw)
        .map_err(IntoResponse::into_response)
}

impl<S: Send + Sync> FromRequestParts<S> for RoomParam {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = raw_param(parts, state).await?;
        RoomName::parse(&raw)
            .map(RoomParam)
            .map_err(|error| ApiError::invalid_room_name(error).into_response())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for UserParam {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = raw_param(parts, state).await?;
        parse_user_id(&raw).map(UserParam).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "invalid user id: 1 to {MAX_USER_ID_LEN} bytes without spaces or control \
                     characters"
                ),
            )
            .with("field", "user_id")
            .into_response()
        })
    }
}
