//! The token endpoint's grants (RFC 6749 §4.1.3 and §6) and revocation (RFC 7009).
//!
//! A code is spent by the first exchange, whether or not that exchange succeeds; a second
//! presentation ends the session the code started, revoking whatever the first one was
//! given (RFC 6749 §4.1.2: the code was stolen, or the client is broken). A refresh token
//! is rotated on every use; a spent one presented again ends its session the same way.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::clients::{Client, Presented};
use super::credentials::{
    at_hash, credential_hash, random_credential, IdTokenClaims, ACCESS_PREFIX, REFRESH_PREFIX,
};
use super::{profile_claims, OidcService, OidcSettings};
use crate::clock::UnixSeconds;
use crate::domain::User;
use crate::store::{Claim, OidcSessionRecord, OidcTokenKind, StoreError};

/// An OAuth error (RFC 6749 §5.2), answered as `{"error", "error_description"}`.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// The client did not authenticate (401).
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    InvalidGrant(&'static str),
    #[error("the grant type is not supported")]
    UnsupportedGrantType,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl TokenError {
    /// The `error` code of the answer.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::InvalidClient => "invalid_client",
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
            TokenError::Store(_) | TokenError::Unexpected(_) => "temporarily_unavailable",
        }
    }
}

/// A successful token response (RFC 6749 §5.1, Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub id_token: String,
    pub scope: String,
}

/// Fresh access and refresh tokens, and how they are stored (by hash, with their expiry).
pub(super) struct FreshTokens {
    access: String,
    refresh: String,
    hashes: [String; 2],
    expiries: [UnixSeconds; 2],
}

impl FreshTokens {
    pub(super) fn new(settings: &OidcSettings, now: UnixSeconds) -> Self {
        let access = random_credential(ACCESS_PREFIX);
        let refresh = random_credential(REFRESH_PREFIX);
        Self {
            hashes: [credential_hash(&access), credential_hash(&refresh)],
            expiries: [
                now + settings.access_token_ttl_secs,
                now + settings.refresh_token_ttl_secs,
            ],
            access,
            refresh,
        }
    }

    pub(super) fn rows(&self) -> [(&str, OidcTokenKind, UnixSeconds); 2] {
        [
            (&self.hashes[0], OidcTokenKind::Access, self.expiries[0]),
            (&self.hashes[1], OidcTokenKind::Refresh, self.expiries[1]),
        ]
    }
}

pub(super) fn field<'a>(form: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    form.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

impl OidcService {
    /// `POST /oidc/token`: authenticates the client, then runs the grant it asks for.
    pub async fn token(
        &self,
        authorization: Option<&str>,
        form: &BTreeMap<String, String>,
    ) -> Result<TokenResponse, TokenError> {
        let client = self.authenticate(authorization, form).await?;
        match field(form, "grant_type") {
            Some("authorization_code") => self.exchange_code(&client, form).await,
            Some("refresh_token") => self.refresh(&client, form).await,
            Some(_) => Err(TokenError::UnsupportedGrantType),
            None => Err(TokenError::InvalidRequest("grant_type is missing")),
        }
    }

    async fn authenticate(
        &self,
        authorization: Option<&str>,
        form: &BTreeMap<String, String>,
    ) -> Result<Arc<Client>, TokenError> {
        self.clients
            .authenticate(Presented::read(authorization, form))
            .await?
            .ok_or(TokenError::InvalidClient)
    }

    async fn refresh(
        &self,
        client: &Client,
        form: &BTreeMap<String, String>,
    ) -> Result<TokenResponse, TokenError> {
        let token = field(form, "refresh_token")
            .ok_or(TokenError::InvalidRequest("refresh_token is missing"))?;
        let now = self.clock.now();
        let claim = self
            .store
            .claim_oidc_refresh_token(&credential_hash(token), now)
            .await?;
        let (session, expires_at) = match claim {
            Claim::Fresh(found) => found,
            Claim::Reused { session_id } => {
                tracing::warn!(session = %session_id, "a refresh token was reused; its family is revoked");
                self.end_session(&session_id).await?;
                return Err(TokenError::InvalidGrant(
                    "the refresh token was already used",
                ));
            }
            Claim::Unknown => return Err(TokenError::InvalidGrant("unknown refresh token")),
        };
        if session.client_id != client.id {
            self.end_session(&session.id).await?;
            return Err(TokenError::InvalidGrant(
                "the token was issued to another client",
            ));
        }
        if session.ended_at.is_some() || now >= expires_at {
            return Err(TokenError::InvalidGrant(
                "the refresh token has expired or was revoked",
            ));
        }
        self.issue_tokens(&session, None).await
    }

    /// A new access token, refresh token and ID token for `session` (a refresh).
    async fn issue_tokens(
        &self,
        session: &OidcSessionRecord,
        nonce: Option<String>,
    ) -> Result<TokenResponse, TokenError> {
        let now = self.clock.now();
        let user = self
            .store
            .find_user(&session.user_id)
            .await?
            .ok_or(TokenError::InvalidGrant("the user no longer exists"))?;
        if self.has_outlived_sign_in(session, &user).await? {
            return Err(TokenError::InvalidGrant(
                "the user's sessions have ended; sign in again",
            ));
        }
        let fresh = FreshTokens::new(&self.settings, now);
        self.store
            .insert_oidc_tokens(&session.id, &fresh.rows(), now)
            .await?;
        self.respond(session, &user, fresh, nonce, now)
    }

    /// The token response for stored `fresh` tokens: they and a signed ID token.
    pub(super) fn respond(
        &self,
        session: &OidcSessionRecord,
        user: &User,
        fresh: FreshTokens,
        nonce: Option<String>,
        now: UnixSeconds,
    ) -> Result<TokenResponse, TokenError> {
        let access_ttl = self.settings.access_token_ttl_secs;
        let claims = IdTokenClaims {
            iss: self.settings.issuer.clone(),
            sub: user.id.clone(),
            aud: session.client_id.clone(),
            exp: now + access_ttl,
            iat: now,
            auth_time: session.auth_time,
            sid: session.id.clone(),
            nonce,
            at_hash: Some(at_hash(&fresh.access)),
            profile: profile_claims(user, &session.scope),
        };
        Ok(TokenResponse {
            id_token: self.key()?.sign(&claims),
            access_token: fresh.access,
            token_type: "Bearer",
            expires_in: access_ttl,
            refresh_token: fresh.refresh,
            scope: session.scope.clone(),
        })
    }

    /// `POST /oidc/revoke` (RFC 7009): a token of the authenticated client ends its
    /// session (access and refresh tokens alike: the family goes together), queues its
    /// back-channel logout, and forgets the user's approval of the client. An unknown
    /// token, or another client's, is answered as success and changes nothing (§2.2).
    pub async fn revoke(
        &self,
        authorization: Option<&str>,
        form: &BTreeMap<String, String>,
    ) -> Result<(), TokenError> {
        let client = self.authenticate(authorization, form).await?;
        let token = field(form, "token").ok_or(TokenError::InvalidRequest("token is missing"))?;
        let hash = credential_hash(token);
        for kind in [OidcTokenKind::Refresh, OidcTokenKind::Access] {
            if let Some((session, _)) = self.store.find_oidc_token(&hash, kind).await? {
                if session.client_id == client.id {
                    self.end_session(&session.id).await?;
                    // The client gave up the user's grant: the approval goes with it.
                    self.store
                        .delete_oidc_consent(&session.user_id, &client.id)
                        .await?;
                }
                return Ok(());
            }
        }
        Ok(())
    }
}
