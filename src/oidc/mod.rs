//! roomkey as the platform's OpenID Provider (OpenID Connect Core 1.0, authorization code
//! flow with PKCE): the registered clients ([`clients`]), the authorization request and
//! its refusals ([`request`]), the token endpoint's grants ([`grant`]), and the
//! credentials it hands out ([`credentials`]).
//!
//! Sign-in itself is not here: the browser signs in to roomkey with the join page's forms
//! and session cookie, so one roomkey session serves the join page and every relying
//! party. This module is told who is signed in and since when, and decides the rest.
//!
//! Every grant is an OIDC session (`store::OidcSessionRecord`): which client holds tokens
//! for which user. Ending one revokes its whole token family; the record is what a
//! back-channel logout walks ([`logout`]).

pub mod authorize;
pub mod clients;
pub mod consent;
pub mod credentials;
mod exchange;
pub mod grant;
pub mod keys;
pub mod logout;
mod mastodon_link;
pub mod request;
pub mod snippets;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use tokio::sync::Notify;

use crate::clock::{Clock, UnixSeconds};
use crate::config::{OidcConfig, SUPPORTED_SCOPES};
use crate::domain::User;
use crate::store::{NewOidcCode, OidcSessionRecord, OidcTokenKind, Store, StoreError};
use authorize::SignedInAs;
use clients::Clients;
use credentials::{credential_hash, random_credential, IdTokenKey, CODE_PREFIX};
use request::{AuthorizeRequest, NextStep, Refusal};

pub use grant::{TokenError, TokenResponse};

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The access token is unknown, expired or revoked (RFC 6750 `invalid_token`).
    #[error("the access token is not valid")]
    InvalidToken,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Lifetimes and the issuer, fixed at start-up.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub code_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    /// The client Mastodon signs in with (`mastodon.oidc_client`), when Mastodon is on:
    /// its sign-ins queue the lookup of the user's Mastodon account.
    pub mastodon_client: Option<String>,
}

impl OidcSettings {
    pub fn from_config(config: &OidcConfig, public_url: &str) -> Self {
        Self {
            issuer: config.issuer_or(public_url),
            code_ttl_secs: config.code_ttl_secs,
            access_token_ttl_secs: config.access_token_ttl_secs,
            refresh_token_ttl_secs: config.refresh_token_ttl_secs,
            mastodon_client: None,
        }
    }
}

pub struct OidcService {
    store: Store,
    clients: Clients,
    /// Absent when no client is registered: then no request gets far enough to sign.
    key: Option<Arc<IdTokenKey>>,
    settings: OidcSettings,
    clock: Arc<dyn Clock>,
    /// Wakes the back-channel logout worker ([`logout::BackchannelLogouts::waker`]) when a
    /// session ended here queued a logout, so it goes out at once rather than on the
    /// worker's next round.
    logout_wake: Arc<Notify>,
}

