//! Rooms: creating and changing the rooms roomkey guards.

use std::sync::Arc;

use crate::authz::RoomModerator;
use crate::changes::{Change, Dispatcher};
use crate::clock::{Clock, UnixSeconds};
use crate::domain::{
    is_currency_code, ModerationAction, Money, Room, RoomAccess, RoomName, UserId,
};
use crate::live::LiveEnforcer;
use crate::matrix::MatrixService;
use crate::moderation::audit::{Action, AuditLog};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("{1}")]
    Invalid(&'static str, &'static str),
    #[error("a room with this name already exists")]
    NameTaken,
    #[error("the owner does not exist")]
    OwnerNotFound,
    #[error("the owner must be a performer or staff")]
    OwnerNotPerformer,
    #[error("no such room")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct NewRoom {
    pub name: RoomName,
    pub title: String,
    pub owner_id: UserId,
    pub access: RoomAccess,
    pub price: Option<Money>,
    pub plans: Vec<String>,
    pub starts_at: Option<UnixSeconds>,
    pub ends_at: Option<UnixSeconds>,
    /// Seats for viewers; `None`: no limit.
    pub capacity: Option<u32>,
}

/// Fields to change; `None` leaves a field as it is, `Some(None)` clears an optional one.
#[derive(Default)]
pub struct RoomChanges {
    pub title: Option<String>,
    pub access: Option<RoomAccess>,
    pub price: Option<Option<Money>>,
    pub plans: Option<Vec<String>>,
    pub starts_at: Option<Option<UnixSeconds>>,
    pub ends_at: Option<Option<UnixSeconds>>,
    pub capacity: Option<Option<u32>>,
}

/// The largest capacity a room may have: well above what one Jitsi conference carries, low
/// enough that a typo (a price pasted into the wrong field) is refused.
pub const MAX_CAPACITY: u32 = 10_000;

/// A capacity as a client sent it, checked: 1 to [`MAX_CAPACITY`] seats.
pub fn capacity(seats: i64) -> Result<u32, RoomError> {
    u32::try_from(seats)
        .ok()
        .filter(|seats| (1..=MAX_CAPACITY).contains(seats))
        .ok_or(RoomError::Invalid(
            "capacity",
            "capacity must be a whole number of seats from 1 to 10000",
        ))
}

pub struct RoomService {
    store: Store,
    changes: Arc<Dispatcher>,
    live: Arc<LiveEnforcer>,
    matrix: Arc<MatrixService>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
}

