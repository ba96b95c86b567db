//! Matrix chat rooms that follow entitlements, through Synapse as an application service.
//!
//! Besides each live room's chat, roomkey keeps community rooms (`#general`, performers
//! only, staff only) to their membership rule, gives the performer and staff moderator
//! power, archives a show's chat read-only when it ends, and lets a user link a Matrix
//! account of their own once its homeserver vouches for it (an OpenID token).
//!
//! Every change that should reach the homeserver (a room created, a user signed up, an
//! entitlement granted or revoked, a ban or its lift, a role change, a show's end) is
//! written to a durable outbox right after the change itself. A worker ([`MatrixService::run`], or [`MatrixService::try_once`]
//! in tests) delivers it with retries and exponential backoff, so a homeserver outage
//! delays an invite or a kick but never drops it. Changes with the same order key (one
//! user in one room) are delivered one at a time in the order they were written; different
//! keys go in parallel.
//!
//! The worker re-reads the access rule before acting, so a stale change does no harm: an
//! invite for someone whose access has gone since is skipped, and a kick for someone still
//! entitled through another ticket or subscription is skipped too. A periodic reconcile
//! ([`MatrixService::reconcile_once`]) compares each room's membership with the access rule
//! and mends what a lost change or an entitlement's expiry left behind.

pub mod client;
mod community;
mod levels;
mod link;
pub mod registration;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::{watch, Notify};

use crate::access::{AccessError, AccessService, Denial, Verdict};
use crate::cache::local::LocalCache;
use crate::cache::Bus;
use crate::clock::{Clock, UnixSeconds};
use crate::config::MatrixConfig;
use crate::domain::{Ban, BanScope, Entitlement, EntitlementScope, Role, Room, RoomName, User};
use crate::store::{NewOutboxItem, Outbox, OutboxItem, Store, StoreError};
use crate::telemetry::metrics::{DeliveryOutcome, MatrixAction, Metrics};

use client::RoomSpec;
pub use client::{MatrixError, SynapseClient};
use community::community_syncs;
use levels::{archive_levels, set_moderators};
pub use registration::registration_yaml;

/// How long a worker holds a change it is delivering.
const CLAIM_SECS: i64 = 60;
/// Longest pause between attempts at one change.
const MAX_BACKOFF_SECS: i64 = 300;
/// Changes delivered at once (each for a different user and room). Synapse persists the
/// events of one room one at a time, so more only queues requests there and risks timeouts.
const PARALLEL: usize = 8;
/// Pending changes looked at per pass.
const PASS_LIMIT: i64 = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum MatrixServiceError {
    #[error("Matrix is not configured")]
    NotConfigured,
    #[error("access refused")]
    Denied(Denial),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A request field is unusable; `.0` names it.
    #[error("{1}")]
    Invalid(&'static str, String),
    /// The homeserver did not vouch for the Matrix id (token refused, or issued to another).
    #[error("{0}")]
    ProofRejected(&'static str),
    /// A community room's alias is already a live room's.
    #[error("a live room already has this alias")]
    NameTaken,
    /// The homeserver could not be asked.
    #[error(transparent)]
    Homeserver(MatrixError),
}

/// Proof that the caller owns a Matrix id: an OpenID token its homeserver issued.
pub struct OpenIdProof {
    pub access_token: String,
    pub matrix_server_name: String,
}

/// The Matrix id a user now has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LinkedAccount {
    pub matrix_user_id: String,
    /// Whether it is the account roomkey provisions (`@<user_prefix><handle>`), not a linked one.
    pub provisioned: bool,
}

/// A room's chat as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChatStatus {
    pub alias: String,
    /// Whether roomkey has invited the user (their latest change there was an invite).
    pub invited: bool,
}

/// What one reconcile pass found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Live and community rooms whose members were read.
    pub rooms: usize,
    pub removals: usize,
    pub invites_queued: usize,
}

struct Enabled {
    client: SynapseClient,
    server_name: String,
    bot: String,
    user_prefix: String,
    alias_prefix: String,
    reconcile_every: Duration,
    /// roomkey room id → Matrix room id.
    rooms: Mutex<HashMap<String, String>>,
    /// Users known to exist on the homeserver.
    registered: Mutex<HashSet<String>>,
    /// Serialises room creation, so two deliveries never create two rooms for one alias.
    creating: tokio::sync::Mutex<()>,
}

