//! Shows (`/api/events`): create, list, show, reschedule or reprice, end; and the paths the
//! platform's clients already call (`/api/events/create`, `/api/events/{id}/pay`,
//! `/api/events/{id}/participants`), which act on the show's room.

use schemars::JsonSchema;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::admin::{access, nullable, time, PriceBody};
use super::live::{self, ParticipantsView};
use super::payments::{self, CheckoutBody};
use super::rooms::{parse_room, PriceView};
use crate::authz::{self, Caller};
use crate::clock::rfc3339;
use crate::domain::{Money, RoomAccess, Show};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiQuery, OptionalJson, UserPrincipal};
use crate::http::params::RoomParam;
use crate::http::state::{EventState, ModerationState, PaymentState, StatsState};
use crate::payments::Checkout;
use crate::shows::{NewShow, ShowChanges};

#[derive(Serialize, JsonSchema)]
pub struct ShowView {
    id: String,
    title: String,
    description: String,
    hashtags: Vec<String>,
    performer_id: String,
    /// The Jitsi room name.
    room: String,
    /// `scheduled`, `live` or `ended`.
    state: &'static str,
    access: &'static str,
    price: Option<PriceView>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    ended_at: Option<String>,
    /// Seats for viewers; `null`: no limit.
    capacity: Option<u32>,
    /// Where viewers start: the join page signs them in, takes payment, and sends them on.
    join_url: String,
    /// The chat room's alias, when Matrix is configured.
    chat_alias: Option<String>,
    /// The Mastodon announcement, once posted.
    announcement: Option<AnnouncementView>,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize, JsonSchema)]
pub struct AnnouncementView {
    status_id: String,
    url: Option<String>,
}

fn view(state: &EventState, show: &Show) -> ShowView {
    let room = &show.room;
    ShowView {
        id: show.id.clone(),
        title: room.title.clone(),
        description: show.description.clone(),
        hashtags: show.hashtags.clone(),
        performer_id: show.performer_id.clone(),
        room: room.name.to_string(),
        state: show.state(state.clock().now()).as_str(),
        access: room.access.as_str(),
        price: room.price.as_ref().map(PriceView::from),
        starts_at: room.starts_at.map(rfc3339),
        ends_at: room.ends_at.map(rfc3339),
        ended_at: show.ended_at.map(rfc3339),
        capacity: room.capacity,
        join_url: state.mastodon().join_url(show),
        chat_alias: state.matrix().alias(&room.name),
        announcement: show.status_id.as_ref().map(|id| AnnouncementView {
            status_id: id.clone(),
            url: show.status_url.clone(),
        }),
        created_at: rfc3339(show.created_at),
        updated_at: rfc3339(show.updated_at),
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShowBody {
    title: String,
    /// RFC 3339.
    starts_at: String,
    ends_at: Option<String>,
    /// Absent or `null`: free for signed-in users.
    price: Option<PriceBody>,
    /// `free`, `paid` or `invite_only`; default `paid` with a price, `free` without.
    access: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    hashtags: Vec<String>,
    /// The Jitsi room name; made from the title when absent.
    room: Option<String>,
    /// Required when staff create a show for a performer.
    performer_id: Option<String>,
    /// Seats for viewers (the performer and staff take none); absent: no limit.
    capacity: Option<i64>,
}

/// A new show as the body asks, checked in the order the answer names the first fault:
/// access, room, then the schedule. Access defaults to `paid` with a price, `free` without.
impl TryFrom<CreateShowBody> for NewShow {
    type Error = ApiError;

    fn try_from(body: CreateShowBody) -> Result<Self, ApiError> {
        let price = body.price.map(Money::from);
        let access = match body.access.as_deref() {
            Some(text) => access(text)?,
            None if price.is_some() => RoomAccess::Paid,
            None => RoomAccess::Free,
        };
        Ok(NewShow {
            performer_id: body.performer_id,
            title: body.title,
            description: body.description,
            hashtags: body.hashtags,
            room: body
                .room
                .as_deref()
                .map(|room| parse_room(room).map_err(|e| e.with("field", "room")))
                .transpose()?,
            access,
            price,
            starts_at: time("starts_at", Some(&body.starts_at))?.unwrap_or_default(),
            ends_at: time("ends_at", body.ends_at.as_deref())?,
            capacity: body.capacity.map(crate::rooms::capacity).transpose()?,
        })
    }
}

/// The `Idempotency-Key` header, if sent; it must be visible ASCII.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers
        .get("idempotency-key")
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::validation("Idempotency-Key", "must be visible ASCII"))
        })
        .transpose()
}

