//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a user's roomkey
//! sessions end, every relying party holding a session for them is told, server to server.
//!
//! It is a subscriber of [`crate::changes`]: a `SessionsEnded` change (signed out
//! everywhere, a password change, an admin's revocation) or a global `BanPlaced` ends the
//! user's OIDC sessions granted before it and, in the same transaction, queues one row per
//! session whose client has a `backchannel_logout_uri` (`oidc_logout_outbox`). The worker
//! ([`BackchannelLogouts::run`]) signs a fresh logout token for each row and posts it, with
//! retries and backoff; a client that refuses a token (4xx) is not asked again, and a row
//! that keeps failing is given up on after [`MAX_ATTEMPTS`]. Both stay in the table, with
//! the last error, for the operator.
//!
//! Delivery is at least once: a relying party may hear of a session twice, which the
//! specification allows (it ends a session already ended).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::{FutureExt as _, StreamExt as _};
use tokio::sync::{watch, Notify};

use super::credentials::{IdTokenKey, LogoutTokenClaims};
use super::keys::RELOAD_SECS;
use crate::changes::{Change, DeliveryError, Subscriber};
use crate::clock::{Clock, UnixSeconds};
use crate::config::OidcConfig;
use crate::domain::BanScope;
use crate::outbound::JsonClient;
use crate::store::{OidcLogoutRow, Outbox, Store, StoreError};
use crate::telemetry::metrics::{DeliveryOutcome, Metrics};

/// How many rows one pass takes.
const BATCH: i64 = 100;
/// How many logout tokens are in flight at once.
const PARALLEL: usize = 8;
/// How long a worker holds a row it took.
const CLAIM_SECS: i64 = 30;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 300;
/// After this many failed attempts (about an hour of backoff) a row is given up on.
pub const MAX_ATTEMPTS: i64 = 16;
/// How long one relying party gets to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

pub struct BackchannelLogouts {
    store: Store,
    /// Client id → its back-channel logout URI, for the clients that have one.
    uris: BTreeMap<String, String>,
    key: Option<Arc<IdTokenKey>>,
    issuer: String,
    http: JsonClient,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    /// The client is no longer registered for logouts: nothing to tell it.
    Skipped,
    /// Worth trying again (no answer, or a 5xx).
    Retry(String),
    /// The client refused the token: trying again would not help.
    Refused(String),
}

impl BackchannelLogouts {
    pub fn new(
        config: &OidcConfig,
        issuer: String,
        key: Option<Arc<IdTokenKey>>,
        store: Store,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let uris = config
            .clients
            .iter()
            .filter_map(|c| Some((c.id.clone(), c.backchannel_logout_uri.clone()?)))
            .collect();
        Self {
            store,
            uris,
            key,
            issuer,
            http: JsonClient::new(TIMEOUT),
            clock,
            metrics,
            wake: Arc::new(Notify::new()),
        }
    }

