//! The OpenID Provider's browser-facing endpoints: the authorization request, its sign-in
//! and sign-up (the join page's forms and session cookie, so one roomkey sign-in serves
//! the join page and every relying party), consent, and RP-initiated logout.
//!
//! The decisions are the provider's ([`crate::oidc::authorize`]); this turns them into
//! pages and redirects. Every form carries the authorization request back in a hidden
//! `authorize` field and is CSRF-checked like the join page's.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::answer::{cookie_attributes, finish, retry_later, see_other};
use super::visitor::{field, JoinForm, Visitor};
use super::{registration, sign_in_filled, sign_up_filled, SESSION_COOKIE};
use crate::domain::VerifiedSession;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::{parse_urlencoded, ClientIp};
use crate::http::state::JoinState;
use crate::identity::{IdentityError, SignedIn};
use crate::join::html::{Filled, Notice};
use crate::join::provider::{ProviderBody, ProviderPage};
use crate::oidc::authorize::{Authorization, SignedInAs};
use crate::oidc::request::{return_query, AuthorizeRequest, Refusal};
use crate::oidc::OidcError;

/// A refused form shown again: why, what was typed, and the refusal's status.
type Again<'a> = Option<(Notice, &'a Filled, ErrorCode)>;

/// A provider page.
struct Shown<'a> {
    request: Option<&'a AuthorizeRequest>,
    authorize: &'a str,
    body: ProviderBody<'a>,
    again: Again<'a>,
    status: StatusCode,
}

/// The signed-in visitor's handle, for the page's footer (none on "signed out").
async fn footer_handle(
    state: &JoinState,
    visitor: &Visitor,
    body: &ProviderBody<'_>,
) -> Option<String> {
    let user = visitor
        .user
        .as_ref()
        .filter(|_| !matches!(body, ProviderBody::SignedOut))?;
    let found = state.access().user(user).await.ok().flatten();
    found.map(|user| user.handle.clone())
}

async fn render(state: &JoinState, visitor: &Visitor, shown: Shown<'_>) -> Response {
    let handle = footer_handle(state, visitor, &shown.body).await;
    let empty = Filled::default();
    let (notice, filled, status) = match shown.again {
        Some((notice, filled, code)) => (Some(notice), filled, code.status()),
        None => (None, &empty, shown.status),
    };
    let html = ProviderPage {
        lang: visitor.lang,
        client: shown
            .request
            .map_or("", |request| request.client.display_name()),
        body: shown.body,
        notice,
        filled,
        csrf: &visitor.csrf(state),
        authorize: shown.authorize,
        signed_in_as: handle.as_deref(),
    };
    let mut response = (status, html.render()).into_response();
    let html_type = HeaderValue::from_static("text/html; charset=utf-8");
    response.headers_mut().insert(CONTENT_TYPE, html_type);
    finish(state, visitor, response, &[])
}

/// Who the visitor is signed in to roomkey as, when that sign-in happened (the session
/// token's issue time: tokens are issued by sign-ins only, and its expiry less today's
/// `session.ttl_secs` would be wrong once that setting changes), and which browser session
/// it is.
fn signed_in_as(visitor: &Visitor) -> Option<SignedInAs<'_>> {
    let session = visitor.session.as_ref()?;
    Some(SignedInAs {
        user_id: &session.user_id,
        auth_time: session.issued_at,
        session_generation: session.generation,
        browser_session: &session.jti,
    })
}

/// The page or redirect for the provider's decision.
async fn answer(
    state: &JoinState,
    visitor: &Visitor,
    decision: Result<Authorization, OidcError>,
    params: &BTreeMap<String, String>,
    again: Again<'_>,
) -> Response {
    let authorize = return_query(params);
    let (request, body) = match &decision {
        Ok(Authorization::Granted { location }) => return see_other(state, visitor, location, &[]),
        Ok(Authorization::Refused(refusal)) => return refused(state, visitor, refusal).await,
        Err(error) => return retry_later(state, visitor, None, ApiError::unavailable(error)),
        Ok(Authorization::SignIn(request)) => (request, ProviderBody::SignIn),
        Ok(Authorization::Consent(request)) => (request, consent_body(request)),
    };
    render(
        state,
        visitor,
        request_page(request, &authorize, body, again),
    )
    .await
}

