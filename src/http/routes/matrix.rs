//! The caller's Matrix account, and community chat rooms.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::authz::Admin;
use crate::domain::{CommunityRoom, CommunityRule};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, UserPrincipal};
use crate::http::state::ChatState;
use crate::matrix::{LinkedAccount, OpenIdProof};

/// The OpenID token as `POST /_matrix/client/v3/user/{userId}/openid/request_token`
/// returns it.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenIdBody {
    access_token: String,
    matrix_server_name: String,
    #[allow(
        dead_code,
        reason = "part of the token object clients pass on as they got it"
    )]
    token_type: Option<String>,
    #[allow(
        dead_code,
        reason = "part of the token object clients pass on as they got it"
    )]
    expires_in: Option<u64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    matrix_user_id: String,
    openid: OpenIdBody,
}

/// # `POST /api/me/matrix`
/// Links the caller's existing Matrix account, proven by an OpenID token from its
/// homeserver (the configured one). The chat follows: invites to the rooms the caller may
/// enter and to community rooms, and the account used before leaves roomkey's rooms.
/// 409 if another user has linked that Matrix id.
/// **Permissions**: a session, or a service key naming the user; rate-limited per user.
#[tracing::instrument(skip_all)]
pub async fn link(
    State(state): State<ChatState>,
    caller: UserPrincipal,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<Json<LinkedAccount>, ApiError> {
    state
        .token_limit()
        .check(&caller.user_id)
        .map_err(ApiError::rate_limited)?;
    let proof = OpenIdProof {
        access_token: body.openid.access_token,
        matrix_server_name: body.openid.matrix_server_name,
    };
    let linked = state
        .matrix()
        .link(&caller.user_id, &body.matrix_user_id, &proof)
        .await?;
    Ok(Json(linked))
}

/// # `DELETE /api/me/matrix`
/// Unlinks the caller's Matrix account: back to the account roomkey provisions.
/// **Permissions**: a session, or a service key naming the user.
#[tracing::instrument(skip_all)]
pub async fn unlink(
    State(state): State<ChatState>,
    caller: UserPrincipal,
) -> Result<Json<LinkedAccount>, ApiError> {
    Ok(Json(state.matrix().unlink(&caller.user_id).await?))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityBody {
    title: String,
    /// `signed_in`, `verified_performers` or `staff`.
    rule: String,
}

#[derive(Serialize, JsonSchema)]
pub struct CommunityView {
    name: String,
    title: String,
    rule: &'static str,
    alias: String,
}

impl CommunityView {
    fn new(room: CommunityRoom, alias: String) -> Self {
        Self {
            name: room.name,
            title: room.title,
            rule: room.rule.as_str(),
            alias,
        }
    }
}

/// # `PUT /api/admin/matrix/rooms/{name}`
/// Registers a community chat room `#<alias_prefix><name>:<server>` (or changes its title
/// and rule): created on the homeserver, or adopted if the alias exists, and kept to its
/// rule: everyone it admits is invited, anyone it no longer admits is removed, global bans
/// are Matrix bans. 202: the homeserver side follows through the outbox.
/// **Permissions**: admin.
#[tracing::instrument(skip_all, fields(name = %name))]
pub async fn put_community(
    State(state): State<ChatState>,
    _admin: Admin,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CommunityBody>,
) -> Result<(StatusCode, Json<CommunityView>), ApiError> {
    let rule = CommunityRule::parse(&body.rule).ok_or_else(|| {
        ApiError::validation(
            "rule",
            "rule must be signed_in, verified_performers or staff",
        )
    })?;
    let (room, alias) = state
        .matrix()
        .register_community(&name, &body.title, rule)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(CommunityView::new(room, alias))))
}
