//! Shows (`/api/events`): one call makes the video room, its chat room and its public
//! announcement; the show can then be rescheduled, repriced and ended.
//!
//! A show is a layer over one room: the room keeps name, access, price and schedule, so the
//! token path, payments and Prosody need to know nothing of shows. The room, the show, the
//! announcement owed to Mastodon and the chat room owed to Matrix are written in one
//! transaction, and both outboxes' workers retry until done. A client's `Idempotency-Key` makes creation safe to
//! retry: the same key with the same request returns the same show, the same key with a
//! different request is refused.

use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::authz::{RoomModerator, ShowCreator};
use crate::changes::Dispatcher;
use crate::clock::{Clock, UnixSeconds};
use crate::domain::{Money, Role, Room, RoomAccess, RoomName, Show, UserId};
use crate::mastodon::MastodonService;
use crate::rooms::{RoomError, RoomService};
use crate::store::{ShowInsert, ShowRequestKey, Store, StoreError};

pub use crate::domain::parse_hashtag;

/// Shows listed at most per request.
pub const MAX_LIST: i64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("no such show")]
    NotFound,
    #[error("no such performer")]
    PerformerNotFound,
    #[error("only a verified performer may create shows; apply for verification first")]
    NotVerified,
    #[error("a performer may create shows only for themselves")]
    NotYourShow,
    #[error("this Idempotency-Key was used with a different request")]
    KeyReused,
    #[error("the show has ended")]
    Ended,
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A show to create. `room` is the Jitsi room name; without it one is made from the title.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewShow {
    pub performer_id: Option<UserId>,
    pub title: String,
    pub description: String,
    pub hashtags: Vec<String>,
    pub room: Option<RoomName>,
    pub access: RoomAccess,
    pub price: Option<Money>,
    pub starts_at: UnixSeconds,
    pub ends_at: Option<UnixSeconds>,
    /// Seats for viewers; `None`: no limit. Left out of the request digest when absent, so
    /// a key used before rooms had capacities still matches its request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ShowChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub hashtags: Option<Vec<String>>,
    pub access: Option<RoomAccess>,
    /// `Some(None)` makes the show free. Buyers who already paid keep what they bought;
    /// checkouts already started keep the amount they were opened with.
    pub price: Option<Option<Money>>,
    pub starts_at: Option<UnixSeconds>,
    pub ends_at: Option<Option<UnixSeconds>>,
    /// `Some(None)` removes the limit.
    pub capacity: Option<Option<u32>>,
}

pub struct ShowService {
    store: Store,
    rooms: Arc<RoomService>,
    mastodon: Arc<MastodonService>,
    changes: Arc<Dispatcher>,
    clock: Arc<dyn Clock>,
}

