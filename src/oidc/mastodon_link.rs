//! The Mastodon link: when Mastodon (the client `mastodon.oidc_client`) exchanges a code,
//! the user has just signed in to Mastodon through roomkey and Mastodon is creating or
//! opening their account. Which account that is, Mastodon does not say; its admin API
//! does, once the account exists. So the exchange queues a lookup in the Mastodon outbox
//! (ordered with the user's ban actions, retried until the account appears) and the
//! Mastodon worker records the link ([`crate::mastodon`]).

use super::OidcService;
use crate::mastodon::LINK_PAYLOAD;
use crate::store::{NewMastodonCall, OidcSessionRecord};
use crate::telemetry::metrics::MastodonAction;

impl OidcService {
    /// Queues the lookup of the user's Mastodon account if `session` is Mastodon's. The
    /// tokens are already issued: a failure here is logged, not answered (a ban then
    /// looks the account up itself, by the same e-mail address).
    pub(super) async fn link_mastodon_account(&self, session: &OidcSessionRecord) {
        if self.settings.mastodon_client.as_deref() != Some(session.client_id.as_str()) {
            return;
        }
        let call = NewMastodonCall {
            order_key: format!("account/{}", session.user_id),
            action: MastodonAction::AccountAction.as_str(),
            event_id: None,
            user_id: Some(session.user_id.clone()),
            payload: LINK_PAYLOAD.into(),
            idempotency_key: format!("roomkey-link-{}", session.id),
        };
        let queued = self
            .store
            .insert_mastodon_calls(&[call], self.clock.now())
            .await;
        if let Err(error) = queued {
            tracing::warn!(%error, user = %session.user_id, "queueing the Mastodon account link failed");
        }
    }
}
