//! Who is on the join page, as the cookies and headers say, and what form they sent.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header::{ACCEPT_LANGUAGE, CONTENT_TYPE, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::{CSRF_COOKIE, SESSION_COOKIE};
use crate::access::FactsRead;
use crate::http::extract::parse_urlencoded;
use crate::http::state::JoinState;
use crate::identity::{IdentityError, VerifiedSession};
use crate::join::i18n::negotiate;
use crate::join::{CsrfKey, Lang};

/// Who is asking, as the cookies and headers say.
pub struct Visitor {
    pub(super) lang: Lang,
    pub(super) nonce: String,
    /// The nonce is new: set its cookie (and no form can be valid yet).
    pub(super) new_nonce: bool,
    /// The user a valid session cookie names.
    pub(super) user: Option<String>,
    /// That cookie's session.
    pub(super) session: Option<VerifiedSession>,
    /// The user's facts, if checking the session had to read them, for the page's
    /// decision ([`FactsRead`]).
    pub(super) facts_read: Option<FactsRead>,
    /// A session cookie was sent but is no longer valid (expired or ended): clear it.
    pub(super) stale_session: bool,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

impl Visitor {
    async fn new(state: &JoinState, headers: &HeaderMap) -> Self {
        let lang = negotiate(
            headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|value| value.to_str().ok()),
            state.join().default_lang,
        );
        let (nonce, new_nonce) = match cookie(headers, CSRF_COOKIE).filter(|n| CsrfKey::is_nonce(n))
        {
            Some(nonce) => (nonce.to_owned(), false),
            None => (CsrfKey::new_nonce(), true),
        };
        let token = cookie(headers, SESSION_COOKIE).filter(|token| !token.is_empty());
        let (session, facts_read) = match token {
            None => (None, None),
            Some(token) => match state.identity().authenticate_reading(token).await {
                Ok((session, facts_read)) => (Some(session), facts_read),
                // Whether the session stands is unknown while the store is away; the page
                // itself then answers "retry shortly", so the cookie is kept.
                Err(IdentityError::Store(_) | IdentityError::Unexpected(_)) => (
                    state
                        .identity()
                        .sessions()
                        .verify(token, state.identity().now())
                        .ok(),
                    None,
                ),
                Err(_) => (None, None),
            },
        };
        Self {
            lang,
            nonce,
            new_nonce,
            stale_session: token.is_some() && session.is_none(),
            user: session.as_ref().map(|s| s.user_id.clone()),
            session,
            facts_read,
        }
    }

    pub(super) fn csrf(&self, state: &JoinState) -> String {
        state
            .join()
            .csrf
            .token(&self.nonce, self.user.as_deref().unwrap_or(""))
    }

    pub(super) fn csrf_ok(&self, state: &JoinState, form: &BTreeMap<String, String>) -> bool {
        !self.new_nonce
            && form.get("csrf").is_some_and(|token| {
                state
                    .join()
                    .csrf
                    .verify(&self.nonce, self.user.as_deref().unwrap_or(""), token)
            })
    }
}

impl<S> FromRequestParts<S> for Visitor
where
    S: Send + Sync,
    JoinState: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Visitor::new(&JoinState::from_ref(state), &parts.headers).await)
    }
}

/// An url-encoded form body, or `None` when it is not one.
fn read_form(headers: &HeaderMap, body: &Bytes) -> Option<BTreeMap<String, String>> {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|value| {
            value
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return None;
    }
    parse_urlencoded(std::str::from_utf8(body).ok()?).ok()
}

pub(super) fn field(form: &BTreeMap<String, String>, name: &str) -> String {
    form.get(name).cloned().unwrap_or_default()
}

/// A form posted to the join page and who posted it. A body that is not a form (or not
/// UTF-8) reads as an empty form, which then fails its CSRF check.
pub struct JoinForm {
    pub(super) visitor: Visitor,
    pub(super) form: BTreeMap<String, String>,
}

impl<S> FromRequest<S> for JoinForm
where
    S: Send + Sync,
    JoinState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let visitor = Visitor::new(&JoinState::from_ref(state), &headers).await;
        let form = read_form(&headers, &body).unwrap_or_default();
        Ok(JoinForm { visitor, form })
    }
}