impl ShowService {
    pub fn new(
        store: Store,
        rooms: Arc<RoomService>,
        mastodon: Arc<MastodonService>,
        changes: Arc<Dispatcher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            rooms,
            mastodon,
            changes,
            clock,
        }
    }

    /// Creates the show, or with a repeated `idempotency_key` returns the one it made.
    /// The flag says whether this call created it.
    pub async fn create(
        &self,
        creator: &ShowCreator,
        new: NewShow,
        idempotency_key: Option<&str>,
    ) -> Result<(Show, bool), ShowError> {
        if let Some(key) = idempotency_key {
            if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ShowError::Invalid(
                    "Idempotency-Key",
                    "Idempotency-Key must be 1 to 200 visible ASCII characters".into(),
                ));
            }
        }
        let own = creator.actor().as_str();
        let performer_id = match (creator.is_staff(), &new.performer_id) {
            (true, Some(id)) => id.clone(),
            (true, None) => {
                return Err(ShowError::Invalid(
                    "performer_id",
                    "staff must name the performer the show is for".into(),
                ))
            }
            (false, Some(id)) if id != own => return Err(ShowError::NotYourShow),
            (false, _) => own.to_owned(),
        };
        let performer = self
            .store
            .find_user(&performer_id)
            .await?
            .ok_or(ShowError::PerformerNotFound)?;
        let may_host =
            (performer.role == Role::Performer && performer.verified) || performer.role.is_staff();
        if !may_host {
            return Err(ShowError::NotVerified);
        }
        let digest = request_digest(&performer_id, &new);
        let now = self.clock.now();
        let hashtags = parse_hashtags(&new.hashtags)?;
        check_text("description", &new.description, 2_000)?;
        if new.ends_at.is_some_and(|end| end <= new.starts_at) {
            return Err(ShowError::Invalid(
                "ends_at",
                "ends_at must be after starts_at".into(),
            ));
        }
        if new.ends_at.is_some_and(|end| end <= now) {
            return Err(ShowError::Invalid(
                "ends_at",
                "the show would already be over".into(),
            ));
        }
        let show_id = uuid::Uuid::now_v7().to_string();
        let name = match new.room {
            Some(name) => name,
            None => room_name_for(&new.title, &show_id),
        };
        let room = Room {
            id: uuid::Uuid::now_v7().to_string(),
            name,
            title: new.title.trim().to_owned(),
            owner_id: performer_id.clone(),
            access: new.access,
            price: new.price,
            plans: Vec::new(),
            starts_at: Some(new.starts_at),
            ends_at: new.ends_at,
            created_at: now,
            updated_at: now,
            capacity: new.capacity,
        };
        crate::rooms::validate(&room)?;
        let show = Show {
            id: show_id,
            room,
            performer_id,
            created_by: creator.actor().as_str().to_owned(),
            description: new.description.trim().to_owned(),
            hashtags,
            status_id: None,
            status_url: None,
            ended_at: None,
            created_at: now,
            updated_at: now,
        };
        let calls: Vec<_> = self.mastodon.announce_call(&show).into_iter().collect();
        let request = idempotency_key.map(|key| ShowRequestKey {
            key,
            digest: &digest,
        });
        let inserted = self
            .store
            .insert_show(&show, request, &calls)
            .await
            .map_err(|error| match error {
                StoreError::Conflict(_) => ShowError::Room(RoomError::NameTaken),
                other => ShowError::Store(other),
            })?;
        let (show, created) = match inserted {
            ShowInsert::Created(show, change) => {
                // Makes the room's chat and clears a cached "no such room" left by earlier
                // token requests for this name.
                self.changes.deliver(*change).await;
                (show, true)
            }
            ShowInsert::Existing { show, digest: used } if used == digest => (show, false),
            ShowInsert::Existing { .. } => return Err(ShowError::KeyReused),
        };
        self.mastodon.wake();
        Ok((show, created))
    }

    pub async fn get(&self, id: &str) -> Result<Show, ShowError> {
        self.store.find_show(id).await?.ok_or(ShowError::NotFound)
    }

    /// Upcoming and live shows, soonest first; optionally one performer's.
    pub async fn current(
        &self,
        performer_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Show>, ShowError> {
        Ok(self
            .store
            .find_current_shows(self.clock.now(), performer_id, limit.clamp(1, MAX_LIST))
            .await?)
    }

    /// Reschedules, reprices or retitles a show that has not ended, and edits its
    /// announcement to match.
    pub async fn update(&self, id: &str, changes: ShowChanges) -> Result<Show, ShowError> {
        let mut show = self.get(id).await?;
        let now = self.clock.now();
        if show.ended_at.is_some() || show.room.ends_at.is_some_and(|end| end <= now) {
            return Err(ShowError::Ended);
        }
        if let Some(title) = changes.title {
            show.room.title = title.trim().to_owned();
        }
        if let Some(description) = changes.description {
            check_text("description", &description, 2_000)?;
            show.description = description.trim().to_owned();
        }
        if let Some(hashtags) = changes.hashtags {
            show.hashtags = parse_hashtags(&hashtags)?;
        }
        if let Some(access) = changes.access {
            show.room.access = access;
        }
        if let Some(price) = changes.price {
            show.room.price = price;
        }
        if let Some(starts_at) = changes.starts_at {
            show.room.starts_at = Some(starts_at);
        }
        if let Some(ends_at) = changes.ends_at {
            show.room.ends_at = ends_at;
        }
        if let Some(capacity) = changes.capacity {
            show.room.capacity = capacity;
        }
        if let (Some(start), Some(end)) = (show.room.starts_at, show.room.ends_at) {
            if end <= start {
                return Err(ShowError::Invalid(
                    "ends_at",
                    "ends_at must be after starts_at".into(),
                ));
            }
        }
        if show.room.ends_at.is_some_and(|end| end <= now) {
            return Err(ShowError::Invalid(
                "ends_at",
                "to end a show now, use POST /api/events/{id}/end".into(),
            ));
        }
        show.room.updated_at = now;
        show.updated_at = now;
        crate::rooms::validate(&show.room)?;
        let calls: Vec<_> = self.mastodon.edit_call(&show, now).into_iter().collect();
        let (show, change) = self
            .store
            .update_show(&show, &calls)
            .await?
            .ok_or(ShowError::NotFound)?;
        self.changes.deliver(change).await;
        self.mastodon.wake();
        Ok(show)
    }

    /// Ends the show now: Prosody closes the video room, new joins are refused, and a
    /// reply under the announcement says it is over. Ending it again changes nothing.
    /// `moderator` is the moderator of the show's room.
    pub async fn end(
        &self,
        moderator: &RoomModerator,
        id: &str,
        reason: &str,
    ) -> Result<Show, ShowError> {
        let show = self.get(id).await?;
        if moderator.room().id != show.room.id {
            return Err(ShowError::NotYourShow);
        }
        if show.ended_at.is_some() {
            return Ok(show);
        }
        let room = self.rooms.end(moderator, reason).await?;
        let now = self.clock.now();
        let ended = Show {
            room,
            ended_at: Some(now),
            updated_at: now,
            ..show
        };
        let calls: Vec<_> = self.mastodon.ended_call(&ended).into_iter().collect();
        let (ended, change) = self
            .store
            .update_show(&ended, &calls)
            .await?
            .ok_or(ShowError::NotFound)?;
        self.changes.deliver(change).await;
        self.mastodon.wake();
        Ok(ended)
    }
}