pub struct MatrixService {
    enabled: Option<Enabled>,
    store: Store,
    bus: Arc<Bus>,
    access: Arc<AccessService>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    wake: Notify,
    pass: tokio::sync::Mutex<()>,
    /// What roomkey last did to a user in a room's chat, as the token path reports it.
    /// Every token request reads it, so it is kept briefly in process rather than read from
    /// SQL each time. It only tells a client that an invite is waiting; this instance
    /// forgets an entry as soon as it records a change, and another instance's change shows
    /// within [`MEMBER_STATE_TTL`].
    member_states: LocalCache<Option<String>>,
}

/// How long a user's recorded chat membership is answered from memory.
const MEMBER_STATE_TTL: Duration = Duration::from_secs(5);
/// At most this many memberships are kept in memory.
const MEMBER_STATES_KEPT: u64 = 65_536;

/// The outcome of delivering one change.
enum Delivery {
    Done(DeliveryOutcome),
    Failed(MatrixError),
}

impl MatrixService {
    pub fn new(
        config: &MatrixConfig,
        store: Store,
        bus: Arc<Bus>,
        access: Arc<AccessService>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let enabled = config.is_enabled().then(|| Enabled {
            client: SynapseClient::new(
                &config.homeserver_url,
                config.as_token.expose(),
                Duration::from_millis(config.request_timeout_ms),
            ),
            server_name: config.server_name.clone(),
            bot: format!("@{}:{}", config.bot_localpart, config.server_name),
            user_prefix: config.user_prefix.clone(),
            alias_prefix: config.alias_prefix.clone(),
            reconcile_every: Duration::from_secs(config.reconcile_secs),
            rooms: Mutex::new(HashMap::new()),
            registered: Mutex::new(HashSet::new()),
            creating: tokio::sync::Mutex::new(()),
        });
        Self {
            enabled,
            store,
            bus,
            access,
            clock,
            metrics,
            wake: Notify::new(),
            pass: tokio::sync::Mutex::new(()),
            member_states: LocalCache::new(MEMBER_STATES_KEPT, MEMBER_STATE_TTL),
        }
    }

    /// Whether `user_id`'s last recorded change in `room_id`'s chat was an invite.
    async fn invite_pending(&self, room_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let key = member_state_key(room_id, user_id);
        let state = match self.member_states.get(&key) {
            Some(state) => state,
            None => {
                let state = Arc::new(self.store.find_matrix_member(room_id, user_id).await?);
                self.member_states.insert(key, state.clone());
                state
            }
        };
        Ok(state.as_deref() == Some("invite"))
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.is_some()
    }

    /// `#<alias_prefix><room>:<server>`, if Matrix is configured.
    pub fn alias(&self, room: &RoomName) -> Option<String> {
        let m = self.enabled.as_ref()?;
        Some(format!(
            "#{}:{}",
            alias_localpart(&m.alias_prefix, room),
            m.server_name
        ))
    }

    /// The Matrix id of a user: the one on record, or `@<user_prefix><handle>:<server>`.
    pub fn matrix_id(&self, user: &User) -> Option<String> {
        let m = self.enabled.as_ref()?;
        Some(
            user.matrix_user_id
                .clone()
                .unwrap_or_else(|| format!("@{}{}:{}", m.user_prefix, user.handle, m.server_name)),
        )
    }

    /// The account roomkey provisions for a user: `@<user_prefix><handle>:<server>`.
    fn provisioned_id(m: &Enabled, user: &User) -> String {
        format!("@{}{}:{}", m.user_prefix, user.handle, m.server_name)
    }

    // ---- what the other services call -------------------------------------------------

    /// A user signed up (or was provisioned): record their Matrix id and create the account.
    pub async fn user_created(&self, user: &mut User) {
        let Some(id) = self.matrix_id(user) else {
            return;
        };
        if user.matrix_user_id.is_none() {
            match self
                .store
                .update_user_matrix_id(&user.id, &id, self.clock.now())
                .await
            {
                Ok(()) => user.matrix_user_id = Some(id),
                Err(error) => {
                    tracing::error!(user = %user.id, error = %error, "cannot record the user's Matrix id");
                }
            }
        }
        let mut items = vec![NewOutboxItem {
            order_key: format!("user/{}", user.id),
            action: "provision",
            user_id: Some(&user.id),
            room_id: None,
            matrix_user_id: None,
            reason: "",
        }];
        let communities = self.community_rooms().await;
        items.extend(community_syncs(&communities, &user.id, "signed up"));
        self.enqueue(items).await;
    }

