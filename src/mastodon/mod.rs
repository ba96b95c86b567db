//! The platform's Mastodon: show announcements and account actions on global bans.
//!
//! Every call is queued in the `mastodon_outbox` table by the change that causes it (in
//! the same transaction for shows) and delivered by a worker ([`MastodonService::run`], or
//! [`MastodonService::try_once`] in tests) with retries and backoff, so an outage delays
//! an announcement but never drops or doubles it: posts carry an `Idempotency-Key` derived
//! from the show, which Mastodon honours for an hour, and a show whose status id is
//! already recorded is never announced again. Calls for one show (or one account) go in
//! the order they were queued, so an edit never overtakes its post.

pub mod announcement;
pub mod client;
pub mod link;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use serde_json::json;
use tokio::sync::{watch, Notify};

use crate::changes::{Change, DeliveryError, Subscriber};
use crate::clock::{Clock, UnixSeconds};
use crate::config::{MastodonBanAction, MastodonConfig};
use crate::domain::{Ban, BanScope, Show};
use crate::matrix::MatrixService;
use crate::store::{MastodonCall, NewMastodonCall, Outbox, Store, StoreError};
use crate::telemetry::metrics::{DeliveryOutcome, MastodonAction, Metrics};
use announcement::{AnnouncementFacts, Language};

pub use client::{MastodonClient, MastodonError};
pub use link::LINK_PAYLOAD;

/// How long a worker holds a call it is making.
const CLAIM_SECS: i64 = 60;
/// Longest pause between attempts at one call.
const MAX_BACKOFF_SECS: i64 = 600;
/// Calls looked at per pass.
const PASS_LIMIT: i64 = 500;

struct Enabled {
    client: MastodonClient,
    access_token: String,
    admin_token: String,
    visibility: String,
    language: Language,
    hashtags: Vec<String>,
    on_global_ban: MastodonBanAction,
    /// Whether users sign in to Mastodon through roomkey (`mastodon.oidc_client`): their
    /// accounts are then linked, and a ban never falls back to matching the handle.
    links_accounts: bool,
}

/// How one attempt ended.
enum Delivery {
    Done(DeliveryOutcome),
    Failed(MastodonError),
}

pub struct MastodonService {
    enabled: Option<Enabled>,
    store: Store,
    matrix: Arc<MatrixService>,
    /// Base of the join links in announcements.
    public_url: String,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    wake: Notify,
    pass: tokio::sync::Mutex<()>,
}

