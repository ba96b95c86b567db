//! The user's own Mastodon account. When users sign in to Mastodon through roomkey's
//! OpenID Provider (`mastodon.oidc_client`), Mastodon creates their account with the
//! e-mail address roomkey gave it (the `email` claim) and a username made from the handle
//! — `alice_1` when `alice` is taken. The address, unique in Mastodon, is what finds the
//! account; the link is recorded after the sign-in (a `link_account` call the provider
//! queues) and a ban acts on that account. Without sign-ins through roomkey, a ban still
//! matches the exact username, as before.

use super::client::MastodonError;
use super::{Enabled, MastodonService};
use crate::domain::User;
use crate::store::{MastodonCall, StoreError};
use crate::telemetry::metrics::DeliveryOutcome;

/// An account action's payload that asks for the link rather than a moderation action
/// (the outbox's actions are a closed set; a lookup is one more thing done to an account).
pub const LINK_PAYLOAD: &str = r#"{"type":"link"}"#;

/// Whether `call` is a sign-in's lookup.
pub(super) fn is_link(call: &MastodonCall) -> bool {
    serde_json::from_str::<serde_json::Value>(&call.payload)
        .is_ok_and(|payload| payload["type"] == "link")
}

/// How many times a sign-in's lookup runs (2 s, 4 s … apart: about eight minutes) before it
/// is given up on: Mastodon refused the sign-in, or the user never finished it.
const LINK_ATTEMPTS: i64 = 9;

fn unavailable(what: &'static str) -> impl FnOnce(StoreError) -> MastodonError {
    move |error| MastodonError {
        what,
        detail: error.to_string(),
        retryable: true,
    }
}

impl MastodonService {
    /// A `link_account` call: finds the account the user just signed in to and records it.
    pub(super) async fn link(
        &self,
        enabled: &Enabled,
        call: &MastodonCall,
    ) -> Result<DeliveryOutcome, MastodonError> {
        let user = match &call.user_id {
            Some(id) => self
                .store
                .find_user(id)
                .await
                .map_err(unavailable("user"))?,
            None => None,
        };
        let Some(user) = user else {
            return Ok(DeliveryOutcome::Skipped);
        };
        if self.find_and_link(enabled, &user).await?.is_some() {
            return Ok(DeliveryOutcome::Delivered);
        }
        Err(MastodonError {
            what: "link account",
            detail: "no local account has the user's e-mail address yet".into(),
            retryable: call.attempts + 1 < LINK_ATTEMPTS,
        })
    }

    /// The account by the user's e-mail address, linked when found.
    async fn find_and_link(
        &self,
        enabled: &Enabled,
        user: &User,
    ) -> Result<Option<String>, MastodonError> {
        let found = enabled
            .client
            .find_local_account_by_email(&enabled.admin_token, &user.email)
            .await?;
        if let Some(id) = &found {
            self.store
                .upsert_mastodon_account(&user.id, id, self.clock.now())
                .await
                .map_err(unavailable("link"))?;
            tracing::info!(user = %user.id, account = %id, "linked the user's Mastodon account");
        }
        Ok(found)
    }

    /// The account a ban (or its lift) acts on, if it is in `status`: the linked one; with
    /// sign-ins through roomkey but no link yet, the one with the user's address (linked
    /// now); otherwise the one whose username is exactly the handle.
    pub(super) async fn account_to_moderate(
        &self,
        enabled: &Enabled,
        user: &User,
        status: &str,
    ) -> Result<Option<String>, MastodonError> {
        let client = &enabled.client;
        let linked = self
            .store
            .find_mastodon_account(&user.id)
            .await
            .map_err(unavailable("link"))?;
        let account = match linked {
            Some(id) => Some(id),
            None if enabled.links_accounts => self.find_and_link(enabled, user).await?,
            None => {
                return client
                    .find_local_account(&enabled.admin_token, &user.handle, status)
                    .await
            }
        };
        let Some(account) = account else {
            return Ok(None);
        };
        let current = client
            .account_status(&enabled.admin_token, &account)
            .await?;
        Ok((current == Some(status)).then_some(account))
    }
}