fn consent_body(request: &AuthorizeRequest) -> ProviderBody<'_> {
    ProviderBody::Consent {
        scopes: &request.scopes,
    }
}

/// The sign-in or consent page of `request`.
fn request_page<'a>(
    request: &'a AuthorizeRequest,
    authorize: &'a str,
    body: ProviderBody<'a>,
    again: Again<'a>,
) -> Shown<'a> {
    Shown {
        request: Some(request),
        authorize,
        body,
        again,
        status: StatusCode::OK,
    }
}

/// A refusal: roomkey's own page (the client or its redirect URI cannot be trusted), or
/// a redirect to the client's registered URI.
async fn refused(state: &JoinState, visitor: &Visitor, refusal: &Refusal) -> Response {
    let description = match refusal {
        Refusal::Redirect { location } => return see_other(state, visitor, location, &[]),
        Refusal::Page { description } => description,
    };
    let body = ProviderBody::Refused { description };
    let shown = Shown {
        request: None,
        authorize: "",
        body,
        again: None,
        status: StatusCode::BAD_REQUEST,
    };
    render(state, visitor, shown).await
}

/// The authorization request in `params`, carried on.
async fn proceed(
    state: &JoinState,
    visitor: &Visitor,
    params: &BTreeMap<String, String>,
    again: Again<'_>,
) -> Response {
    let decision = state.oidc().authorize(params, signed_in_as(visitor)).await;
    answer(state, visitor, decision, params, again).await
}

/// The authorization request a form carries.
fn carried(form: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    parse_urlencoded(&field(form, "authorize")).unwrap_or_default()
}

/// Signed in: the session cookie, and back to the authorization request.
fn signed_in(
    state: &JoinState,
    visitor: &Visitor,
    form: &BTreeMap<String, String>,
    session: &SignedIn,
) -> Response {
    let ttl = state.join().session_ttl_secs;
    let attributes = cookie_attributes(state);
    let cookie = format!(
        "{SESSION_COOKIE}={}; Max-Age={ttl}{attributes}",
        session.session_token
    );
    let location = format!("/oidc/authorize?{}", return_query(&carried(form)));
    see_other(state, visitor, &location, &[cookie])
}

/// The forms' gate: a valid CSRF token, then the client address's sign-in budget. A form
/// that fails is shown again, refused (or "slow down").
async fn admit(
    state: &JoinState,
    visitor: &Visitor,
    form: &BTreeMap<String, String>,
    filled: &Filled,
    ip: &ClientIp,
) -> Result<(), Response> {
    if !visitor.csrf_ok(state, form) {
        let again = Some((Notice::FormExpired, filled, ErrorCode::Forbidden));
        return Err(proceed(state, visitor, &carried(form), again).await);
    }
    let limited = state.auth_limit().check(&ip.0.to_string());
    limited.map_err(|seconds| retry_later(state, visitor, None, ApiError::rate_limited(seconds)))
}

/// The browser-facing endpoints' budget per client address: each authorization issues a
/// code (a write), so it is not free to repeat. Over it: the "slow down" page (429).
fn over_budget(state: &JoinState, visitor: &Visitor, ip: &ClientIp) -> Option<Response> {
    let key = format!("oidc-browser:{}", ip.0);
    let seconds = state.oidc_limit().check(&key).err()?;
    Some(retry_later(
        state,
        visitor,
        None,
        ApiError::rate_limited(seconds),
    ))
}

/// How a refused sign-in or sign-up is shown again, or the error to retry later.
fn account_refusal(error: IdentityError) -> Result<(Notice, ErrorCode), ApiError> {
    match error {
        IdentityError::BadCredentials => {
            Ok((Notice::BadCredentials, ErrorCode::InvalidCredentials))
        }
        IdentityError::Invalid(field, _) => {
            Ok((Notice::Invalid(field), ErrorCode::ValidationFailed))
        }
        IdentityError::Taken(field) => Ok((Notice::Taken(field), ErrorCode::Conflict)),
        other => Err(other.into()),
    }
}

