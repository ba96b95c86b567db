//! The code exchange (RFC 6749 §4.1.3) in one write transaction: the code is spent, its
//! session and user read, the request checked against them, and the tokens stored, all at
//! once ([`crate::store::Store::exchange_oidc_code`]); the ID token is signed after the
//! commit. A refused exchange still spends its code: a code buys one attempt.

use std::collections::BTreeMap;

use super::clients::Client;
use super::credentials::{credential_hash, pkce_matches};
use super::grant::{field, FreshTokens, TokenError, TokenResponse};
use super::OidcService;
use crate::clock::UnixSeconds;
use crate::domain::User;
use crate::store::{Claim, StoredCode};

/// Why a fresh code buys nothing.
enum Refused {
    Grant(&'static str),
    /// Presented by another client than the one it was issued to: its session ends too.
    OtherClient,
    /// The user's sessions ended since the sign-in the code came from.
    Outlived,
}

/// What the exchange presented besides the code.
struct Presented<'a> {
    client_id: &'a str,
    redirect_uri: Option<&'a str>,
    verifier: Option<&'a str>,
    now: UnixSeconds,
}

/// Whether the code, as bound and as its user now stands, answers `presented`: the client,
/// expiry, redirect URI and PKCE verifier, then the session and the user's sign-in.
fn check(code: &StoredCode, user: Option<&User>, presented: &Presented<'_>) -> Result<(), Refused> {
    let session = &code.session;
    if session.client_id != presented.client_id {
        return Err(Refused::OtherClient);
    }
    if presented.now >= code.expires_at {
        return Err(Refused::Grant("the code has expired"));
    }
    if presented.redirect_uri != Some(code.redirect_uri.as_str()) {
        return Err(Refused::Grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    match (&code.code_challenge, presented.verifier) {
        (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
        (Some(_), Some(_)) => return Err(Refused::Grant("PKCE verification failed")),
        (Some(_), None) => return Err(Refused::Grant("code_verifier is missing")),
        (None, Some(_)) => {
            return Err(Refused::Grant(
                "code_verifier sent for a code issued without a challenge",
            ))
        }
        (None, None) => {}
    }
    if session.ended_at.is_some() {
        return Err(Refused::Grant("the session has ended"));
    }
    let user = user.ok_or(Refused::Grant("the user no longer exists"))?;
    if user.session_generation != session.session_generation {
        return Err(Refused::Outlived);
    }
    Ok(())
}

impl OidcService {
    pub(super) async fn exchange_code(
        &self,
        client: &Client,
        form: &BTreeMap<String, String>,
    ) -> Result<TokenResponse, TokenError> {
        let code = field(form, "code").ok_or(TokenError::InvalidRequest("code is missing"))?;
        let now = self.clock.now();
        let presented = Presented {
            client_id: &client.id,
            redirect_uri: field(form, "redirect_uri"),
            verifier: field(form, "code_verifier"),
            now,
        };
        let fresh = FreshTokens::new(&self.settings, now);
        let claim = self
            .store
            .exchange_oidc_code(&credential_hash(code), now, &fresh.rows(), |code, user| {
                check(code, user, &presented)
            })
            .await?;
        let spent = match claim {
            Claim::Fresh(spent) => spent,
            Claim::Reused { session_id } => {
                tracing::warn!(session = %session_id, "an authorization code was presented twice; its session is ended");
                self.end_session(&session_id).await?;
                return Err(TokenError::InvalidGrant("the code was already used"));
            }
            Claim::Unknown => return Err(TokenError::InvalidGrant("unknown code")),
        };
        let session = &spent.code.session;
        let user = match (spent.verdict, spent.user) {
            (Ok(()), Some(user)) => user,
            (Ok(()), None) => return Err(TokenError::InvalidGrant("the user no longer exists")),
            (Err(Refused::Grant(why)), _) => return Err(TokenError::InvalidGrant(why)),
            (Err(Refused::OtherClient), _) => {
                self.end_session(&session.id).await?;
                return Err(TokenError::InvalidGrant(
                    "the code was issued to another client",
                ));
            }
            (Err(Refused::Outlived), user) => {
                if let Some(user) = user {
                    self.has_outlived_sign_in(session, &user).await?;
                }
                return Err(TokenError::InvalidGrant(
                    "the user's sessions have ended; sign in again",
                ));
            }
        };
        self.link_mastodon_account(session).await;
        self.respond(session, &user, fresh, spent.code.nonce.clone(), now)
    }
}
