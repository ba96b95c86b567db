//! The endpoints `mod_roomkey` calls from each Prosody shard (`prosody-plugins/PROTOCOL.md`).
//! Both are authenticated by the request signature, not by a user.

use axum::extract::State;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::attendance::AttendanceEvent;
use crate::http::error::ApiError;
use crate::http::extract::{Signed, SignedPayload};
use crate::http::state::LiveState;
use crate::live::verdict::{self, OccupantCheck, OccupantVerdict};
use crate::live::RequestKind;
use crate::telemetry::metrics::ProsodyVerdict;

/// Largest batch either endpoint takes.
const MAX_BATCH: usize = 500;

/// Largest body either endpoint reads: a full batch with long ids and nicks fits easily.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Deserialize, JsonSchema)]
pub struct VerdictsBody {
    shard: String,
    checks: Vec<CheckBody>,
}

#[derive(Deserialize, JsonSchema)]
pub struct CheckBody {
    user_id: String,
    room: String,
    /// The token id when the identity came from a Jitsi token; logged, not needed to judge.
    #[serde(default)]
    jti: Option<String>,
}

impl SignedPayload for VerdictsBody {
    const KIND: RequestKind = RequestKind::Verdicts;
}

impl From<CheckBody> for OccupantCheck {
    fn from(check: CheckBody) -> Self {
        tracing::debug!(user_id = %check.user_id, room = %check.room, jti = ?check.jti, "verdict asked");
        OccupantCheck {
            user_id: check.user_id,
            room: check.room,
        }
    }
}

fn verdict_label(verdict: &OccupantVerdict) -> ProsodyVerdict {
    if verdict.allow {
        ProsodyVerdict::Allow
    } else {
        ProsodyVerdict::Deny
    }
}

#[derive(Serialize, JsonSchema)]
pub struct VerdictsView {
    verdicts: Vec<OccupantVerdict>,
}

/// # `POST /api/prosody/verdicts`
/// May these users be in these rooms now, as what, and until when.
/// **Permissions**: a Prosody shard (signed request).
#[tracing::instrument(skip_all, fields(shard = %body.shard, checks = body.checks.len()))]
pub async fn verdicts(
    State(state): State<LiveState>,
    Signed(body): Signed<VerdictsBody>,
) -> Result<Json<VerdictsView>, ApiError> {
    check_batch("checks", body.checks.len())?;
    check_shard(&body.shard)?;
    let checks: Vec<OccupantCheck> = body.checks.into_iter().map(Into::into).collect();
    let verdicts = verdict::judge_all(state.access(), checks).await?;
    for verdict in &verdicts {
        state.metrics().prosody_verdict(verdict_label(verdict));
    }
    Ok(Json(VerdictsView { verdicts }))
}

#[derive(Deserialize, JsonSchema)]
pub struct EventsBody {
    shard: String,
    events: Vec<EventBody>,
}

impl SignedPayload for EventsBody {
    const KIND: RequestKind = RequestKind::Events;
}

#[derive(Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    Joined {
        room: String,
        user_id: String,
        occupant: String,
        #[serde(default)]
        nick: Option<String>,
        at: f64,
    },
    Left {
        occupant: String,
        at: f64,
    },
    RoomDestroyed {
        room: String,
        at: f64,
    },
}

impl From<EventBody> for AttendanceEvent {
    fn from(event: EventBody) -> Self {
        match event {
            EventBody::Joined {
                room,
                user_id,
                occupant,
                nick,
                at,
            } => AttendanceEvent::Joined {
                room,
                user_id,
                occupant,
                nick: nick.map(|n| n.chars().take(200).collect()),
                at,
            },
            EventBody::Left { occupant, at } => AttendanceEvent::Left { occupant, at },
            EventBody::RoomDestroyed { room, at } => AttendanceEvent::RoomDestroyed { room, at },
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct RecordedView {
    recorded: u64,
    ignored: u64,
}

/// # `POST /api/prosody/events`
/// Attendance: joins, leaves and destroyed rooms, applied idempotently.
/// **Permissions**: a Prosody shard (signed request).
#[tracing::instrument(skip_all, fields(shard = %body.shard, events = body.events.len()))]
pub async fn events(
    State(state): State<LiveState>,
    Signed(body): Signed<EventsBody>,
) -> Result<Json<RecordedView>, ApiError> {
    check_batch("events", body.events.len())?;
    check_shard(&body.shard)?;
    let events: Vec<AttendanceEvent> = body.events.into_iter().map(Into::into).collect();
    let tally = state.attendance().record(&body.shard, &events).await?;
    Ok(Json(RecordedView {
        recorded: tally.recorded,
        ignored: tally.ignored,
    }))
}

fn check_batch(field: &str, len: usize) -> Result<(), ApiError> {
    if len == 0 || len > MAX_BATCH {
        return Err(ApiError::validation(
            field,
            format!("send 1 to {MAX_BATCH} entries"),
        ));
    }
    Ok(())
}

fn check_shard(shard: &str) -> Result<(), ApiError> {
    if shard.is_empty() || shard.len() > 200 {
        return Err(ApiError::validation(
            "shard",
            "shard must be 1 to 200 bytes",
        ));
    }
    Ok(())
}