impl OidcService {
    pub fn new(
        config: &OidcConfig,
        settings: OidcSettings,
        key: Option<Arc<IdTokenKey>>,
        store: Store,
        clock: Arc<dyn Clock>,
        logout_wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            clients: Clients::new(&config.clients),
            key,
            settings,
            clock,
            logout_wake,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    pub fn now(&self) -> UnixSeconds {
        self.clock.now()
    }

    /// The discovery document (OpenID Connect Discovery 1.0 §3): what a relying party
    /// configured with the issuer alone needs.
    pub fn discovery(&self) -> Value {
        let issuer = self.issuer();
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oidc/authorize"),
            "token_endpoint": format!("{issuer}/oidc/token"),
            "userinfo_endpoint": format!("{issuer}/oidc/userinfo"),
            "jwks_uri": format!("{issuer}/oidc/jwks"),
            "revocation_endpoint": format!("{issuer}/oidc/revoke"),
            "end_session_endpoint": format!("{issuer}/oidc/logout"),
            "scopes_supported": SUPPORTED_SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "prompt_values_supported": ["none", "login", "consent"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid",
                "preferred_username", "name", "picture", "role", "email", "email_verified",
            ],
            "authorization_response_iss_parameter_supported": true,
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
        })
    }

    pub fn jwks(&self) -> Value {
        match &self.key {
            Some(key) => key.jwks(),
            None => json!({ "keys": [] }),
        }
    }

    /// Re-reads the ID-token keys' folder (a rotation); see [`keys`].
    pub fn reload_keys(&self) -> anyhow::Result<bool> {
        match &self.key {
            Some(key) => key.reload(),
            None => Ok(false),
        }
    }

    fn key(&self) -> anyhow::Result<&IdTokenKey> {
        self.key
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("no ID-token key: no client is registered"))
    }

    /// The authorization request in `params`, checked.
    pub fn authorize_request(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<AuthorizeRequest, Refusal> {
        AuthorizeRequest::parse(&self.clients, self.issuer(), params)
    }

    /// What a browser signed in at `auth_time` (or not at all) must do next, for a user
    /// who has (`remembered`) or has not approved the client for these scopes.
    pub fn next_step(
        &self,
        request: &AuthorizeRequest,
        auth_time: Option<UnixSeconds>,
        remembered: bool,
    ) -> Result<NextStep, Refusal> {
        request.next_step(self.issuer(), auth_time, self.clock.now(), remembered)
    }

    /// Issues a code for the signed-in `user` and returns where to send the browser with
    /// it. The code starts an OIDC session.
    pub async fn issue_code(
        &self,
        request: &AuthorizeRequest,
        user: &SignedInAs<'_>,
    ) -> Result<String, OidcError> {
        let now = self.clock.now();
        let code = random_credential(CODE_PREFIX);
        let session = OidcSessionRecord {
            id: crate::ids::random_uuid().to_string(),
            client_id: request.client.id.clone(),
            user_id: user.user_id.to_owned(),
            scope: request.scopes.join(" "),
            auth_time: user.auth_time,
            session_generation: user.session_generation,
            ended_at: None,
            browser_session: Some(user.browser_session.to_owned()),
        };
        self.store
            .insert_oidc_code(&NewOidcCode {
                code_hash: &credential_hash(&code),
                session: &session,
                redirect_uri: &request.redirect_uri,
                code_challenge: request.code_challenge.as_deref(),
                nonce: request.nonce.as_deref(),
                expires_at: now + self.settings.code_ttl_secs,
                now,
            })
            .await?;
        Ok(request.success_location(self.issuer(), &code))
    }

    /// The claims `userinfo` answers for an access token (Core §5.3).
    pub async fn userinfo(&self, access_token: &str) -> Result<Value, OidcError> {
        let found = self
            .store
            .find_oidc_token(&credential_hash(access_token), OidcTokenKind::Access)
            .await?;
        let now = self.clock.now();
        let live =
            found.filter(|(session, expires_at)| session.ended_at.is_none() && now < *expires_at);
        let Some((session, _)) = live else {
            return Err(OidcError::InvalidToken);
        };
        let user = self
            .store
            .find_user(&session.user_id)
            .await?
            .ok_or(OidcError::InvalidToken)?;
        if self.has_outlived_sign_in(&session, &user).await? {
            return Err(OidcError::InvalidToken);
        }
        let mut claims = profile_claims(&user, &session.scope);
        claims.insert("sub".into(), Value::from(user.id));
        Ok(Value::Object(claims))
    }

    /// Whether the logout request's `id_token_hint` is an ID token roomkey signed for
    /// `user_id`: proof that one of that user's relying parties sent the browser, so the
    /// sign-out needs no confirmation (RP-Initiated Logout 1.0, §2).
    pub fn hint_names(&self, params: &BTreeMap<String, String>, user_id: &str) -> bool {
        params
            .get("id_token_hint")
            .and_then(|hint| self.key.as_ref()?.verify_hint(hint, self.issuer()))
            .is_some_and(|claims| claims.sub == user_id)
    }

    /// Where RP-initiated logout may send the browser afterwards: the requested
    /// `post_logout_redirect_uri` (with `state`) only when it is registered for the client
    /// the `id_token_hint` or `client_id` names; otherwise nowhere (roomkey's own page).
    pub fn logout_destination(&self, params: &BTreeMap<String, String>) -> Option<String> {
        let get = |name: &str| params.get(name).filter(|v| !v.is_empty());
        let uri = get("post_logout_redirect_uri")?;
        let hinted = get("id_token_hint")
            .and_then(|hint| self.key.as_ref()?.verify_hint(hint, self.issuer()))
            .map(|claims| claims.aud);
        let client_id = match (hinted, get("client_id")) {
            (Some(aud), Some(named)) if aud != *named => return None,
            (Some(aud), _) => aud,
            (None, Some(named)) => named.clone(),
            (None, None) => return None,
        };
        let client = self.clients.get(&client_id)?;
        if !client
            .post_logout_redirect_uris
            .iter()
            .any(|known| known == uri)
        {
            return None;
        }
        let state = get("state").map(String::as_str);
        Some(match state {
            Some(state) => request::with_query(uri, &[("state", state)]),
            None => uri.clone(),
        })
    }
}

