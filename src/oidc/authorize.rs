//! The authorization endpoint's decisions, for a browser that is (or is not) signed in to
//! roomkey: refuse, ask to sign in, ask for consent, or grant a code.

use std::collections::BTreeMap;

use super::request::{AuthorizeRequest, NextStep, Refusal};
use super::{OidcError, OidcService};
use crate::clock::UnixSeconds;

/// Who the browser is signed in to roomkey as, since when, and under which of the user's
/// session generations.
#[derive(Debug, Clone, Copy)]
pub struct SignedInAs<'a> {
    pub user_id: &'a str,
    pub auth_time: UnixSeconds,
    pub session_generation: i64,
    /// The browser session (its token's `jti`): the OIDC sessions granted in it end when
    /// it does.
    pub browser_session: &'a str,
}

/// What the browser gets.
#[derive(Debug)]
pub enum Authorization {
    Refused(Refusal),
    SignIn(AuthorizeRequest),
    Consent(AuthorizeRequest),
    /// A code was issued: send the browser here.
    Granted {
        location: String,
    },
}

impl OidcService {
    /// The authorization request in `params`, for the browser `signed_in` describes.
    pub async fn authorize(
        &self,
        params: &BTreeMap<String, String>,
        signed_in: Option<SignedInAs<'_>>,
    ) -> Result<Authorization, OidcError> {
        self.decide(params, signed_in, None).await
    }

    /// The consent form's answer (`approve` or not) to the request in `params`. The
    /// request is checked again, and so is the sign-in: a consent form does not outlive
    /// the session it was shown to.
    pub async fn answer_consent(
        &self,
        params: &BTreeMap<String, String>,
        signed_in: Option<SignedInAs<'_>>,
        approve: bool,
    ) -> Result<Authorization, OidcError> {
        self.decide(params, signed_in, Some(approve)).await
    }

    async fn decide(
        &self,
        params: &BTreeMap<String, String>,
        signed_in: Option<SignedInAs<'_>>,
        consent: Option<bool>,
    ) -> Result<Authorization, OidcError> {
        let request = match self.authorize_request(params) {
            Ok(request) => request,
            Err(refusal) => return Ok(Authorization::Refused(refusal)),
        };
        let remembered = match signed_in {
            Some(user) => self.remembers_consent(&request, &user).await?,
            None => false,
        };
        let auth_time = signed_in.map(|s| s.auth_time);
        let step = match self.next_step(&request, auth_time, remembered) {
            Ok(step) => step,
            Err(refusal) => return Ok(Authorization::Refused(refusal)),
        };
        let user = match (step, signed_in) {
            (NextStep::SignIn, _) | (_, None) => return Ok(Authorization::SignIn(request)),
            (_, Some(user)) => user,
        };
        match (step, consent) {
            (NextStep::Consent, None) => Ok(Authorization::Consent(request)),
            (_, Some(false)) => Ok(Authorization::Refused(request.refuse(
                self.issuer(),
                "access_denied",
                "the user did not approve this client",
            ))),
            (step, approved) => {
                if step == NextStep::Consent && approved == Some(true) {
                    self.remember_consent(&request, &user).await?;
                }
                let location = self.issue_code(&request, &user).await?;
                Ok(Authorization::Granted { location })
            }
        }
    }
}