/// A digest of what the request asked for, to tell a retry from a different request that
/// reuses its key.
fn request_digest(performer_id: &str, new: &NewShow) -> String {
    let canonical = serde_json::to_vec(&(performer_id, new)).unwrap_or_default();
    hex::encode(Sha256::digest(canonical))
}

fn parse_hashtags(tags: &[String]) -> Result<Vec<String>, ShowError> {
    if tags.len() > 10 {
        return Err(ShowError::Invalid("hashtags", "at most 10 hashtags".into()));
    }
    tags.iter()
        .map(|tag| {
            parse_hashtag(tag.trim()).map(str::to_owned).ok_or_else(|| {
                ShowError::Invalid(
                    "hashtags",
                    format!("{tag:?} is not a hashtag (letters, digits and _)"),
                )
            })
        })
        .collect()
}

fn check_text(field: &'static str, text: &str, max_chars: usize) -> Result<(), ShowError> {
    if text.chars().count() > max_chars {
        return Err(ShowError::Invalid(
            field,
            format!("{field} must be at most {max_chars} characters"),
        ));
    }
    Ok(())
}

/// `live-with-alex-0a1b2c3d`: the title's letters and digits (accents dropped), then a
/// piece of the show id so two shows with one title never collide.
fn room_name_for(title: &str, show_id: &str) -> RoomName {
    use unicode_normalization::UnicodeNormalization as _;
    let mut slug = String::new();
    for c in title.nfkd() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if (c.is_whitespace() || c == '-' || c == '_')
            && !slug.ends_with('-')
            && !slug.is_empty()
        {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let hex: Vec<char> = show_id.chars().filter(char::is_ascii_hexdigit).collect();
    let suffix: String = hex[hex.len().saturating_sub(8)..].iter().collect();
    let name = if slug.is_empty() {
        format!("show-{suffix}")
    } else {
        format!("{slug}-{suffix}")
    };
    RoomName::parse(&name).unwrap_or_else(|_| {
        RoomName::parse(&format!("show-{suffix}")).expect("hex digits make a valid room name")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_name_comes_from_the_title_without_accents() {
        let name = room_name_for("¡Show en vivo con Ándres!", "0190-abcdef12");
        assert_eq!(name.as_str(), "show-en-vivo-con-andres-abcdef12");
    }

    #[test]
    fn a_title_without_letters_still_gets_a_room() {
        assert_eq!(room_name_for("🔥🔥", "ffff").as_str(), "show-ffff");
    }
}
