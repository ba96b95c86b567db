//! Running rooms: kick someone, end the show, see who is and was there.
//!
//! **Permissions** for all three: the room's performer, moderators and admins (by session),
//! or the admin key. The proof is [`RoomModerator`], made only by [`require_room_moderator`].

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::admin::{time, BanView};
use super::rooms::parse_room;
use crate::attendance::Participants;
use crate::clock::rfc3339;
use crate::domain::Room;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Caller};
use crate::http::state::AppState;
use crate::moderation::{BanRequest, BanScopeRequest};

/// Someone who may moderate one room, and the room.
pub struct RoomModerator {
    pub actor: String,
    pub room: Arc<Room>,
    /// Platform staff (or the admin key), not only this room's performer.
    pub staff: bool,
}

/// The admin key; staff; or the performer who owns the room. Nobody else, whatever they paid.
pub(super) async fn require_room_moderator(
    state: &AppState,
    caller: &Caller,
    room: &str,
) -> Result<RoomModerator, ApiError> {
    let name = parse_room(room)?;
    let room = state.access.room(&name).await?.ok_or_else(|| {
        ApiError::new(crate::http::error::ErrorCode::RoomNotFound, "no such room")
    })?;
    let (actor, staff) = match caller {
        Caller::AdminKey => ("admin-key".to_owned(), true),
        Caller::User(principal) => {
            let user = principal.acting_user(state).await?;
            if !(user.role.is_staff() || user.id == room.owner_id) {
                return Err(ApiError::forbidden(
                    "only the room's performer, moderators and admins may do this",
                ));
            }
            (user.id.clone(), user.role.is_staff())
        }
    };
    Ok(RoomModerator { actor, room, staff })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KickBody {
    user_id: String,
    reason: String,
}

#[derive(Serialize)]
pub struct SentView {
    /// Prosody shards the command went to (delivery continues in the background).
    shards: usize,
}

/// # `POST /api/rooms/{room}/kick`
/// Removes a user from the running video room now. They may rejoin while entitled; ban
/// them to keep them out.
#[tracing::instrument(skip_all, fields(room = %room))]
pub async fn kick(
    State(state): State<AppState>,
    caller: Caller,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<KickBody>,
) -> Result<(StatusCode, Json<SentView>), ApiError> {
    let moderator = require_room_moderator(&state, &caller, &room).await?;
    tracing::info!(actor = %moderator.actor, user_id = %body.user_id, "kick");
    state
        .rooms
        .kick(
            &moderator.room.name,
            &body.user_id,
            &body.reason,
            &moderator.actor,
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SentView {
            shards: state.live.shard_count(),
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomBanBody {
    user_id: String,
    reason: String,
    /// RFC 3339; absent bans until lifted.
    until: Option<String>,
}

/// # `POST /api/rooms/{room}/ban`
/// Bans a user from this room: refused from now on whatever token they hold, and removed
/// from the running video room and its chat. A performer may not ban staff or
/// themselves; platform-wide bans are `POST /api/admin/bans`.
#[tracing::instrument(skip_all, fields(room = %room))]
pub async fn ban(
    State(state): State<AppState>,
    caller: Caller,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<RoomBanBody>,
) -> Result<(StatusCode, Json<BanView>), ApiError> {
    let moderator = require_room_moderator(&state, &caller, &room).await?;
    let until = time("until", body.until.as_deref())?;
    let ban = ban_from_room(&state, moderator, body.user_id, body.reason, until).await?;
    Ok((StatusCode::CREATED, Json(BanView::from(&ban))))
}

/// Bans `user_id` from the moderator's room. A performer may not ban staff or themselves.
pub(super) async fn ban_from_room(
    state: &AppState,
    moderator: RoomModerator,
    user_id: String,
    reason: String,
    until: Option<crate::clock::UnixSeconds>,
) -> Result<crate::domain::Ban, ApiError> {
    if !moderator.staff {
        let target = state.access.user(&user_id).await?;
        if target.is_some_and(|t| t.role.is_staff() || t.id == moderator.room.owner_id) {
            return Err(ApiError::forbidden(
                "a performer may not ban staff or themselves from their room",
            ));
        }
    }
    tracing::info!(actor = %moderator.actor, user_id = %user_id, "room ban");
    Ok(state
        .bans
        .ban(BanRequest {
            user_id,
            scope: BanScopeRequest::Room(moderator.room.name.clone()),
            reason,
            until,
            banned_by: Some(moderator.actor),
        })
        .await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    reason: String,
}

#[derive(Serialize)]
pub struct EndedView {
    room: String,
    ends_at: Option<String>,
    shards: usize,
}

/// # `POST /api/rooms/{room}/end`
/// Ends the show: new joins are refused and the video room is closed on every shard.
pub async fn end(
    State(state): State<AppState>,
    caller: Caller,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<EndBody>,
) -> Result<Json<EndedView>, ApiError> {
    let moderator = require_room_moderator(&state, &caller, &room).await?;
    tracing::info!(actor = %moderator.actor, room = %moderator.room.name, "ending the show");
    let room = state
        .rooms
        .end(&moderator.room.name, &body.reason, &moderator.actor)
        .await?;
    Ok(Json(EndedView {
        room: room.name.to_string(),
        ends_at: room.ends_at.map(rfc3339),
        shards: state.live.shard_count(),
    }))
}

#[derive(Serialize)]
pub struct ParticipantsView {
    room: String,
    /// Everyone in the room now.
    present: Vec<PersonView>,
    /// Everyone who has been in the room, with their total time.
    people: Vec<PersonView>,
    /// Every stay, oldest first; a reconnect is a new stay.
    segments: Vec<SegmentView>,
}

#[derive(Serialize, Clone)]
pub struct PersonView {
    user_id: String,
    handle: String,
    display_name: String,
    present: bool,
    first_joined_at: String,
    segments: u32,
    duration_secs: i64,
}

#[derive(Serialize)]
pub struct SegmentView {
    user_id: String,
    handle: String,
    joined_at: String,
    left_at: Option<String>,
    duration_secs: i64,
}

impl From<Participants> for ParticipantsView {
    fn from(participants: Participants) -> Self {
        let people: Vec<PersonView> = participants
            .people
            .iter()
            .map(|p| PersonView {
                user_id: p.user_id.clone(),
                handle: p.handle.clone(),
                display_name: p.display_name.clone(),
                present: p.present,
                first_joined_at: rfc3339(p.first_joined_at),
                segments: p.segments,
                duration_secs: p.seconds,
            })
            .collect();
        Self {
            room: String::new(),
            present: people.iter().filter(|p| p.present).cloned().collect(),
            people,
            segments: participants
                .segments
                .iter()
                .map(|s| SegmentView {
                    user_id: s.user_id.clone(),
                    handle: s.handle.clone(),
                    joined_at: rfc3339(s.joined_at),
                    left_at: s.left_at.map(rfc3339),
                    duration_secs: (s.left_at.unwrap_or(participants.now) - s.joined_at).max(0),
                })
                .collect(),
        }
    }
}

/// # `GET /api/rooms/{room}/participants`
/// Who is in the room now and who was there, with durations.
pub async fn participants(
    State(state): State<AppState>,
    caller: Caller,
    Path(room): Path<String>,
) -> Result<Json<ParticipantsView>, ApiError> {
    let moderator = require_room_moderator(&state, &caller, &room).await?;
    let participants = state.attendance.participants(&moderator.room).await?;
    Ok(Json(ParticipantsView {
        room: moderator.room.name.to_string(),
        ..participants.into()
    }))
}
