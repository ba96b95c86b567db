//! Remembered consent: a user who approved a client for some scopes is not asked again for
//! the same or fewer. An approval is remembered under the session generation it was given
//! in, so whatever ends all of the user's sessions (signing out everywhere, a password
//! change, an admin's revocation, a global ban) forgets it too; the client revoking a token
//! forgets it outright ([`super::grant`]). `prompt=consent` asks again regardless, and the
//! platform's own clients (`first_party`) are never asked.

use super::authorize::SignedInAs;
use super::request::AuthorizeRequest;
use super::OidcService;
use crate::store::{OidcConsent, StoreError};

impl OidcService {
    /// Whether `user` approved the request's client for every scope it asks for, under
    /// their current sign-in generation.
    pub(super) async fn remembers_consent(
        &self,
        request: &AuthorizeRequest,
        user: &SignedInAs<'_>,
    ) -> Result<bool, StoreError> {
        if request.client.first_party {
            return Ok(false);
        }
        let found = self
            .store
            .find_oidc_consent(user.user_id, &request.client.id)
            .await?;
        Ok(found.is_some_and(|consent| {
            consent.session_generation == user.session_generation
                && covers(&consent.scope, &request.scopes)
        }))
    }

    /// Records that `user` approved the request: its scopes, with those of an approval
    /// still in force (approving `email` after `profile` remembers both).
    pub(super) async fn remember_consent(
        &self,
        request: &AuthorizeRequest,
        user: &SignedInAs<'_>,
    ) -> Result<(), StoreError> {
        let found = self
            .store
            .find_oidc_consent(user.user_id, &request.client.id)
            .await?;
        let mut scopes: Vec<&str> = request.scopes.iter().map(String::as_str).collect();
        if let Some(earlier) = found
            .as_ref()
            .filter(|c| c.session_generation == user.session_generation)
        {
            scopes.extend(earlier.scope.split(' ').filter(|s| !s.is_empty()));
        }
        scopes.sort_unstable();
        scopes.dedup();
        let consent = OidcConsent {
            scope: scopes.join(" "),
            session_generation: user.session_generation,
        };
        self.store
            .upsert_oidc_consent(user.user_id, &request.client.id, &consent, self.clock.now())
            .await
    }
}

/// Whether the approved `scope` (space-separated) includes every one `wanted`.
fn covers(scope: &str, wanted: &[String]) -> bool {
    wanted.iter().all(|w| scope.split(' ').any(|s| s == w))
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn an_approval_covers_the_same_or_fewer_scopes_only() {
        let wanted = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(covers("email openid", &wanted(&["openid"])));
        assert!(covers("email openid", &wanted(&["openid", "email"])));
        assert!(!covers("email openid", &wanted(&["openid", "profile"])));
        assert!(!covers("openid", &wanted(&["open"])));
    }
}
