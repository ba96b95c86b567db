//! The moderation audit trail, for the people who moderate.

use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Serialize;

use super::rooms::parse_room;
use crate::clock::rfc3339;
use crate::domain::{AuditEntry, ModerationAction};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::{parse_urlencoded, Caller};
use crate::http::state::AppState;
use crate::moderation::audit::MAX_PAGE;
use crate::store::AuditQuery;

#[derive(Serialize)]
pub struct AuditView {
    entries: Vec<AuditEntryView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    next_before: Option<String>,
}

#[derive(Serialize)]
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

/// # `GET /api/moderation/audit`
/// Who did what to whom, where and why, newest first. Filters: `user_id`, `room`, `actor`,
/// `action`; paging: `limit` (1–200, default 50) and `before` (the previous page's
/// `next_before`).
/// **Permissions**: moderators and admins see everything; a performer sees their own
/// rooms' entries by asking with `room`.
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditView>, ApiError> {
    let params = parse_urlencoded(query.as_deref().unwrap_or(""))?;
    if let Some(unknown) = params
        .keys()
        .find(|k| !["user_id", "room", "actor", "action", "before", "limit"].contains(&k.as_str()))
    {
        return Err(ApiError::validation(
            unknown,
            format!("unknown filter {unknown}"),
        ));
    }
    let room = params.get("room").map(|r| parse_room(r)).transpose()?;
    let action = params
        .get("action")
        .map(|a| {
            ModerationAction::parse(a).ok_or_else(|| {
                ApiError::validation(
                    "action",
                    "action must be ban, unban, kick, end_room, grant, revoke or set_role",
                )
            })
        })
        .transpose()?;
    let limit = match params.get("limit") {
        None => 50,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::validation("limit", format!("limit must be 1 to {MAX_PAGE}"))
            })?,
    };
    require_moderator_of(&state, &caller, room.as_ref()).await?;
    let entries = state
        .audit
        .list(&AuditQuery {
            user_id: params.get("user_id").cloned(),
            room: room.map(|r| r.as_str().to_owned()),
            actor: params.get("actor").cloned(),
            action,
            before: params.get("before").cloned(),
            limit,
        })
        .await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id.clone()))
        .flatten();
    Ok(Json(AuditView {
        entries: entries.into_iter().map(Into::into).collect(),
        next_before,
    }))
}

/// Staff and the admin key read all of it; a performer only their own room's.
async fn require_moderator_of(
    state: &AppState,
    caller: &Caller,
    room: Option<&crate::domain::RoomName>,
) -> Result<(), ApiError> {
    let Caller::User(principal) = caller else {
        return Ok(());
    };
    let user = state
        .access
        .user(&principal.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("the session's user no longer exists"))?;
    if user.role.is_staff() {
        return Ok(());
    }
    let owns = match room {
        Some(name) => {
            state
                .access
                .room(name)
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::RoomNotFound, "no such room"))?
                .owner_id
                == user.id
        }
        None => false,
    };
    if owns {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only moderators and admins, or a room's performer for that room, may read the audit trail",
        ))
    }
}