/// The outcome of a sign-in or sign-up form.
async fn account_answer(
    state: &JoinState,
    visitor: &Visitor,
    form: &BTreeMap<String, String>,
    filled: &Filled,
    outcome: Result<SignedIn, IdentityError>,
) -> Response {
    match outcome.map_err(account_refusal) {
        Ok(session) => signed_in(state, visitor, form, &session),
        Err(Ok((notice, code))) => {
            proceed(state, visitor, &carried(form), Some((notice, filled, code))).await
        }
        Err(Err(error)) => retry_later(state, visitor, None, error),
    }
}

/// # `GET /oidc/authorize`
/// The authorization request (OpenID Connect Core §3.1.2): a code for the signed-in user,
/// or the sign-in or consent page first. Errors go back to the client only when its
/// redirect URI is registered.
/// **Permissions**: anyone; the session cookie decides. `oidc.requests_per_minute` per
/// client address (with consent and logout), then 429.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn authorize(
    State(state): State<JoinState>,
    ip: ClientIp,
    RawQuery(query): RawQuery,
    visitor: Visitor,
) -> Response {
    if let Some(refused) = over_budget(&state, &visitor, &ip) {
        return refused;
    }
    let params = parse_urlencoded(query.as_deref().unwrap_or("")).unwrap_or_default();
    proceed(&state, &visitor, &params, None).await
}

/// # `POST /oidc/sign-in`
/// The sign-in form of an authorization request (`csrf`, `authorize`, `login`,
/// `password`); success sets the session cookie and returns to the request.
/// **Permissions**: anyone; rate-limited per client address with the other sign-ins.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sign_in(
    State(state): State<JoinState>,
    ip: ClientIp,
    JoinForm { visitor, form }: JoinForm,
) -> Response {
    let filled = sign_in_filled(&form);
    if let Err(refused) = admit(&state, &visitor, &form, &filled, &ip).await {
        return refused;
    }
    let outcome = state
        .identity()
        .login(&filled.login, field(&form, "password"), ip.0)
        .await;
    account_answer(&state, &visitor, &form, &filled, outcome).await
}

/// # `POST /oidc/sign-up`
/// The sign-up form of an authorization request (`csrf`, `authorize`, `handle`, `email`,
/// `password`, `display_name`); success creates a viewer and returns to the request.
/// **Permissions**: anyone; rate-limited per client address with the other sign-ups.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sign_up(
    State(state): State<JoinState>,
    ip: ClientIp,
    JoinForm { visitor, form }: JoinForm,
) -> Response {
    let filled = sign_up_filled(&form);
    if let Err(refused) = admit(&state, &visitor, &form, &filled, &ip).await {
        return refused;
    }
    let new_user = registration(&filled, field(&form, "password"));
    let outcome = state.identity().register(new_user, ip.0).await;
    account_answer(&state, &visitor, &form, &filled, outcome).await
}

/// # `POST /oidc/consent`
/// The consent form (`csrf`, `authorize`, `decision`): `approve` issues the code, anything
/// else sends `access_denied` back to the client.
/// **Permissions**: the signed-in user the form was made for (its CSRF token is bound to
/// them); rate-limited with `authorize`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn consent(
    State(state): State<JoinState>,
    ip: ClientIp,
    JoinForm { visitor, form }: JoinForm,
) -> Response {
    if let Some(refused) = over_budget(&state, &visitor, &ip) {
        return refused;
    }
    let params = carried(&form);
    if !visitor.csrf_ok(&state, &form) {
        let again = Some((
            Notice::FormExpired,
            &Filled::default(),
            ErrorCode::Forbidden,
        ));
        return proceed(&state, &visitor, &params, again).await;
    }
    let approve = field(&form, "decision") == "approve";
    let decision = state
        .oidc()
        .answer_consent(&params, signed_in_as(&visitor), approve)
        .await;
    answer(&state, &visitor, decision, &params, None).await
}