    /// What wakes the worker: the provider rings it when it ends a session itself.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Ends the OIDC sessions the user's ended sign-in outlived and queues their logouts.
    async fn sessions_ended(&self, user_id: &str) -> Result<(), StoreError> {
        let listening: Vec<&str> = self.uris.keys().map(String::as_str).collect();
        let queued = self
            .store
            .end_outlived_oidc_sessions(user_id, &listening, self.clock.now())
            .await?;
        if queued > 0 {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Delivers logouts until `shutdown`: at once when one is queued here, and every
    /// second for retries and other instances' rows. It also re-reads the ID-token keys'
    /// folder every [`RELOAD_SECS`], so a rotation reaches every instance (the provider
    /// shares the keys).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut keys_read = tokio::time::Instant::now();
        loop {
            if keys_read.elapsed() >= Duration::from_secs(RELOAD_SECS) {
                keys_read = tokio::time::Instant::now();
                self.reload_keys();
            }
            match self.try_once().await {
                Ok(settled) if settled > 0 => continue,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "reading the back-channel logout outbox failed")
                }
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn reload_keys(&self) {
        if let Some(Err(error)) = self.key.as_ref().map(|key| key.reload()) {
            tracing::error!(error = %format!("{error:#}"), "re-reading the ID-token keys failed; keeping the current ones");
        }
    }

    /// One pass: every due row no other worker holds, delivered in parallel. Returns how
    /// many rows were settled (delivered, skipped or given up on).
    pub async fn try_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut batch = Vec::new();
        for row in self.store.find_due_oidc_logouts(now, BATCH).await? {
            let until = now + CLAIM_SECS;
            if self
                .store
                .claim_outbox_row(Outbox::OidcLogout, row.seq, now, until)
                .await?
            {
                batch.push(row);
            }
        }
        let results: Vec<Result<bool, StoreError>> = futures_util::stream::iter(batch)
            .map(|row| self.settle(row, now))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        let mut settled = 0;
        for result in results {
            settled += usize::from(result?);
        }
        Ok(settled)
    }

    /// How many logouts wait for delivery.
    pub async fn pending(&self) -> Result<i64, StoreError> {
        self.store
            .count_pending_outbox_rows(Outbox::OidcLogout)
            .await
    }

    async fn settle(&self, row: OidcLogoutRow, now: UnixSeconds) -> Result<bool, StoreError> {
        let (outcome, error) = match self.attempt(&row, now).await {
            Attempt::Delivered => (DeliveryOutcome::Delivered, None),
            Attempt::Skipped => (DeliveryOutcome::Skipped, None),
            Attempt::Retry(error) if row.attempts + 1 < MAX_ATTEMPTS => {
                (DeliveryOutcome::Retried, Some(error))
            }
            Attempt::Retry(error) | Attempt::Refused(error) => {
                (DeliveryOutcome::Failed, Some(error))
            }
        };
        self.metrics.oidc_logout(outcome);
        let Some(error) = error else {
            self.store
                .delete_outbox_row(Outbox::OidcLogout, row.seq)
                .await?;
            return Ok(true);
        };
        let given_up = outcome == DeliveryOutcome::Failed;
        tracing::warn!(seq = row.seq, client = %row.client_id, attempts = row.attempts + 1, given_up, %error, "a back-channel logout was not delivered");
        let next = now + backoff(row.attempts);
        self.store
            .update_outbox_row_failure(
                Outbox::OidcLogout,
                row.seq,
                &error,
                next,
                given_up.then_some(now),
            )
            .await?;
        Ok(given_up)
    }

    /// Signs a fresh logout token for the row and posts it to its client.
    async fn attempt(&self, row: &OidcLogoutRow, now: UnixSeconds) -> Attempt {
        let (Some(uri), Some(key)) = (self.uris.get(&row.client_id), self.key.as_ref()) else {
            return Attempt::Skipped;
        };
        let claims = LogoutTokenClaims::new(
            &self.issuer,
            &row.client_id,
            &row.user_id,
            &row.session_id,
            now,
        );
        let form = form_urlencoded_token(&key.sign_logout(&claims));
        match self.http.post_form(uri, form).await {
            Ok(answer) if answer.status.is_success() => Attempt::Delivered,
            Ok(answer) if answer.status.is_server_error() => {
                Attempt::Retry(format!("answered {}", answer.status))
            }
            Ok(answer) => Attempt::Refused(format!("answered {}", answer.status)),
            Err(error) => Attempt::Retry(error.to_string()),
        }
    }
}

/// `logout_token=<token>`; a JWT is base64url and dots, which need no escaping.
fn form_urlencoded_token(token: &str) -> String {
    format!("logout_token={token}")
}

/// 2, 4, 8 … seconds, capped at [`MAX_BACKOFF_SECS`].
fn backoff(attempts: i64) -> i64 {
    (2_i64 << attempts.clamp(0, 16)).min(MAX_BACKOFF_SECS)
}

impl Subscriber for BackchannelLogouts {
    fn name(&self) -> &'static str {
        "oidc_logout"
    }

    fn on_change<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<(), DeliveryError>> {
        async move {
            match change {
                Change::SessionsEnded { user_id, .. } => self.sessions_ended(user_id).await?,
                Change::BanPlaced { ban } if ban.scope == BanScope::Global => {
                    self.sessions_ended(&ban.user_id).await?;
                }
                _ => {}
            }
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn a_failing_logout_waits_longer_each_time_up_to_five_minutes() {
        let waits: Vec<_> = [0, 1, 2, 6, 7, 40].map(backoff).to_vec();
        assert_eq!(waits, [2, 4, 8, 128, 256, 300]);
    }
}