/// 201 for a show made now, 200 for one a repeated `Idempotency-Key` found.
fn created_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// # `POST /api/events` (also `POST /api/events/create`)
/// Creates a show: its room, its chat room (when Matrix is configured) and its Mastodon
/// announcement (when Mastodon is configured). Send an `Idempotency-Key` header to make
/// retries safe: the same key and body answer 200 with the same show.
/// **Permissions**: a verified performer for themselves; moderators and admins (or the
/// admin key) for any performer, naming them in `performer_id`.
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<EventState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateShowBody>,
) -> Result<(StatusCode, Json<ShowView>), ApiError> {
    let creator = authz::show_creator(&caller);
    let key = idempotency_key(&headers)?;
    let new = NewShow::try_from(body)?;
    let (show, created) = state.shows().create(&creator, new, key).await?;
    Ok((created_status(created), Json(view(&state, &show))))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    performer_id: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
pub struct ShowListView {
    events: Vec<ShowView>,
}

/// # `GET /api/events`
/// Upcoming and live shows, soonest first (`?performer_id=`, `?limit=` up to 200).
/// **Permissions**: anyone.
pub async fn list(
    State(state): State<EventState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ShowListView>, ApiError> {
    let shows = state
        .shows()
        .current(query.performer_id.as_deref(), query.limit.unwrap_or(50))
        .await?;
    Ok(Json(ShowListView {
        events: shows.iter().map(|show| view(&state, show)).collect(),
    }))
}

/// # `GET /api/events/{id}`
/// **Permissions**: anyone.
pub async fn show(
    State(state): State<EventState>,
    Path(id): Path<String>,
) -> Result<Json<ShowView>, ApiError> {
    let show = state.shows().get(&id).await?;
    Ok(Json(view(&state, &show)))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateShowBody {
    title: Option<String>,
    description: Option<String>,
    hashtags: Option<Vec<String>>,
    access: Option<String>,
    /// `null` makes the show free; a new price applies to checkouts opened from now on.
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<PriceBody>")]
    price: Option<Option<PriceBody>>,
    starts_at: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<String>")]
    ends_at: Option<Option<String>>,
    /// Seats for viewers; `null` removes the limit.
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<i64>")]
    capacity: Option<Option<i64>>,
}

impl UpdateShowBody {
    fn changes(self) -> Result<ShowChanges, ApiError> {
        Ok(ShowChanges {
            title: self.title,
            description: self.description,
            hashtags: self.hashtags,
            access: self.access.as_deref().map(access).transpose()?,
            price: self.price.map(|price| price.map(Money::from)),
            starts_at: time("starts_at", self.starts_at.as_deref())?,
            ends_at: self
                .ends_at
                .map(|end| time("ends_at", end.as_deref()))
                .transpose()?,
            capacity: self
                .capacity
                .map(|seats| seats.map(crate::rooms::capacity).transpose())
                .transpose()?,
        })
    }
}

/// # `PATCH /api/events/{id}`
/// Reschedules, reprices or retitles a show that has not ended; the announcement is
/// edited to match. Buyers keep what they bought.
/// **Permissions**: the show's performer, moderators and admins.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn update(
    State(state): State<EventState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateShowBody>,
) -> Result<Json<ShowView>, ApiError> {
    let show = state.shows().get(&id).await?;
    authz::moderator_of(&caller, Arc::new(show.room))?;
    let show = state.shows().update(&id, body.changes()?).await?;
    Ok(Json(view(&state, &show)))
}

#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndShowBody {
    reason: Option<String>,
}

/// # `POST /api/events/{id}/end`
/// Ends the show now: the video room closes on every Prosody shard, new joins are refused,
/// and a reply under the announcement says it is over. Repeating it changes nothing.
/// **Permissions**: the show's performer, moderators and admins.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn end(
    State(state): State<EventState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<EndShowBody>,
) -> Result<Json<ShowView>, ApiError> {
    let show = state.shows().get(&id).await?;
    let moderator = authz::moderator_of(&caller, Arc::new(show.room))?;
    let reason = body.reason.unwrap_or_else(|| "the show has ended".into());
    let show = state.shows().end(&moderator, &id, &reason).await?;
    Ok(Json(view(&state, &show)))
}

/// # `POST /api/events/{id}/pay`
/// A ticket for the show's room: as `POST /api/rooms/{room}/pay`.
pub async fn pay(
    State(state): State<EventState>,
    State(payments): State<PaymentState>,
    caller: UserPrincipal,
    Path(id): Path<String>,
    body: OptionalJson<CheckoutBody>,
) -> Result<(StatusCode, Json<Checkout>), ApiError> {
    let show = state.shows().get(&id).await?;
    payments::pay_room(State(payments), caller, RoomParam(show.room.name), body).await
}

/// # `GET /api/events/{id}/participants`
/// As `GET /api/rooms/{room}/participants` for the show's room.
pub async fn participants(
    State(state): State<EventState>,
    State(moderation): State<ModerationState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ParticipantsView>, ApiError> {
    let show = state.shows().get(&id).await?;
    live::participants(State(moderation), caller, RoomParam(show.room.name)).await
}

/// # `GET /api/events/{id}/stats`
/// As `GET /api/rooms/{room}/stats` for the show's room.
pub async fn stats(
    State(state): State<EventState>,
    State(stats): State<StatsState>,
    caller: Caller,
    Path(id): Path<String>,
    query: ApiQuery<super::stats::RoomStatsParams>,
) -> Result<Json<super::stats::RoomStatsView>, ApiError> {
    let show = state.shows().get(&id).await?;
    super::stats::room_stats(State(stats), caller, RoomParam(show.room.name), query).await
}
