//! Bans for everyone who moderates (`/api/moderation/ban`, `/unban`) and the audit trail.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::admin::{time, BanScopeBody, BanView};
use super::rooms::parse_room;
use crate::authz::{self, Caller, Staff};
use crate::clock::{rfc3339, UnixSeconds};
use crate::domain::{AuditEntry, ModerationAction, RoomName};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::state::ModerationState;
use crate::moderation::audit::MAX_PAGE;
use crate::moderation::BanRequest;
use crate::store::AuditQuery;

#[derive(Serialize, JsonSchema)]
pub struct AuditView {
    entries: Vec<AuditEntryView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    next_before: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct AuditEntryView {
    id: String,
    at: String,
    actor: String,
    action: &'static str,
    user_id: Option<String>,
    room: Option<String>,
    reason: Option<String>,
    details: serde_json::Value,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(entry: AuditEntry) -> Self {
        Self {
            id: entry.id,
            at: rfc3339(entry.at),
            actor: entry.actor,
            action: entry.action.as_str(),
            user_id: entry.user_id,
            room: entry.room,
            reason: entry.reason,
            details: entry.details,
        }
    }
}

/// The audit trail's filters and paging, as the query string gives them.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    user_id: Option<String>,
    room: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    before: Option<String>,
    limit: Option<i64>,
}

impl AuditParams {
    /// The room asked about (it decides who may read) and the store query.
    fn validate(self) -> Result<(Option<RoomName>, AuditQuery), ApiError> {
        let room = self.room.as_deref().map(parse_room).transpose()?;
        let action = self
            .action
            .map(|a| {
                ModerationAction::parse(&a).ok_or_else(|| {
                    ApiError::validation(
                        "action",
                        "action must be ban, unban, kick, end_room, grant, revoke, set_role, \
                         verify_performer, unverify_performer or end_sessions",
                    )
                })
            })
            .transpose()?;
        let limit = self.limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::validation(
                "limit",
                format!("limit must be 1 to {MAX_PAGE}"),
            ));
        }
        let query = AuditQuery {
            user_id: self.user_id,
            room: room.as_ref().map(|r| r.as_str().to_owned()),
            actor: self.actor,
            action,
            before: self.before,
            limit,
        };
        Ok((room, query))
    }
}

/// # `GET /api/moderation/audit`
/// Who did what to whom, where and why, newest first. Filters: `user_id`, `room`, `actor`,
/// `action`; paging: `limit` (1–200, default 50) and `before` (the previous page's
/// `next_before`).
/// **Permissions**: moderators and admins see everything; a performer sees their own
/// rooms' entries by asking with `room`.
pub async fn audit(
    State(state): State<ModerationState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditView>, ApiError> {
    let (room, query) = params.validate()?;
    let limit = query.limit;
    let reader = authz::audit_reader(state.access(), &caller, room.as_ref()).await?;
    let entries = state.audit().list(&reader, query).await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id.clone()))
        .flatten();
    Ok(Json(AuditView {
        entries: entries.into_iter().map(Into::into).collect(),
        next_before,
    }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerationBanBody {
    #[schemars(length(min = 1, max = 64), regex(pattern = crate::domain::USER_ID_PATTERN))]
    user_id: String,
    scope: BanScopeBody,
    reason: String,
    /// RFC 3339; or give `duration_secs`; neither bans until lifted.
    until: Option<String>,
    duration_secs: Option<i64>,
}

/// Longest timed ban: ten years (longer is "until lifted").
const MAX_BAN_SECS: i64 = 10 * 365 * 86_400;

impl ModerationBanBody {
    /// When the ban ends: the time given, `now` plus the duration given, or never.
    fn ends_at(&self, now: UnixSeconds) -> Result<Option<UnixSeconds>, ApiError> {
        match (self.until.as_deref(), self.duration_secs) {
            (Some(_), Some(_)) => Err(ApiError::validation(
                "duration_secs",
                "give until or duration_secs, not both",
            )),
            (Some(until), None) => time("until", Some(until)),
            (None, Some(secs)) if (1..=MAX_BAN_SECS).contains(&secs) => Ok(Some(now + secs)),
            (None, Some(_)) => Err(ApiError::validation(
                "duration_secs",
                "duration_secs must be 1 second to 10 years",
            )),
            (None, None) => Ok(None),
        }
    }
}

/// # `POST /api/moderation/ban`
/// Bans a user globally, from one room, or from one performer's rooms, for a duration or
/// until lifted. The ban reaches the running video rooms, the chat rooms and (for a
/// global ban, when configured) the user's Mastodon account.
/// **Permissions**: moderators and admins for any scope; a performer for their own rooms
/// (`room`) or all of them (`performer` with their own id), never against staff.
#[tracing::instrument(skip_all)]
pub async fn ban(
    State(state): State<ModerationState>,
    caller: Caller,
    ApiJson(body): ApiJson<ModerationBanBody>,
) -> Result<(StatusCode, Json<BanView>), ApiError> {
    let until = body.ends_at(state.clock().now())?;
    let scope = body.scope.into_scope()?;
    let warrant = authz::ban_warrant(state.access(), &caller, &body.user_id, scope).await?;
    let request = BanRequest {
        user_id: body.user_id,
        reason: body.reason,
        until,
    };
    let ban = state.bans().ban(&warrant, request).await?;
    Ok((StatusCode::CREATED, Json(BanView::from(&ban))))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnbanBody {
    ban_id: String,
    reason: String,
}

/// # `POST /api/moderation/unban`
/// Lifts a ban and undoes what it did (chat ban, Mastodon limit); repeating it changes
/// nothing.
/// **Permissions**: moderators and admins.
pub async fn unban(
    State(state): State<ModerationState>,
    staff: Staff,
    ApiJson(body): ApiJson<UnbanBody>,
) -> Result<Json<BanView>, ApiError> {
    let ban = state.bans().lift(&staff, &body.ban_id, body.reason).await?;
    Ok(Json(BanView::from(&ban)))
}