/// # `GET /oidc/logout` (and `POST`)
/// RP-initiated logout (`id_token_hint`, `client_id`, `post_logout_redirect_uri`,
/// `state`): ends the roomkey browser session, then sends the browser to the
/// `post_logout_redirect_uri` only if it is registered for that client; otherwise shows
/// "signed out". A request without an `id_token_hint` for the signed-in user is asked
/// about first (a form posted back here with the page's CSRF token and the request).
/// **Permissions**: anyone; it only ever ends the caller's own session. Rate-limited with
/// `authorize`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn logout(
    State(state): State<JoinState>,
    ip: ClientIp,
    RawQuery(query): RawQuery,
    JoinForm { visitor, form }: JoinForm,
) -> Response {
    if let Some(refused) = over_budget(&state, &visitor, &ip) {
        return refused;
    }
    let params = logout_params(query.as_deref(), &form);
    if !sign_out_is_wanted(&state, &visitor, &form, &params) {
        return confirm_sign_out(&state, &visitor, &carried_request(&params)).await;
    }
    if let Some(session) = &visitor.session {
        if let Err(error) = end_browser_session(&state, session).await {
            return retry_later(&state, &visitor, None, error);
        }
    }
    let clear = format!("{SESSION_COOKIE}=; Max-Age=0{}", cookie_attributes(&state));
    match state.oidc().logout_destination(&params) {
        Some(location) => see_other(&state, &visitor, &location, &[clear]),
        None => signed_out(&state, &visitor, &clear).await,
    }
}

/// Ends the OIDC sessions granted in a roomkey browser session (their clients are told by
/// back-channel logout), then the browser session itself: RP-initiated logout and the join
/// page's sign-out. In that order: should the second step fail, the visitor still holds
/// the session and a retry ends it, where the other order would leave the relying parties'
/// sessions standing with no session left to retry from.
pub(super) async fn end_browser_session(
    state: &JoinState,
    session: &VerifiedSession,
) -> Result<(), ApiError> {
    state
        .oidc()
        .end_browser_session(&session.user_id, &session.jti)
        .await?;
    state.identity().end_session(session).await?;
    Ok(())
}

/// The request's parameters: its query, or the one a confirmation form carried back, and
/// the form's own fields.
fn logout_params(query: Option<&str>, form: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let carried = form.get("authorize").map(String::as_str);
    let mut params = parse_urlencoded(carried.or(query).unwrap_or("")).unwrap_or_default();
    params.extend(form.iter().map(|(k, v)| (k.clone(), v.clone())));
    params
}

/// The logout request's own parameters, for the confirmation form to carry back.
fn carried_request(params: &BTreeMap<String, String>) -> String {
    let own = [
        "client_id",
        "id_token_hint",
        "post_logout_redirect_uri",
        "state",
        "ui_locales",
    ];
    let pairs: Vec<(&str, &str)> = own
        .iter()
        .filter_map(|name| Some((*name, params.get(*name)?.as_str())))
        .collect();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// Whether the visitor's session may end now: there is none, the confirmation form came
/// back with its CSRF token, or a relying party of this user proved itself with an
/// `id_token_hint`.
fn sign_out_is_wanted(
    state: &JoinState,
    visitor: &Visitor,
    form: &BTreeMap<String, String>,
    params: &BTreeMap<String, String>,
) -> bool {
    let Some(user) = visitor
        .user
        .as_deref()
        .filter(|_| visitor.session.is_some())
    else {
        return true;
    };
    visitor.csrf_ok(state, form) || state.oidc().hint_names(params, user)
}

async fn confirm_sign_out(state: &JoinState, visitor: &Visitor, carried: &str) -> Response {
    let shown = Shown {
        request: None,
        authorize: carried,
        body: ProviderBody::ConfirmSignOut,
        again: None,
        status: StatusCode::OK,
    };
    render(state, visitor, shown).await
}

async fn signed_out(state: &JoinState, visitor: &Visitor, clear: &str) -> Response {
    let body = ProviderBody::SignedOut;
    let shown = Shown {
        request: None,
        authorize: "",
        body,
        again: None,
        status: StatusCode::OK,
    };
    let mut response = render(state, visitor, shown).await;
    if let Ok(value) = HeaderValue::from_str(clear) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}
