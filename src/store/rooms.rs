//! Rooms.

use anyhow::Context as _;
use sqlx::any::AnyRow;

use super::changes::{record_change, RecordedChange};
use super::{classify_write_error, corrupt, int, opt_int, opt_text, text, Store, StoreError};
use crate::domain::{Change, Money, Room, RoomAccess, RoomName};
use crate::telemetry::metrics::StoreOp;

pub(super) const ROOM_COLUMNS: &str =
    "id, name, title, owner_id, access, price_minor, currency, plans, starts_at, ends_at, created_at, updated_at, capacity";

pub(super) fn room_from_row(row: &AnyRow) -> Result<Room, StoreError> {
    let access = text(row, "access")?;
    let price = match (opt_int(row, "price_minor")?, opt_text(row, "currency")?) {
        (Some(amount_minor), Some(currency)) => Some(Money {
            amount_minor,
            currency,
        }),
        _ => None,
    };
    let plans = text(row, "plans")?;
    Ok(Room {
        id: text(row, "id")?,
        name: RoomName::from_canonical(text(row, "name")?),
        title: text(row, "title")?,
        owner_id: text(row, "owner_id")?,
        access: RoomAccess::parse(&access).ok_or_else(|| corrupt("access", &access))?,
        price,
        plans: plans
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        starts_at: opt_int(row, "starts_at")?,
        ends_at: opt_int(row, "ends_at")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
        capacity: match opt_int(row, "capacity")? {
            None => None,
            Some(seats) => {
                Some(u32::try_from(seats).map_err(|_| corrupt("capacity", &seats.to_string()))?)
            }
        },
    })
}

impl Store {
    /// Stores the room and its `RoomCreated` change in one transaction.
    pub async fn insert_room(&self, room: &Room) -> Result<(Room, RecordedChange), StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let room = insert_room_on(&mut tx, room).await?;
            let change = Change::RoomCreated { room: room.clone() };
            let change = record_change(&mut tx, change, room.created_at).await?;
            tx.commit().await.context("commit")?;
            Ok((room, change))
        })
        .await
    }

    /// Rewrites a room's mutable fields (everything but id, name, owner and creation time)
    /// and records the change `describe` makes of the room as it now stands.
    pub async fn update_room(
        &self,
        room: &Room,
        describe: impl FnOnce(Room) -> Change + Send,
    ) -> Result<Option<(Room, RecordedChange)>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let Some(room) = update_room_on(&mut tx, room).await? else {
                return Ok(None);
            };
            let change = record_change(&mut tx, describe(room.clone()), room.updated_at).await?;
            tx.commit().await.context("commit")?;
            Ok(Some((room, change)))
        })
        .await
    }

    pub async fn find_room_by_id(&self, id: &str) -> Result<Option<Room>, StoreError> {
        self.timed(StoreOp::FindRoom, async {
            let row = sqlx::query(&format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .context("find room by id")?;
            row.as_ref().map(room_from_row).transpose()
        })
        .await
    }

    pub async fn find_room_by_name(&self, name: &RoomName) -> Result<Option<Room>, StoreError> {
        self.timed(StoreOp::FindRoom, async {
            let row = sqlx::query(&format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE name = $1"))
                .bind(name.as_str())
                .fetch_optional(&self.pool)
                .await
                .context("find room")?;
            row.as_ref().map(room_from_row).transpose()
        })
        .await
    }
}

/// Inserts `room` on `conn`, which may be inside a caller's transaction.
pub(super) async fn insert_room_on(
    conn: &mut sqlx::AnyConnection,
    room: &Room,
) -> Result<Room, StoreError> {
    let row = sqlx::query(&format!(
        "INSERT INTO rooms ({ROOM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         RETURNING {ROOM_COLUMNS}"
    ))
    .bind(&room.id)
    .bind(room.name.as_str())
    .bind(&room.title)
    .bind(&room.owner_id)
    .bind(room.access.as_str())
    .bind(room.price.as_ref().map(|p| p.amount_minor))
    .bind(room.price.as_ref().map(|p| p.currency.clone()))
    .bind(room.plans.join(","))
    .bind(room.starts_at)
    .bind(room.ends_at)
    .bind(room.created_at)
    .bind(room.updated_at)
    .bind(room.capacity.map(i64::from))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| classify_write_error(e, &["name"]))?;
    room_from_row(&row)
}

/// [`Store::update_room`] on `conn`, which may be inside a caller's transaction.
pub(super) async fn update_room_on(
    conn: &mut sqlx::AnyConnection,
    room: &Room,
) -> Result<Option<Room>, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE rooms SET title = $2, access = $3, price_minor = $4, currency = $5, plans = $6, \
         starts_at = $7, ends_at = $8, updated_at = $9, capacity = $10 WHERE id = $1 \
         RETURNING {ROOM_COLUMNS}"
    ))
    .bind(&room.id)
    .bind(&room.title)
    .bind(room.access.as_str())
    .bind(room.price.as_ref().map(|p| p.amount_minor))
    .bind(room.price.as_ref().map(|p| p.currency.clone()))
    .bind(room.plans.join(","))
    .bind(room.starts_at)
    .bind(room.ends_at)
    .bind(room.updated_at)
    .bind(room.capacity.map(i64::from))
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| classify_write_error(e, &[]))?;
    row.as_ref().map(room_from_row).transpose()
}