impl OidcService {
    /// Ends one OIDC session (a replayed code or refresh token, a revocation) and queues
    /// its back-channel logout, with its `sid`, if the client listens for them.
    async fn end_session(&self, session_id: &str) -> Result<(), StoreError> {
        let listening = self.clients.listening_for_logout();
        let queued = self
            .store
            .end_oidc_session(session_id, &listening, self.clock.now())
            .await?;
        self.wake_logouts(queued);
        Ok(())
    }

    /// The roomkey browser session `browser_session` of `user_id` has ended (RP-initiated
    /// logout): the OIDC sessions granted in it end too, and every client holding one that
    /// listens is told by back-channel logout (OpenID Connect RP-Initiated Logout 1.0 §2
    /// with Back-Channel Logout 1.0: the OP tells the RPs the user was logged in to).
    pub async fn end_browser_session(
        &self,
        user_id: &str,
        browser_session: &str,
    ) -> Result<(), StoreError> {
        let listening = self.clients.listening_for_logout();
        let queued = self
            .store
            .end_browser_oidc_sessions(user_id, browser_session, &listening, self.clock.now())
            .await?;
        self.wake_logouts(queued);
        Ok(())
    }

    fn wake_logouts(&self, queued: usize) {
        if queued > 0 {
            self.logout_wake.notify_one();
        }
    }

    /// Whether the user's roomkey sessions have ended since `session` was granted (sign
    /// out everywhere, a password change, an admin's revocation, a global ban: each moves
    /// the session generation on). Such an OIDC session is ended here, so none of its
    /// tokens work again. Back-channel logout ([`logout`]) has normally told the client
    /// already; should the change not have reached it yet, the sessions are ended here the
    /// way it ends them, logouts queued, so that ending one first never skips a logout.
    async fn has_outlived_sign_in(
        &self,
        session: &OidcSessionRecord,
        user: &User,
    ) -> Result<bool, StoreError> {
        if user.session_generation == session.session_generation {
            return Ok(false);
        }
        let listening = self.clients.listening_for_logout();
        let queued = self
            .store
            .end_outlived_oidc_sessions(&user.id, &listening, self.clock.now())
            .await?;
        self.wake_logouts(queued);
        Ok(true)
    }
}

/// The claims the granted scopes release about `user` (Core §5.4): `profile` gives the
/// handle, display name, avatar and platform role; `email` the address. roomkey does not
/// verify addresses, so `email_verified` is false: a relying party must not treat the
/// address as proof of ownership.
pub fn profile_claims(user: &User, scope: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    let has = |wanted: &str| scope.split(' ').any(|s| s == wanted);
    if has("profile") {
        claims.insert("preferred_username".into(), user.handle.clone().into());
        claims.insert("name".into(), user.display_name.clone().into());
        if let Some(picture) = &user.avatar_url {
            claims.insert("picture".into(), picture.clone().into());
        }
        claims.insert("role".into(), user.role.as_str().into());
    }
    if has("email") {
        claims.insert("email".into(), user.email.clone().into());
        claims.insert("email_verified".into(), false.into());
    }
    claims
}