    /// A user's role changed from `before`: staff moderate every live room, and community
    /// rooms' rules may now admit or exclude them.
    pub async fn role_changed(&self, user: &User, before: Role) {
        if !self.is_enabled() || user.role == before {
            return;
        }
        let rooms = if user.role.is_staff() == before.is_staff() {
            Vec::new()
        } else {
            match self.rooms_with_chat().await {
                Ok(rooms) => rooms,
                Err(error) => {
                    tracing::error!(user = %user.id, error = %error, "cannot find the Matrix rooms a role change touches");
                    Vec::new()
                }
            }
        };
        let mut items: Vec<NewOutboxItem<'_>> = rooms
            .iter()
            .map(|room| NewOutboxItem::power_levels(&room.id, "role changed"))
            .collect();
        let communities = self.community_rooms().await;
        items.extend(community_syncs(&communities, &user.id, "role changed"));
        self.enqueue(items).await;
    }

    /// A performer was verified or lost it: community rooms for verified performers follow.
    pub async fn verification_changed(&self, user: &User) {
        if !self.is_enabled() {
            return;
        }
        let communities = self.community_rooms().await;
        self.enqueue(community_syncs(
            &communities,
            &user.id,
            "verification changed",
        ))
        .await;
    }

    /// A show ended: its chat becomes read-only. Members keep the history; nobody but the
    /// bot can post. Idempotent.
    pub async fn room_ended(&self, room: &Room) {
        if !self.is_enabled() {
            return;
        }
        self.enqueue(vec![NewOutboxItem {
            order_key: format!("room/{}", room.id),
            action: "archive",
            user_id: None,
            room_id: Some(&room.id),
            matrix_user_id: None,
            reason: "show ended",
        }])
        .await;
    }

    /// Open rooms that have a Matrix room.
    async fn rooms_with_chat(&self) -> Result<Vec<Room>, StoreError> {
        let with_chat: HashSet<String> = self
            .store
            .find_all_matrix_rooms()
            .await?
            .into_iter()
            .map(|(room_id, _)| room_id)
            .collect();
        self.open_rooms(|r| with_chat.contains(&r.id)).await
    }

    /// A room was created: create its Matrix room.
    pub async fn room_created(&self, room: &Room) {
        if let Some(change) = self.room_created_change(room) {
            self.enqueue(vec![change]).await;
        }
    }

