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
mod hooks;
mod levels;
mod link;
mod reconcile;
pub mod registration;
mod tips;
mod worker;

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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct LinkedAccount {
    pub matrix_user_id: String,
    /// Whether it is the account roomkey provisions (`@<user_prefix><handle>`), not a linked one.
    pub provisioned: bool,
}

/// A room's chat as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
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
