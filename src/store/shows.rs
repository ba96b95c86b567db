//! Shows (`/api/events`) and the room each one owns. A show, its room, the announcement
//! owed to Mastodon and the room's change (which makes its chat) are written in one
//! transaction, so a crash never leaves a room without its show or a show without its side
//! effects queued.

use anyhow::Context as _;
use sqlx::any::AnyRow;

use super::changes::{record_change, RecordedChange};
use super::mastodon::{insert_mastodon_calls_on, NewMastodonCall};
use super::rooms::{insert_room_on, room_from_row, update_room_on};
use super::{classify_write_error, int, opt_int, opt_text, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::domain::{Change, Show};
use crate::telemetry::metrics::StoreOp;

const SHOW_SELECT: &str = "SELECT r.id, r.name, r.title, r.owner_id, r.access, r.price_minor, \
     r.currency, r.plans, r.starts_at, r.ends_at, r.created_at, r.updated_at, \
     r.capacity, e.id AS show_id, e.performer_id, e.created_by, e.description, e.hashtags, e.status_id, \
     e.status_url, e.ended_at, e.created_at AS show_created_at, e.updated_at AS show_updated_at, \
     e.request_digest \
     FROM events e JOIN rooms r ON r.id = e.room_id";

fn show_from_row(row: &AnyRow) -> Result<Show, StoreError> {
    let hashtags = text(row, "hashtags")?;
    Ok(Show {
        id: text(row, "show_id")?,
        room: room_from_row(row)?,
        performer_id: text(row, "performer_id")?,
        created_by: text(row, "created_by")?,
        description: text(row, "description")?,
        hashtags: hashtags.split_whitespace().map(str::to_owned).collect(),
        status_id: opt_text(row, "status_id")?,
        status_url: opt_text(row, "status_url")?,
        ended_at: opt_int(row, "ended_at")?,
        created_at: int(row, "show_created_at")?,
        updated_at: int(row, "show_updated_at")?,
    })
}

/// What a show was created with: the client's idempotency key and a digest of its request.
pub struct ShowRequestKey<'a> {
    pub key: &'a str,
    pub digest: &'a str,
}

/// The outcome of [`Store::insert_show`].
#[derive(Debug)]
pub enum ShowInsert {
    /// With the room's change, to deliver.
    Created(Show, Box<RecordedChange>),
    /// The same creator already used this idempotency key; `digest` is what it came with.
    Existing { show: Show, digest: String },
}

impl Store {
    /// Creates `room` and its show, queues the Mastodon `calls` and records the room's
    /// change, all or nothing. With a request key already used by `show.created_by`,
    /// nothing is written and the earlier show returned.
    pub async fn insert_show(
        &self,
        show: &Show,
        request: Option<ShowRequestKey<'_>>,
        calls: &[NewMastodonCall],
    ) -> Result<ShowInsert, StoreError> {
        self.timed(StoreOp::Write, async {
            if let Some(request) = &request {
                if let Some(existing) = self.find_show_by_key(&show.created_by, request.key).await?
                {
                    return Ok(existing);
                }
            }
            let mut tx = self.pool.begin().await.context("begin")?;
            let room = insert_room_on(&mut tx, &show.room).await?;
            let inserted = sqlx::query(
                "INSERT INTO events (id, room_id, performer_id, created_by, description, hashtags, \
                 idempotency_key, request_digest, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            )
            .bind(&show.id)
            .bind(&room.id)
            .bind(&show.performer_id)
            .bind(&show.created_by)
            .bind(&show.description)
            .bind(show.hashtags.join(" "))
            .bind(request.as_ref().map(|r| r.key))
            .bind(request.as_ref().map(|r| r.digest))
            .bind(show.created_at)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                // A concurrent request with the same key won the race: answer with its show.
                Err(error) => match (classify_write_error(error, &["idempotency_key"]), &request) {
                    (StoreError::Conflict(_), Some(request)) => {
                        drop(tx);
                        return self
                            .find_show_by_key(&show.created_by, request.key)
                            .await?
                            .context("a show that collided on its key has gone")
                            .map_err(StoreError::from);
                    }
                    (other, _) => return Err(other),
                },
            }
            insert_mastodon_calls_on(&mut tx, calls, show.created_at).await?;
            let change = Change::RoomCreated { room: room.clone() };
            let change = record_change(&mut tx, change, show.created_at).await?;
            tx.commit().await.context("commit")?;
            let show = Show {
                room,
                ..show.clone()
            };
            Ok(ShowInsert::Created(show, Box::new(change)))
        })
        .await
    }

    async fn find_show_by_key(
        &self,
        created_by: &str,
        key: &str,
    ) -> Result<Option<ShowInsert>, StoreError> {
        let row = sqlx::query(&format!(
            "{SHOW_SELECT} WHERE e.created_by = $1 AND e.idempotency_key = $2"
        ))
        .bind(created_by)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .context("find show by key")?;
        row.map(|row| {
            Ok(ShowInsert::Existing {
                show: show_from_row(&row)?,
                digest: opt_text(&row, "request_digest")?.unwrap_or_default(),
            })
        })
        .transpose()
    }

    pub async fn find_show(&self, id: &str) -> Result<Option<Show>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(&format!("{SHOW_SELECT} WHERE e.id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .context("find show")?;
            row.as_ref().map(show_from_row).transpose()
        })
        .await
    }

    /// Shows not yet over at `now` (upcoming and live), soonest first, optionally one
    /// performer's.
    pub async fn find_current_shows(
        &self,
        now: UnixSeconds,
        performer_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Show>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "{SHOW_SELECT} WHERE e.ended_at IS NULL AND (r.ends_at IS NULL OR r.ends_at > $1) \
                 AND ($2 IS NULL OR e.performer_id = $2) \
                 ORDER BY COALESCE(r.starts_at, e.created_at), e.id LIMIT $3"
            ))
            .bind(now)
            .bind(performer_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("find current shows")?;
            rows.iter().map(show_from_row).collect()
        })
        .await
    }

    /// Rewrites the show's room and its own fields, queues `calls` and records the room's
    /// change, all or nothing.
    pub async fn update_show(
        &self,
        show: &Show,
        calls: &[NewMastodonCall],
    ) -> Result<Option<(Show, RecordedChange)>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let Some(room) = update_room_on(&mut tx, &show.room).await? else {
                return Ok(None);
            };
            sqlx::query(
                "UPDATE events SET description = $2, hashtags = $3, ended_at = $4, updated_at = $5 \
                 WHERE id = $1",
            )
            .bind(&show.id)
            .bind(&show.description)
            .bind(show.hashtags.join(" "))
            .bind(show.ended_at)
            .bind(show.updated_at)
            .execute(&mut *tx)
            .await
            .context("update show")?;
            insert_mastodon_calls_on(&mut tx, calls, show.updated_at).await?;
            let change = Change::RoomUpdated { room: room.clone() };
            let change = record_change(&mut tx, change, show.updated_at).await?;
            tx.commit().await.context("commit")?;
            let show = Show {
                room,
                ..show.clone()
            };
            Ok(Some((show, change)))
        })
        .await
    }

    /// Records where the announcement was posted.
    pub async fn update_show_status(
        &self,
        id: &str,
        status_id: &str,
        status_url: Option<&str>,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query("UPDATE events SET status_id = $2, status_url = $3 WHERE id = $1")
                .bind(id)
                .bind(status_id)
                .bind(status_url)
                .execute(&self.pool)
                .await
                .context("record show status")?;
            Ok(())
        })
        .await
    }
}