impl RoomService {
    pub fn new(
        store: Store,
        changes: Arc<Dispatcher>,
        live: Arc<LiveEnforcer>,
        matrix: Arc<MatrixService>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            changes,
            live,
            matrix,
            audit,
            clock,
        }
    }

    /// Removes `user_id` from the running video room now, on every shard; they may come
    /// back while entitled (a ban keeps them out).
    pub async fn kick(
        &self,
        moderator: &RoomModerator,
        user_id: &str,
        reason: &str,
    ) -> Result<(), RoomError> {
        let room = &moderator.room().name;
        let actor = moderator.actor().as_str();
        check_reason(reason)?;
        if user_id.trim().is_empty() || user_id.len() > 100 {
            return Err(RoomError::Invalid(
                "user_id",
                "user_id must be 1 to 100 bytes",
            ));
        }
        self.live
            .kick(room, user_id, reason)
            .await
            .map_err(|crate::live::LiveError::Store(error)| RoomError::Store(error))?;
        self.audit
            .record(Action {
                actor: Some(actor),
                action: ModerationAction::Kick,
                user_id: Some(user_id),
                room: Some(room.as_str()),
                reason: Some(reason),
                details: serde_json::json!({}),
            })
            .await;
        Ok(())
    }

    /// Ends the show now: new joins are refused (`room_ended`) and every Prosody shard
    /// closes the video room. Ending a show that has not started cancels it.
    pub async fn end(&self, moderator: &RoomModerator, reason: &str) -> Result<Room, RoomError> {
        let name = &moderator.room().name;
        let actor = moderator.actor().as_str();
        check_reason(reason)?;
        let now = self.clock.now();
        let current = self
            .store
            .find_room_by_name(name)
            .await?
            .ok_or(RoomError::NotFound)?;
        let room = if current.ends_at.is_some_and(|end| end <= now) {
            current
        } else {
            let not_started = current.starts_at.is_some_and(|start| start >= now);
            let changes = RoomChanges {
                starts_at: not_started.then_some(None),
                ends_at: Some(Some(now)),
                ..RoomChanges::default()
            };
            // The change closes the room on every shard and archives its chat.
            let reason = reason.to_owned();
            self.change(current, changes, |room| Change::RoomEnded { room, reason })
                .await?
        };
        self.audit
            .record(Action {
                actor: Some(actor),
                action: ModerationAction::EndRoom,
                user_id: None,
                room: Some(room.name.as_str()),
                reason: Some(reason),
                details: serde_json::json!({"ends_at": room.ends_at}),
            })
            .await;
        Ok(room)
    }

    pub async fn create(&self, new: NewRoom) -> Result<Room, RoomError> {
        let owner = self
            .store
            .find_user(&new.owner_id)
            .await?
            .ok_or(RoomError::OwnerNotFound)?;
        if !(owner.role == crate::domain::Role::Performer || owner.role.is_staff()) {
            return Err(RoomError::OwnerNotPerformer);
        }
        // The room's chat alias must not be a community room's.
        if self.matrix.is_community_alias(&new.name).await? {
            return Err(RoomError::NameTaken);
        }
        let now = self.clock.now();
        let room = Room {
            id: uuid::Uuid::now_v7().to_string(),
            name: new.name,
            title: new.title,
            owner_id: new.owner_id,
            access: new.access,
            price: new.price,
            plans: new.plans,
            starts_at: new.starts_at,
            ends_at: new.ends_at,
            created_at: now,
            updated_at: now,
            capacity: new.capacity,
        };
        validate(&room)?;
        let (room, change) = self.store.insert_room(&room).await.map_err(|e| match e {
            StoreError::Conflict(_) => RoomError::NameTaken,
            StoreError::MissingReference(_) => RoomError::OwnerNotFound,
            other => RoomError::Store(other),
        })?;
        self.changes.deliver(change).await;
        Ok(room)
    }

    pub async fn update(&self, name: &RoomName, changes: RoomChanges) -> Result<Room, RoomError> {
        let room = self
            .store
            .find_room_by_name(name)
            .await?
            .ok_or(RoomError::NotFound)?;
        self.change(room, changes, |room| Change::RoomUpdated { room })
            .await
    }

    /// Applies `changes` to `room`, stores it with the change `describe` names, and
    /// delivers that change.
    async fn change(
        &self,
        mut room: Room,
        changes: RoomChanges,
        describe: impl FnOnce(Room) -> Change + Send,
    ) -> Result<Room, RoomError> {
        if let Some(title) = changes.title {
            room.title = title;
        }
        if let Some(access) = changes.access {
            room.access = access;
        }
        if let Some(price) = changes.price {
            room.price = price;
        }
        if let Some(plans) = changes.plans {
            room.plans = plans;
        }
        if let Some(starts_at) = changes.starts_at {
            room.starts_at = starts_at;
        }
        if let Some(ends_at) = changes.ends_at {
            room.ends_at = ends_at;
        }
        if let Some(capacity) = changes.capacity {
            room.capacity = capacity;
        }
        room.updated_at = self.clock.now();
        validate(&room)?;
        let (room, change) = self
            .store
            .update_room(&room, describe)
            .await?
            .ok_or(RoomError::NotFound)?;
        self.changes.deliver(change).await;
        Ok(room)
    }
}

fn check_reason(reason: &str) -> Result<(), RoomError> {
    if reason.trim().is_empty() || reason.chars().count() > 500 {
        return Err(RoomError::Invalid(
            "reason",
            "reason must be 1 to 500 characters",
        ));
    }
    Ok(())
}

pub(crate) fn validate(room: &Room) -> Result<(), RoomError> {
    let title_len = room.title.trim().chars().count();
    if title_len == 0 || title_len > 200 {
        return Err(RoomError::Invalid(
            "title",
            "title must be 1 to 200 characters",
        ));
    }
    match (&room.price, room.access) {
        (None, RoomAccess::Paid) => {
            return Err(RoomError::Invalid("price", "a paid room needs a price"))
        }
        (Some(price), _) if !crate::domain::is_amount(price.amount_minor) => {
            return Err(RoomError::Invalid(
                "price.amount_minor",
                "price must be a positive whole number of minor units, at most 10^12",
            ))
        }
        (Some(price), _) if !is_currency_code(&price.currency) => {
            return Err(RoomError::Invalid(
                "price.currency",
                "currency must be an ISO 4217 code such as COP or USD",
            ))
        }
        _ => {}
    }
    if room
        .plans
        .iter()
        .any(|p| crate::domain::parse_handle(p).as_deref() != Some(p.as_str()))
    {
        return Err(RoomError::Invalid(
            "plans",
            "plans must be lowercase names such as member or prime",
        ));
    }
    if let Some(seats) = room.capacity {
        capacity(i64::from(seats))?;
    }
    if let (Some(start), Some(end)) = (room.starts_at, room.ends_at) {
        if end <= start {
            return Err(RoomError::Invalid(
                "ends_at",
                "ends_at must be after starts_at",
            ));
        }
    }
    Ok(())
}
