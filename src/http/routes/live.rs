//! Running rooms: kick someone, end the show, see who is and was there.
//!
//! **Permissions** for all three: the room's performer, moderators and admins (by session),
//! or the admin key: [`authz::room_moderator`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::admin::{time, BanView};
use crate::access::AccessService;
use crate::attendance::Participants;
use crate::authz::{self, Caller, RoomModerator};
use crate::clock::rfc3339;
use crate::domain::RoomName;
use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::params::RoomParam;
use crate::http::state::ModerationState;
use crate::moderation::BanRequest;

/// The caller as the moderator of `room`: its performer, staff, or the admin key.
pub(super) async fn moderator(
    access: &AccessService,
    caller: &Caller,
    room: &RoomName,
) -> Result<RoomModerator, ApiError> {
    Ok(authz::room_moderator(access, caller, room).await?)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KickBody {
    user_id: String,
    reason: String,
}

#[derive(Serialize, JsonSchema)]
pub struct SentView {
    /// Prosody shards the command went to (delivery continues in the background).
    shards: usize,
}

/// # `POST /api/rooms/{room}/kick`
/// Removes a user from the running video room now. They may rejoin while entitled; ban
/// them to keep them out.
#[tracing::instrument(skip_all, fields(room = %room))]
pub async fn kick(
    State(state): State<ModerationState>,
    caller: Caller,
    RoomParam(room): RoomParam,
    ApiJson(body): ApiJson<KickBody>,
) -> Result<(StatusCode, Json<SentView>), ApiError> {
    let moderator = moderator(state.access(), &caller, &room).await?;
    state
        .rooms()
        .kick(&moderator, &body.user_id, &body.reason)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SentView {
            shards: state.live().shard_count(),
        }),
    ))
}

#[derive(Deserialize, JsonSchema)]
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
    State(state): State<ModerationState>,
    caller: Caller,
    RoomParam(room): RoomParam,
    ApiJson(body): ApiJson<RoomBanBody>,
) -> Result<(StatusCode, Json<BanView>), ApiError> {
    let until = time("until", body.until.as_deref())?;
    let scope = authz::BanScope::Room(room);
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
pub struct EndBody {
    reason: String,
}

#[derive(Serialize, JsonSchema)]
pub struct EndedView {
    room: String,
    ends_at: Option<String>,
    shards: usize,
}

/// # `POST /api/rooms/{room}/end`
/// Ends the show: new joins are refused and the video room is closed on every shard.
pub async fn end(
    State(state): State<ModerationState>,
    caller: Caller,
    RoomParam(room): RoomParam,
    ApiJson(body): ApiJson<EndBody>,
) -> Result<Json<EndedView>, ApiError> {
    let moderator = moderator(state.access(), &caller, &room).await?;
    let room = state.rooms().end(&moderator, &body.reason).await?;
    Ok(Json(EndedView {
        room: room.name.to_string(),
        ends_at: room.ends_at.map(rfc3339),
        shards: state.live().shard_count(),
    }))
}

#[derive(Serialize, JsonSchema)]
pub struct ParticipantsView {
    room: String,
    /// Everyone in the room now.
    present: Vec<PersonView>,
    /// Everyone who has been in the room, with their total time.
    people: Vec<PersonView>,
    /// Every stay, oldest first; a reconnect is a new stay.
    segments: Vec<SegmentView>,
}

#[derive(Serialize, Clone, JsonSchema)]
pub struct PersonView {
    user_id: String,
    handle: String,
    display_name: String,
    present: bool,
    first_joined_at: String,
    segments: u32,
    duration_secs: i64,
}

#[derive(Serialize, JsonSchema)]
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
    State(state): State<ModerationState>,
    caller: Caller,
    RoomParam(room): RoomParam,
) -> Result<Json<ParticipantsView>, ApiError> {
    let moderator = moderator(state.access(), &caller, &room).await?;
    let participants = state.attendance().participants(moderator.room()).await?;
    Ok(Json(ParticipantsView {
        room: moderator.room().name.to_string(),
        ..participants.into()
    }))
}