impl MastodonService {
    pub fn new(
        config: &MastodonConfig,
        store: Store,
        matrix: Arc<MatrixService>,
        public_url: &str,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let enabled = config.is_enabled().then(|| Enabled {
            client: MastodonClient::new(
                &config.base_url,
                Duration::from_millis(config.request_timeout_ms),
            ),
            access_token: config.access_token.expose().to_owned(),
            admin_token: config.admin_token.expose().to_owned(),
            visibility: config.visibility.clone(),
            language: Language::parse(&config.language).unwrap_or(Language::Es),
            hashtags: config.hashtags.clone(),
            on_global_ban: config.on_global_ban,
            links_accounts: !config.oidc_client.is_empty(),
        });
        Self {
            enabled,
            store,
            matrix,
            public_url: public_url.trim_end_matches('/').to_owned(),
            clock,
            metrics,
            wake: Notify::new(),
            pass: tokio::sync::Mutex::new(()),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.is_some()
    }

    /// Where a viewer starts: the join page, which signs them in, takes payment and sends
    /// them on to the video room.
    pub fn join_url(&self, show: &Show) -> String {
        format!("{}/join/{}", self.public_url, show.room.name)
    }

    // ---- what the changes queue ------------------------------------------------------------

    /// The post announcing a new show (none when Mastodon is off).
    pub fn announce_call(&self, show: &Show) -> Option<NewMastodonCall> {
        self.show_call(show, MastodonAction::Announce, "announce")
    }

    /// An edit of the announcement after the show's schedule, price or text changed.
    pub fn edit_call(&self, show: &Show, version: UnixSeconds) -> Option<NewMastodonCall> {
        self.show_call(show, MastodonAction::Edit, &format!("edit-{version}"))
    }

    /// The reply under the announcement when the show ends.
    pub fn ended_call(&self, show: &Show) -> Option<NewMastodonCall> {
        self.show_call(show, MastodonAction::Reply, "ended")
    }

    fn show_call(
        &self,
        show: &Show,
        action: MastodonAction,
        what: &str,
    ) -> Option<NewMastodonCall> {
        self.enabled.as_ref()?;
        Some(NewMastodonCall {
            order_key: format!("show/{}", show.id),
            action: action.as_str(),
            event_id: Some(show.id.clone()),
            user_id: None,
            payload: "{}".into(),
            idempotency_key: format!("roomkey-show-{}-{what}", show.id),
        })
    }

    /// A global ban limits or suspends the user's account, as configured; lifting it undoes
    /// that. Queued with an idempotency key per ban and direction, so a change delivered
    /// twice is one call to Mastodon.
    async fn account_action(&self, ban: &Ban, undo: bool) -> Result<(), StoreError> {
        let Some(enabled) = &self.enabled else {
            return Ok(());
        };
        let kind = match enabled.on_global_ban {
            MastodonBanAction::None => return Ok(()),
            MastodonBanAction::Silence => "silence",
            MastodonBanAction::Suspend => "suspend",
        };
        if ban.scope != BanScope::Global {
            return Ok(());
        }
        let call = NewMastodonCall {
            order_key: format!("account/{}", ban.user_id),
            action: MastodonAction::AccountAction.as_str(),
            event_id: None,
            user_id: Some(ban.user_id.clone()),
            payload: json!({"type": kind, "undo": undo, "text": ban.reason}).to_string(),
            idempotency_key: format!(
                "roomkey-ban-{}-{}",
                ban.id,
                if undo { "lift" } else { "ban" }
            ),
        };
        self.store
            .insert_mastodon_calls(&[call], self.clock.now())
            .await?;
        self.wake();
        Ok(())
    }

    /// Wakes the worker after a call was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    // ---- the worker ------------------------------------------------------------------------

    /// Makes queued calls until `shutdown`: at once when one is queued here, and every
    /// two seconds for retries and other instances' calls.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        if !self.is_enabled() {
            return;
        }
        loop {
            match self.try_once().await {
                Ok(settled) if settled > 0 => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(error = %error, "reading the Mastodon outbox failed"),
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }

    /// One pass over the due calls, the oldest of each order key only, one at a time.
    /// Returns how many were settled (made, or found unnecessary).
    pub async fn try_once(&self) -> Result<usize, StoreError> {
        let Some(enabled) = &self.enabled else {
            return Ok(0);
        };
        let _pass = self.pass.lock().await;
        let now = self.clock.now();
        let mut keys = HashSet::new();
        let mut settled = 0;
        for call in self.store.find_pending_mastodon_calls(PASS_LIMIT).await? {
            if !keys.insert(call.order_key.clone()) {
                continue;
            }
            if call.next_attempt_at > now || call.claimed_until > now {
                continue;
            }
            if !self
                .store
                .claim_outbox_row(Outbox::Mastodon, call.seq, now, now + CLAIM_SECS)
                .await?
            {
                continue;
            }
            let action = MastodonAction::parse(&call.action);
            let outcome = match self.deliver(enabled, &call).await {
                Ok(Delivery::Done(outcome)) => {
                    self.store
                        .delete_outbox_row(Outbox::Mastodon, call.seq)
                        .await?;
                    settled += 1;
                    outcome
                }
                Ok(Delivery::Failed(error)) => self.record_failure(&call, &error, now).await?,
                Err(error) => {
                    // Not the server's fault: release the call for a later pass.
                    self.store
                        .update_outbox_row_failure(
                            Outbox::Mastodon,
                            call.seq,
                            &error.to_string(),
                            now + 5,
                            None,
                        )
                        .await?;
                    return Err(error);
                }
            };
            if let Some(action) = action {
                self.metrics.mastodon_call(action, outcome);
            }
        }
        Ok(settled)
    }

    async fn record_failure(
        &self,
        call: &MastodonCall,
        error: &MastodonError,
        now: UnixSeconds,
    ) -> Result<DeliveryOutcome, StoreError> {
        let (next, failed_at, outcome) = if error.retryable {
            let backoff = (2_i64 << call.attempts.clamp(0, 10)).min(MAX_BACKOFF_SECS);
            (now + backoff, None, DeliveryOutcome::Retried)
        } else {
            (now, Some(now), DeliveryOutcome::Failed)
        };
        tracing::warn!(seq = call.seq, action = %call.action, attempts = call.attempts + 1, retry = error.retryable, error = %error, "a Mastodon call was not made");
        self.store
            .update_outbox_row_failure(
                Outbox::Mastodon,
                call.seq,
                &error.to_string(),
                next,
                failed_at,
            )
            .await?;
        Ok(outcome)
    }

    async fn deliver(
        &self,
        enabled: &Enabled,
        call: &MastodonCall,
    ) -> Result<Delivery, StoreError> {
        let result = match MastodonAction::parse(&call.action) {
            Some(MastodonAction::AccountAction) if link::is_link(call) => {
                self.link(enabled, call).await
            }
            Some(MastodonAction::AccountAction) => self.moderate(enabled, call).await,
            Some(action) => self.deliver_show_call(enabled, call, action).await?,
            None => Err(MastodonError {
                what: "outbox",
                detail: format!("unknown action {:?}", call.action),
                retryable: false,
            }),
        };
        Ok(match result {
            Ok(outcome) => Delivery::Done(outcome),
            Err(error) => Delivery::Failed(error),
        })
    }

    async fn deliver_show_call(
        &self,
        enabled: &Enabled,
        call: &MastodonCall,
        action: MastodonAction,
    ) -> Result<Result<DeliveryOutcome, MastodonError>, StoreError> {
        let Some(show) = (match &call.event_id {
            Some(id) => self.store.find_show(id).await?,
            None => None,
        }) else {
            return Ok(Ok(DeliveryOutcome::Skipped));
        };
        let (reply_to, edit_of) = match (action, show.status_id.as_deref()) {
            // Announced already (the answer to an earlier attempt was recorded).
            (MastodonAction::Announce, Some(_)) => return Ok(Ok(DeliveryOutcome::Skipped)),
            (MastodonAction::Announce, None) => (None, None),
            // Never announced (given up on): there is nothing to edit or reply to.
            (_, None) => return Ok(Ok(DeliveryOutcome::Skipped)),
            (MastodonAction::Edit, Some(id)) => (None, Some(id)),
            (_, Some(id)) => (Some(id), None),
        };
        let language = enabled.language;
        let text = if action == MastodonAction::Reply {
            announcement::ended_notice(&show, language)
        } else {
            let Some(performer) = self.store.find_user(&show.performer_id).await? else {
                return Ok(Ok(DeliveryOutcome::Skipped));
            };
            let join_url = self.join_url(&show);
            let alias = self.matrix.alias(&show.room.name);
            announcement::announcement(&AnnouncementFacts {
                show: &show,
                performer: &performer,
                join_url: &join_url,
                chat_alias: alias.as_deref(),
                default_hashtags: &enabled.hashtags,
                language,
            })
        };
        let client = &enabled.client;
        let token = &enabled.access_token;
        if let Some(status_id) = edit_of {
            return Ok(client
                .edit_status(token, status_id, &text, language.code())
                .await
                .map(|()| DeliveryOutcome::Delivered));
        }
        let status = client::NewStatus {
            text: &text,
            visibility: &enabled.visibility,
            language: language.code(),
            in_reply_to_id: reply_to,
        };
        let posted = match client
            .post_status(token, &status, &call.idempotency_key)
            .await
        {
            Ok(posted) => posted,
            Err(error) => return Ok(Err(error)),
        };
        if action == MastodonAction::Announce {
            self.store
                .update_show_status(&show.id, &posted.id, posted.url.as_deref())
                .await?;
        }
        Ok(Ok(DeliveryOutcome::Delivered))
    }

    async fn moderate(
        &self,
        enabled: &Enabled,
        call: &MastodonCall,
    ) -> Result<DeliveryOutcome, MastodonError> {
        let payload: serde_json::Value = serde_json::from_str(&call.payload).unwrap_or_default();
        let kind = payload["type"].as_str().unwrap_or_default();
        let user = match &call.user_id {
            Some(id) => self.store.find_user(id).await.map_err(|e| MastodonError {
                what: "user",
                detail: e.to_string(),
                retryable: true,
            })?,
            None => None,
        };
        let Some(user) = user else {
            return Ok(DeliveryOutcome::Skipped);
        };
        let client = &enabled.client;
        let undo = payload["undo"].as_bool().unwrap_or(false);
        if undo {
            // Another global ban still in force keeps the account limited.
            let still_banned = self
                .store
                .find_active_bans(&user.id, self.clock.now())
                .await
                .map_err(|e| MastodonError {
                    what: "bans",
                    detail: e.to_string(),
                    retryable: true,
                })?
                .iter()
                .any(|ban| ban.scope == BanScope::Global);
            if still_banned {
                return Ok(DeliveryOutcome::Skipped);
            }
        }
        // A ban acts on an active account; its lift on one in the state the ban left.
        let (status, call) = match (kind, undo) {
            ("suspend", true) => ("suspended", "unsuspend"),
            (_, true) => ("silenced", "unsilence"),
            (_, false) => ("active", kind),
        };
        let Some(account) = self.account_to_moderate(enabled, &user, status).await? else {
            // No such account there (or already as wanted): nothing to do.
            return Ok(DeliveryOutcome::Skipped);
        };
        if undo {
            client
                .undo_account_action(&enabled.admin_token, &account, call)
                .await?;
        } else {
            let text = payload["text"].as_str().unwrap_or_default();
            client
                .moderate_account(&enabled.admin_token, &account, call, text)
                .await?;
        }
        Ok(DeliveryOutcome::Delivered)
    }

    /// How many calls wait to be made.
    pub async fn pending(&self) -> Result<i64, StoreError> {
        self.store.count_pending_outbox_rows(Outbox::Mastodon).await
    }
}

impl Subscriber for MastodonService {
    fn name(&self) -> &'static str {
        "mastodon"
    }

    /// Only global bans reach Mastodon (shows queue their announcements themselves, in the
    /// show's own transaction).
    fn on_change<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<(), DeliveryError>> {
        async move {
            match change {
                Change::BanPlaced { ban } => self.account_action(ban, false).await?,
                Change::BanLifted { ban } => self.account_action(ban, true).await?,
                _ => {}
            }
            Ok(())
        }
        .boxed()
    }
}