    /// The change that makes `room`'s chat, for a caller that queues it in its own
    /// transaction (then calls [`MatrixService::wake`]); none when Matrix is off.
    pub fn room_created_change<'a>(&self, room: &'a Room) -> Option<NewOutboxItem<'a>> {
        self.is_enabled().then(|| NewOutboxItem {
            order_key: format!("room/{}", room.id),
            action: "create_room",
            user_id: None,
            room_id: Some(&room.id),
            matrix_user_id: None,
            reason: "",
        })
    }

    /// Wakes the worker after changes were queued elsewhere.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// An entitlement was granted: invite its holder to every open room it covers.
    pub async fn entitlement_granted(&self, entitlement: &Entitlement) {
        self.for_rooms_of_scope(entitlement, "invite", "access granted")
            .await;
    }

    /// An entitlement was revoked (by an admin, a refund or a chargeback): remove its
    /// holder from the rooms it covered, unless something else still lets them in.
    pub async fn entitlement_revoked(&self, entitlement: &Entitlement, reason: &str) {
        self.for_rooms_of_scope(entitlement, "kick", reason).await;
    }

    /// A ban: ban the user in every open room it covers.
    pub async fn banned(&self, ban: &Ban) {
        self.for_rooms_of_ban(ban, "ban", &ban.reason).await;
        self.community_ban_changed(ban, &ban.reason).await;
    }

    /// A ban was lifted: unban (and invite again where the user is entitled).
    pub async fn ban_lifted(&self, ban: &Ban) {
        self.for_rooms_of_ban(ban, "unban", "ban lifted").await;
        self.community_ban_changed(ban, "ban lifted").await;
    }

    /// An entitled user asks again for their invite to `room`.
    pub async fn invite_again(
        &self,
        user_id: &str,
        room: &RoomName,
    ) -> Result<ChatStatus, MatrixServiceError> {
        let alias = self.alias(room).ok_or(MatrixServiceError::NotConfigured)?;
        let decision = self.access.decide(user_id, room).await?;
        if let Verdict::Deny(denial) = decision.verdict {
            return Err(MatrixServiceError::Denied(denial));
        }
        let item = NewOutboxItem {
            order_key: order_key(user_id, &decision.room.id),
            action: "invite",
            user_id: Some(user_id),
            room_id: Some(&decision.room.id),
            matrix_user_id: None,
            reason: "invite requested",
        };
        self.store
            .insert_outbox_items(&[item], self.clock.now())
            .await?;
        self.wake.notify_one();
        let invited = self.invite_pending(&decision.room.id, user_id).await?;
        Ok(ChatStatus { alias, invited })
    }

    /// The room's chat for a user who may enter it; `None` when Matrix is off.
    pub async fn status(
        &self,
        user_id: &str,
        room: &Room,
    ) -> Result<Option<ChatStatus>, StoreError> {
        let Some(alias) = self.alias(&room.name) else {
            return Ok(None);
        };
        let invited = self.invite_pending(&room.id, user_id).await?;
        Ok(Some(ChatStatus { alias, invited }))
    }

    async fn for_rooms_of_scope(
        &self,
        entitlement: &Entitlement,
        action: &'static str,
        reason: &str,
    ) {
        if !self.is_enabled() {
            return;
        }
        let rooms = match &entitlement.scope {
            EntitlementScope::Room(id) => self
                .store
                .find_room_by_id(id)
                .await
                .map(|r| r.into_iter().collect()),
            EntitlementScope::Performer(owner) => self.open_rooms(|r| r.owner_id == *owner).await,
            EntitlementScope::Plan(plan) => self.open_rooms(|r| r.plans.contains(plan)).await,
            EntitlementScope::Credit(_) => Ok(Vec::new()),
        };
        self.enqueue_for_rooms(rooms, &entitlement.user_id, action, reason)
            .await;
    }

    async fn for_rooms_of_ban(&self, ban: &Ban, action: &'static str, reason: &str) {
        if !self.is_enabled() {
            return;
        }
        let rooms = match &ban.scope {
            BanScope::Room(id) => self
                .store
                .find_room_by_id(id)
                .await
                .map(|r| r.into_iter().collect()),
            BanScope::Performer(owner) => self.open_rooms(|r| r.owner_id == *owner).await,
            BanScope::Global => self.open_rooms(|_| true).await,
        };
        self.enqueue_for_rooms(rooms, &ban.user_id, action, reason)
            .await;
    }

    async fn open_rooms(&self, keep: impl Fn(&Room) -> bool) -> Result<Vec<Room>, StoreError> {
        let rooms = self.store.find_open_rooms(self.clock.now()).await?;
        Ok(rooms.into_iter().filter(|r| keep(r)).collect())
    }

    async fn enqueue_for_rooms(
        &self,
        rooms: Result<Vec<Room>, StoreError>,
        user_id: &str,
        action: &'static str,
        reason: &str,
    ) {
        let rooms = match rooms {
            Ok(rooms) => rooms,
            Err(error) => {
                tracing::error!(user = %user_id, action, error = %error, "cannot find the rooms a Matrix change covers; the reconcile will mend it");
                return;
            }
        };
        let items = rooms
            .iter()
            .map(|room| NewOutboxItem {
                order_key: order_key(user_id, &room.id),
                action,
                user_id: Some(user_id),
                room_id: Some(&room.id),
                matrix_user_id: None,
                reason,
            })
            .collect();
        self.enqueue(items).await;
    }

    /// Writes changes to the outbox and wakes the worker. A failed write is logged: the
    /// change it announces is already stored, and the periodic reconcile mends the room.
    async fn enqueue(&self, items: Vec<NewOutboxItem<'_>>) {
        if items.is_empty() {
            return;
        }
        if let Err(error) = self
            .store
            .insert_outbox_items(&items, self.clock.now())
            .await
        {
            tracing::error!(error = %error, "cannot queue Matrix changes; the reconcile will mend them");
            return;
        }
        self.wake.notify_one();
    }

    // ---- the worker ---------------------------------------------------------------------

    /// Delivers changes until `shutdown`: at once when one is queued here, every second
    /// for retries and other instances' changes, and reconciles every `reconcile_secs`.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Some(enabled) = self.enabled.as_ref() else {
            return;
        };
        let mut reconcile = tokio::time::interval(enabled.reconcile_every);
        reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        reconcile.tick().await;
        loop {
            match self.try_once().await {
                Ok(delivered) if delivered > 0 => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(error = %error, "reading the Matrix outbox failed"),
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = reconcile.tick() => {
                    if let Err(error) = self.reconcile_once().await {
                        tracing::warn!(error = %error, "Matrix reconcile failed");
                    }
                }
            }
        }
    }

    /// How many changes wait to be delivered.
    pub async fn pending(&self) -> Result<i64, StoreError> {
        self.store.count_pending_outbox_rows(Outbox::Matrix).await
    }

    /// One pass: the first due change of every order key, delivered in parallel. Returns
    /// how many changes were settled (delivered or found unnecessary).
    pub async fn try_once(&self) -> Result<usize, StoreError> {
        if !self.is_enabled() {
            return Ok(0);
        }
        let _pass = self.pass.lock().await;
        let now = self.clock.now();
        let pending = self.store.find_pending_outbox(PASS_LIMIT).await?;
        let mut keys = HashSet::new();
        let mut batch = Vec::new();
        for item in pending {
            // Only the oldest change of a key may go; later ones wait for it.
            if !keys.insert(item.order_key.clone()) {
                continue;
            }
            if item.next_attempt_at > now || item.claimed_until > now {
                continue;
            }
            if self
                .store
                .claim_outbox_row(Outbox::Matrix, item.seq, now, now + CLAIM_SECS)
                .await?
            {
                batch.push(item);
            }
        }
        let results: Vec<Result<bool, StoreError>> = futures_util::stream::iter(batch)
            .map(|item| self.settle(item, now))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        let mut settled = 0;
        for result in results {
            if result? {
                settled += 1;
            }
        }
        Ok(settled)
    }

    async fn settle(&self, item: OutboxItem, now: UnixSeconds) -> Result<bool, StoreError> {
        let action = MatrixAction::parse(&item.action);
        match self.deliver(&item).await {
            Delivery::Done(outcome) => {
                self.store
                    .delete_outbox_row(Outbox::Matrix, item.seq)
                    .await?;
                if let Some(action) = action {
                    self.metrics.matrix_change(action, outcome);
                }
                Ok(true)
            }
            Delivery::Failed(error) => {
                let (next, failed_at, outcome) = if error.retryable {
                    let backoff = 1_i64 << item.attempts.clamp(0, 9);
                    (
                        now + backoff.min(MAX_BACKOFF_SECS),
                        None,
                        DeliveryOutcome::Retried,
                    )
                } else {
                    (now, Some(now), DeliveryOutcome::Failed)
                };
                tracing::warn!(seq = item.seq, action = %item.action, attempts = item.attempts + 1, retry = error.retryable, error = %error, "a Matrix change was not delivered");
                self.store
                    .update_outbox_row_failure(
                        Outbox::Matrix,
                        item.seq,
                        &error.to_string(),
                        next,
                        failed_at,
                    )
                    .await?;
                if let Some(action) = action {
                    self.metrics.matrix_change(action, outcome);
                }
                Ok(false)
            }
        }
    }

    async fn deliver(&self, item: &OutboxItem) -> Delivery {
        match self.apply(item).await {
            Ok(outcome) => Delivery::Done(outcome),
            Err(error) => Delivery::Failed(error),
        }
    }

    async fn apply(&self, item: &OutboxItem) -> Result<DeliveryOutcome, MatrixError> {
        let m = self
            .enabled
            .as_ref()
            .expect("only enabled services deliver");
        match item.action.as_str() {
            "create_community" | "sync_community" => return self.apply_community(m, item).await,
            "forget" => return self.apply_forget(m, item).await,
            _ => {}
        }
        let room = match &item.room_id {
            Some(id) => match self.store.find_room_by_id(id).await.map_err(store_error)? {
                Some(room) => Some(room),
                None => return Ok(DeliveryOutcome::Skipped),
            },
            None => None,
        };
        let user = match &item.user_id {
            Some(id) => match self.store.find_user(id).await.map_err(store_error)? {
                Some(user) => Some(user),
                None => return Ok(DeliveryOutcome::Skipped),
            },
            None => None,
        };
        match (item.action.as_str(), room, user) {
            ("provision", _, Some(user)) => {
                let id = self.matrix_id(&user).unwrap_or_default();
                self.ensure_user(m, &id).await?;
                Ok(DeliveryOutcome::Delivered)
            }
            ("create_room", Some(room), _) => {
                self.ensure_room(m, &room).await?;
                Ok(DeliveryOutcome::Delivered)
            }
            ("archive", Some(room), _) => {
                let Some(matrix_room) = self.known_room(m, &room).await? else {
                    return Ok(DeliveryOutcome::Skipped);
                };
                let mut levels = m.client.power_levels(&matrix_room).await?;
                let changed = archive_levels(&mut levels);
                if changed {
                    m.client.set_power_levels(&matrix_room, &levels).await?;
                    tracing::info!(room = %room.name, %matrix_room, "Matrix room archived (read-only)");
                }
                self.store
                    .update_matrix_room_archived(&room.id, self.clock.now())
                    .await
                    .map_err(store_error)?;
                Ok(if changed {
                    DeliveryOutcome::Delivered
                } else {
                    DeliveryOutcome::Skipped
                })
            }
            ("power_levels", Some(room), _) => {
                let Some(matrix_room) = self.known_room(m, &room).await? else {
                    return Ok(DeliveryOutcome::Skipped);
                };
                let moderators = self.room_moderators(m, &room).await?;
                let mut levels = m.client.power_levels(&matrix_room).await?;
                if !set_moderators(&mut levels, &moderators, true) {
                    return Ok(DeliveryOutcome::Skipped);
                }
                m.client.set_power_levels(&matrix_room, &levels).await?;
                Ok(DeliveryOutcome::Delivered)
            }
            (action @ ("invite" | "kick" | "ban" | "unban"), Some(room), Some(user)) => {
                let verdict = match self.access.decide(&user.id, &room.name).await {
                    Ok(decision) => decision.verdict,
                    Err(AccessError::Unavailable(error)) => return Err(store_error(error)),
                    Err(_) => return Ok(DeliveryOutcome::Skipped),
                };
                let banned = matches!(verdict, Verdict::Deny(Denial::Banned { .. }));
                let allowed = matches!(verdict, Verdict::Allow(_));
                let matrix_user = self.recorded_matrix_id(&user).await?;
                match action {
                    "invite" if allowed => {
                        self.invite(m, &room, &user.id, &matrix_user, &item.reason)
                            .await?;
                    }
                    "kick" if !allowed => {
                        let Some(matrix_room) = self.known_room(m, &room).await? else {
                            return Ok(DeliveryOutcome::Skipped);
                        };
                        m.client
                            .kick(&matrix_room, &matrix_user, &item.reason)
                            .await?;
                        self.remember(&room.id, &user.id, "kick").await?;
                    }
                    "ban" if banned => {
                        let Some(matrix_room) = self.known_room(m, &room).await? else {
                            return Ok(DeliveryOutcome::Skipped);
                        };
                        m.client
                            .ban(&matrix_room, &matrix_user, &item.reason)
                            .await?;
                        self.remember(&room.id, &user.id, "ban").await?;
                    }
                    "unban" if !banned => {
                        let Some(matrix_room) = self.known_room(m, &room).await? else {
                            return Ok(DeliveryOutcome::Skipped);
                        };
                        m.client
                            .unban(&matrix_room, &matrix_user, &item.reason)
                            .await?;
                        self.remember(&room.id, &user.id, "unban").await?;
                        if allowed {
                            self.invite(m, &room, &user.id, &matrix_user, "ban lifted")
                                .await?;
                        }
                    }
                    _ => return Ok(DeliveryOutcome::Skipped),
                }
                Ok(DeliveryOutcome::Delivered)
            }
            _ => Ok(DeliveryOutcome::Skipped),
        }
    }

    async fn invite(
        &self,
        m: &Enabled,
        room: &Room,
        user_id: &str,
        matrix_user: &str,
        reason: &str,
    ) -> Result<(), MatrixError> {
        self.ensure_user(m, matrix_user).await?;
        let matrix_room = self.ensure_room(m, room).await?;
        m.client.invite(&matrix_room, matrix_user, reason).await?;
        self.remember(&room.id, user_id, "invite").await
    }

    async fn remember(&self, room_id: &str, user_id: &str, state: &str) -> Result<(), MatrixError> {
        self.store
            .upsert_matrix_member(room_id, user_id, state, self.clock.now())
            .await
            .map_err(store_error)?;
        self.member_states
            .invalidate(&member_state_key(room_id, user_id));
        Ok(())
    }

    /// The user's Matrix id, recorded on the user the first time it is derived, so the
    /// reconcile can map room members back to users.
    async fn recorded_matrix_id(&self, user: &User) -> Result<String, MatrixError> {
        let id = self.matrix_id(user).unwrap_or_default();
        if user.matrix_user_id.is_none() {
            self.store
                .update_user_matrix_id(&user.id, &id, self.clock.now())
                .await
                .map_err(store_error)?;
        }
        Ok(id)
    }

    /// Registers users of roomkey's namespace that the homeserver may not know yet
    /// (Synapse accepts invites for local users that do not exist).
    async fn ensure_user(&self, m: &Enabled, matrix_user: &str) -> Result<(), MatrixError> {
        let suffix = format!(":{}", m.server_name);
        let Some(localpart) = matrix_user
            .strip_prefix('@')
            .and_then(|rest| rest.strip_suffix(&suffix))
            .filter(|local| local.starts_with(&m.user_prefix))
        else {
            return Ok(());
        };
        if lock(&m.registered).contains(matrix_user) {
            return Ok(());
        }
        m.client.register(localpart).await?;
        lock(&m.registered).insert(matrix_user.to_owned());
        Ok(())
    }

    /// The room's Matrix room if it has been made (recorded, or found by its alias).
    async fn known_room(&self, m: &Enabled, room: &Room) -> Result<Option<String>, MatrixError> {
        if let Some(id) = lock(&m.rooms).get(&room.id) {
            return Ok(Some(id.clone()));
        }
        if let Some(id) = self
            .store
            .find_matrix_room(&room.id)
            .await
            .map_err(store_error)?
        {
            lock(&m.rooms).insert(room.id.clone(), id.clone());
            return Ok(Some(id));
        }
        let alias = self.alias(&room.name).unwrap_or_default();
        match m.client.resolve_alias(&alias).await? {
            Some(id) => {
                self.record_room(m, room, &id, &alias).await?;
                Ok(Some(id))
            }
            None => Ok(None),
        }
    }

    /// The room's Matrix room, created if there is none: private, invite-only, the bot as
    /// creator and the performer invited at moderator power. An existing alias is adopted,
    /// so retries and concurrent deliveries never make two rooms.
    async fn ensure_room(&self, m: &Enabled, room: &Room) -> Result<String, MatrixError> {
        if let Some(id) = self.known_room(m, room).await? {
            return Ok(id);
        }
        let _creating = m.creating.lock().await;
        if let Some(id) = self.known_room(m, room).await? {
            return Ok(id);
        }
        let owner = self
            .store
            .find_user(&room.owner_id)
            .await
            .map_err(store_error)?;
        let mut invite = Vec::new();
        if let Some(owner) = &owner {
            let id = self.recorded_matrix_id(owner).await?;
            self.ensure_user(m, &id).await?;
            invite.push(id);
        }
        let moderators = self.room_moderators(m, room).await?;
        let alias = self.alias(&room.name).unwrap_or_default();
        let id = m
            .client
            .create_room(&RoomSpec {
                alias_localpart: &alias_localpart(&m.alias_prefix, &room.name),
                alias: &alias,
                name: &room.title,
                invite: &invite,
                moderators: &moderators,
                history_visibility: "joined",
            })
            .await?;
        self.record_room(m, room, &id, &alias).await?;
        if let Some(owner) = owner {
            self.remember(&room.id, &owner.id, "invite").await?;
        }
        tracing::info!(room = %room.name, matrix_room = %id, %alias, "Matrix room ready");
        Ok(id)
    }

    /// Who moderates a live room's chat (power 50): its performer and platform staff.
    async fn room_moderators(&self, m: &Enabled, room: &Room) -> Result<Vec<String>, MatrixError> {
        let mut moderators = self
            .store
            .find_staff_matrix_ids()
            .await
            .map_err(store_error)?;
        if let Some(owner) = self
            .store
            .find_user(&room.owner_id)
            .await
            .map_err(store_error)?
        {
            moderators.push(self.recorded_matrix_id(&owner).await?);
        }
        moderators.retain(|id| *id != m.bot);
        moderators.sort();
        moderators.dedup();
        Ok(moderators)
    }

    // ---- community rooms ----------------------------------------------------------------

    async fn record_room(
        &self,
        m: &Enabled,
        room: &Room,
        id: &str,
        alias: &str,
    ) -> Result<(), MatrixError> {
        self.store
            .upsert_matrix_room(&room.id, id, alias, self.clock.now())
            .await
            .map_err(store_error)?;
        lock(&m.rooms).insert(room.id.clone(), id.to_owned());
        Ok(())
    }

    // ---- the reconcile ----------------------------------------------------------------

    /// Compares every Matrix room with the access rule: members who may not be there are
    /// removed (through the outbox for roomkey users, at once for strangers), and users
    /// entitled by a ticket, subscription or plan who hold no invite get one queued.
    pub async fn reconcile_once(&self) -> Result<ReconcileReport, MatrixServiceError> {
        let Some(m) = self.enabled.as_ref() else {
            return Ok(ReconcileReport::default());
        };
        let mut report = ReconcileReport::default();
        for (room_id, matrix_room) in self.store.find_all_matrix_rooms().await? {
            let Some(room) = self.store.find_room_by_id(&room_id).await? else {
                continue;
            };
            // An ended show's chat is archived: its members keep the history, so nobody
            // is removed for the show being over (bans and refunds still act as they come).
            // A show that ended by its schedule, not `end`, is archived here.
            if room.ends_at.is_some_and(|end| end <= self.clock.now()) {
                let key = format!("room/{}", room.id);
                if !self.store.is_matrix_room_archived(&room.id).await?
                    && !self.store.has_pending_outbox(&key, "archive").await?
                {
                    self.room_ended(&room).await;
                }
                continue;
            }
            let members = match m.client.members(&matrix_room).await {
                Ok(members) => members,
                Err(error) => {
                    tracing::warn!(room = %room.name, error = %error, "cannot read a Matrix room's members");
                    continue;
                }
            };
            report.rooms += 1;
            let mut present = HashMap::new();
            for member in &members {
                present.insert(member.user_id.as_str(), member.membership.as_str());
            }
            let mut queued = Vec::new();
            for member in &members {
                if !matches!(member.membership.as_str(), "join" | "invite")
                    || member.user_id == m.bot
                {
                    continue;
                }
                match self.store.find_user_by_matrix_id(&member.user_id).await? {
                    Some(user_id) => {
                        if !self.may_enter(&user_id, &room.name).await? {
                            queued.push((user_id, "kick", "no access"));
                        }
                    }
                    None => {
                        if let Err(error) = m
                            .client
                            .kick(
                                &matrix_room,
                                &member.user_id,
                                "not a member of this platform",
                            )
                            .await
                        {
                            tracing::warn!(room = %room.name, error = %error, "cannot remove a stranger from a Matrix room");
                            continue;
                        }
                        report.removals += 1;
                    }
                }
            }
            let now = self.clock.now();
            let mut holders: Vec<String> = self
                .store
                .find_entitlements_covering(&room, now)
                .await?
                .into_iter()
                .map(|e| e.user_id)
                .collect();
            holders.dedup();
            for user_id in holders {
                let Some(user) = self.store.find_user(&user_id).await? else {
                    continue;
                };
                let matrix_user = self.matrix_id(&user).unwrap_or_default();
                let membership = present.get(matrix_user.as_str()).copied();
                if matches!(membership, Some("join" | "invite")) {
                    continue;
                }
                // A Matrix ban outliving roomkey's (one that ran out) is lifted, which
                // invites again; anyone else entitled and absent is invited.
                let action = if membership == Some("ban") {
                    "unban"
                } else {
                    "invite"
                };
                if self.may_enter(&user_id, &room.name).await?
                    && !self
                        .store
                        .has_pending_outbox(&order_key(&user_id, &room.id), action)
                        .await?
                {
                    queued.push((user_id, action, "access granted"));
                }
            }
            for (user_id, action, reason) in &queued {
                if *action == "kick" {
                    report.removals += 1;
                } else {
                    report.invites_queued += 1;
                }
                self.enqueue(vec![NewOutboxItem {
                    order_key: order_key(user_id, &room.id),
                    action,
                    user_id: Some(user_id),
                    room_id: Some(&room.id),
                    matrix_user_id: None,
                    reason,
                }])
                .await;
            }
        }
        for community in self.store.find_community_rooms().await? {
            self.reconcile_community(m, &community, &mut report).await?;
        }
        Ok(report)
    }

    async fn may_enter(&self, user_id: &str, room: &RoomName) -> Result<bool, MatrixServiceError> {
        match self.access.decide(user_id, room).await {
            Ok(decision) => Ok(matches!(decision.verdict, Verdict::Allow(_))),
            Err(AccessError::UnknownUser | AccessError::RoomNotFound) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

fn order_key(user_id: &str, room_id: &str) -> String {
    format!("{user_id}/{room_id}")
}

/// The alias localpart of a room: its name with anything outside `a-z 0-9 . _ -` written
/// as `=xx`, after the prefix.
fn alias_localpart(prefix: &str, room: &RoomName) -> String {
    let mut out = prefix.to_owned();
    for byte in room.as_str().bytes() {
        if byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("={byte:02x}"));
        }
    }
    out
}

/// One key per (room, user); ids never contain a newline.
fn member_state_key(room_id: &str, user_id: &str) -> String {
    format!("{room_id}\n{user_id}")
}

fn store_error(error: StoreError) -> MatrixError {
    MatrixError {
        what: "store",
        detail: error.to_string(),
        retryable: true,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_localparts_keep_plain_names_and_escape_the_rest() {
        let name = RoomName::parse("LiveAlex2026").unwrap();
        assert_eq!(alias_localpart("", &name), "livealex2026");
        let name = RoomName::parse("show(1)").unwrap();
        assert_eq!(alias_localpart("live_", &name), "live_show=281=29");
    }
}
