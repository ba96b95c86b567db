//! The join page's handlers: cookies and forms in, one call to the join module, HTML out.
//!
//! Statuses come from the error table ([`ErrorCode::status`]) so the page and the API
//! answer alike: 402 pay, 403 banned / invite-only / not yet / bad form, 404 unknown room,
//! 410 ended, 429 slow down, 503 retry. Entering is a 303 to the Jitsi room with the
//! token in the fragment. Every answer is `no-store` and sends no `Referer`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_LANGUAGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    COOKIE, LOCATION, REFERRER_POLICY, RETRY_AFTER, SET_COOKIE, VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::access::AccessError;
use crate::domain::{Room, RoomName};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::{parse_urlencoded, ClientIp};
use crate::http::state::AppState;
use crate::identity::{IdentityError, Registration, VerifiedSession};
use crate::join::html::{Body, Filled, Notice, Page};
use crate::join::i18n::negotiate;
use crate::join::{self, CsrfKey, Lang, Scene};
use crate::payments::PaymentError;

/// The platform session, for the join pages only (the API takes `Authorization`).
pub const SESSION_COOKIE: &str = "roomkey_session";
/// The browser's CSRF nonce.
pub const CSRF_COOKIE: &str = "roomkey_csrf";

const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

/// Who is asking, as the cookies and headers say.
struct Visitor {
    lang: Lang,
    nonce: String,
    /// The nonce is new: set its cookie (and no form can be valid yet).
    new_nonce: bool,
    /// The user a valid session cookie names.
    user: Option<String>,
    /// That cookie's session.
    session: Option<VerifiedSession>,
    /// A session cookie was sent but is no longer valid (expired or ended): clear it.
    stale_session: bool,
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
    async fn new(state: &AppState, headers: &HeaderMap) -> Self {
        let lang = negotiate(
            headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|value| value.to_str().ok()),
            state.join.default_lang,
        );
        let (nonce, new_nonce) = match cookie(headers, CSRF_COOKIE).filter(|n| CsrfKey::is_nonce(n))
        {
            Some(nonce) => (nonce.to_owned(), false),
            None => (CsrfKey::new_nonce(), true),
        };
        let token = cookie(headers, SESSION_COOKIE).filter(|token| !token.is_empty());
        let session = match token {
            None => None,
            Some(token) => match state.identity.authenticate(token).await {
                Ok(session) => Some(session),
                // Whether the session stands is unknown while the store is away; the page
                // itself then answers "retry shortly", so the cookie is kept.
                Err(IdentityError::Store(_) | IdentityError::Unexpected(_)) => state
                    .identity
                    .sessions()
                    .verify(token, state.identity.now())
                    .ok(),
                Err(_) => None,
            },
        };
        Self {
            lang,
            nonce,
            new_nonce,
            stale_session: token.is_some() && session.is_none(),
            user: session.as_ref().map(|s| s.user_id.clone()),
            session,
        }
    }

    fn csrf(&self, state: &AppState) -> String {
        state
            .join
            .csrf
            .token(&self.nonce, self.user.as_deref().unwrap_or(""))
    }

    fn csrf_ok(&self, state: &AppState, form: &BTreeMap<String, String>) -> bool {
        !self.new_nonce
            && form.get("csrf").is_some_and(|token| {
                state
                    .join
                    .csrf
                    .verify(&self.nonce, self.user.as_deref().unwrap_or(""), token)
            })
    }
}

fn cookie_attributes(state: &AppState) -> &'static str {
    if state.join.secure_cookies {
        "; Path=/join; HttpOnly; SameSite=Lax; Secure"
    } else {
        "; Path=/join; HttpOnly; SameSite=Lax"
    }
}

/// Adds the headers every join answer carries, and the cookies this visitor needs.
fn finish(
    state: &AppState,
    visitor: &Visitor,
    mut response: Response,
    cookies: &[String],
) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(
        CONTENT_LANGUAGE,
        HeaderValue::from_static(visitor.lang.tag()),
    );
    headers.insert(VARY, HeaderValue::from_static("Accept-Language, Cookie"));
    let attributes = cookie_attributes(state);
    let mut set = Vec::new();
    if visitor.new_nonce {
        set.push(format!("{CSRF_COOKIE}={}{attributes}", visitor.nonce));
    }
    if visitor.stale_session {
        set.push(format!("{SESSION_COOKIE}=; Max-Age=0{attributes}"));
    }
    set.extend(cookies.iter().cloned());
    for value in set {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(SET_COOKIE, value);
        }
    }
    response
}

fn see_other(state: &AppState, visitor: &Visitor, location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    finish(state, visitor, response, cookies)
}

struct Render<'a> {
    room: Option<&'a Room>,
    body: Body<'a>,
    notice: Option<Notice>,
    filled: &'a Filled,
    handle: Option<&'a str>,
    status: StatusCode,
}

fn render(state: &AppState, visitor: &Visitor, page: Render<'_>) -> Response {
    let csrf = visitor.csrf(state);
    let html = Page {
        lang: visitor.lang,
        room_name: page.room.map_or("", |room| room.name.as_str()),
        room_title: page.room.map_or("", |room| room.title.as_str()),
        body: page.body,
        notice: page.notice,
        filled: page.filled,
        csrf: &csrf,
        signed_in_as: page.handle,
    }
    .render();
    let mut response = (page.status, html).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    finish(state, visitor, response, &[])
}

fn not_found(state: &AppState, visitor: &Visitor, code: ErrorCode) -> Response {
    let filled = Filled::default();
    render(
        state,
        visitor,
        Render {
            room: None,
            body: Body::NotFound,
            notice: None,
            filled: &filled,
            handle: None,
            status: code.status(),
        },
    )
}

/// A refusal to be retried: 503 for an outage (logged with its cause), 429 when limited.
fn retry_later(
    state: &AppState,
    visitor: &Visitor,
    room: Option<&Room>,
    error: ApiError,
) -> Response {
    if error.code.status().is_server_error() {
        tracing::error!(
            code = error.code.as_str(),
            cause = error.cause.as_deref().unwrap_or(""),
            "join page failed"
        );
    }
    let filled = Filled::default();
    let mut response = render(
        state,
        visitor,
        Render {
            room,
            body: Body::Unavailable,
            notice: (error.code == ErrorCode::RateLimited).then_some(Notice::RateLimited),
            filled: &filled,
            handle: None,
            status: error.code.status(),
        },
    );
    if let Some(seconds) = error.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn scene_status(scene: &Scene) -> StatusCode {
    match scene {
        Scene::SignIn => StatusCode::OK,
        Scene::Enter { .. } => StatusCode::SEE_OTHER,
        Scene::Pay { .. } => ErrorCode::EntitlementRequired.status(),
        Scene::Banned { .. } => ErrorCode::Banned.status(),
        Scene::Ended { .. } => ErrorCode::RoomEnded.status(),
        Scene::InviteOnly => ErrorCode::InviteRequired.status(),
        Scene::NotYet { .. } => ErrorCode::EntitlementNotYetValid.status(),
    }
}

/// The signed-in visitor's handle, for the page's footer.
async fn handle(state: &AppState, visitor: &Visitor) -> Result<Option<String>, ApiError> {
    let Some(user) = &visitor.user else {
        return Ok(None);
    };
    Ok(state
        .access
        .user(user)
        .await?
        .map(|user| user.handle.clone()))
}

/// Shows the room's page to `visitor`, or sends them into the room. `notice`, `filled`
/// and `status` re-show a refused form.
async fn show(
    state: &AppState,
    visitor: &Visitor,
    room: &str,
    notice: Option<Notice>,
    filled: &Filled,
    status: Option<StatusCode>,
) -> Response {
    let Ok(name) = RoomName::parse(room) else {
        return not_found(state, visitor, ErrorCode::InvalidRequest);
    };
    if let Some(user) = &visitor.user {
        if let Err(seconds) = state.token_limit.check(user) {
            return retry_later(state, visitor, None, ApiError::rate_limited(seconds));
        }
    }
    let visit = match join::visit(
        &state.tokens,
        &state.access,
        &state.meet_url,
        visitor.user.as_deref(),
        &name,
        state.clock.now(),
    )
    .await
    {
        Ok(visit) => visit,
        Err(AccessError::RoomNotFound) => {
            return not_found(state, visitor, ErrorCode::RoomNotFound)
        }
        Err(error) => return retry_later(state, visitor, None, error.into()),
    };
    // A refused form is shown as refused, even to a visitor who may enter.
    if let (Scene::Enter { join_url }, None) = (&visit.scene, status) {
        return see_other(state, visitor, join_url, &[]);
    }
    let handle = match handle(state, visitor).await {
        Ok(handle) => handle,
        Err(error) => return retry_later(state, visitor, Some(&visit.room), error),
    };
    render(
        state,
        visitor,
        Render {
            room: Some(&visit.room),
            body: Body::Scene(&visit.scene),
            notice,
            filled,
            handle: handle.as_deref(),
            status: status.unwrap_or_else(|| scene_status(&visit.scene)),
        },
    )
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

fn field(form: &BTreeMap<String, String>, name: &str) -> String {
    form.get(name).cloned().unwrap_or_default()
}

/// The sign-in and sign-up forms' gate: a valid CSRF token (otherwise the form is shown
/// again, refused) and the client address's sign-in budget, shared with the API's.
async fn admit_account_form(
    state: &AppState,
    visitor: &Visitor,
    room: &str,
    form: &BTreeMap<String, String>,
    filled: &Filled,
    ip: &ClientIp,
) -> Result<(), Response> {
    if !visitor.csrf_ok(state, form) {
        return Err(refuse_form(state, visitor, room, filled).await);
    }
    state
        .auth_limit
        .check(&ip.0.to_string())
        .map_err(|seconds| retry_later(state, visitor, None, ApiError::rate_limited(seconds)))
}

/// A form that fails its CSRF check (or is no form at all) is shown again, refused.
async fn refuse_form(state: &AppState, visitor: &Visitor, room: &str, filled: &Filled) -> Response {
    show(
        state,
        visitor,
        room,
        Some(Notice::FormExpired),
        filled,
        Some(ErrorCode::Forbidden.status()),
    )
    .await
}

/// Signed in: keep the session in a cookie and show the room's page again (which, for an
/// entitled visitor, sends them into the room).
fn signed_in(state: &AppState, visitor: &Visitor, room: &str, session_token: &str) -> Response {
    let Ok(name) = RoomName::parse(room) else {
        return not_found(state, visitor, ErrorCode::InvalidRequest);
    };
    let session = format!(
        "{SESSION_COOKIE}={session_token}; Max-Age={}{}",
        state.join.session_ttl_secs,
        cookie_attributes(state)
    );
    see_other(state, visitor, &format!("/join/{name}"), &[session])
}

/// # `GET /join/{room}`
/// The page Jitsi Meet's `tokenAuthUrl` sends a visitor without a token to: sign in or
/// up, pay, or why not; a visitor who may enter gets a 303 to the Jitsi room with
/// `#jwt=` in the fragment.
/// **Permissions**: anyone; the session cookie decides; token issues rate-limited per user.
#[tracing::instrument(level = "debug", skip_all, fields(room = %room))]
pub async fn page(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Response {
    let visitor = Visitor::new(&state, &headers).await;
    show(&state, &visitor, &room, None, &Filled::default(), None).await
}

/// # `POST /join/{room}/sign-in`
/// The sign-in form: `csrf`, `login` (handle or e-mail), `password`. Success sets the
/// session cookie and answers 303 to the room's page; 401 wrong credentials; 403 bad form.
/// **Permissions**: anyone; rate-limited per client address with the API's sign-in.
#[tracing::instrument(level = "debug", skip_all, fields(room = %room))]
pub async fn sign_in(
    State(state): State<AppState>,
    Path(room): Path<String>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let visitor = Visitor::new(&state, &headers).await;
    let form = read_form(&headers, &body).unwrap_or_default();
    let filled = Filled {
        login: field(&form, "login"),
        ..Filled::default()
    };
    if let Err(refused) = admit_account_form(&state, &visitor, &room, &form, &filled, &ip).await {
        return refused;
    }
    match state
        .identity
        .login(&filled.login, field(&form, "password"), ip.0)
        .await
    {
        Ok(session) => signed_in(&state, &visitor, &room, &session.session_token),
        Err(IdentityError::BadCredentials) => {
            let status = ErrorCode::InvalidCredentials.status();
            show(
                &state,
                &visitor,
                &room,
                Some(Notice::BadCredentials),
                &filled,
                Some(status),
            )
            .await
        }
        Err(error) => retry_later(&state, &visitor, None, error.into()),
    }
}

/// # `POST /join/{room}/sign-up`
/// The sign-up form: `csrf`, `handle`, `email`, `password`, `display_name` (optional).
/// Success creates a viewer, sets the session cookie and answers 303 to the room's page;
/// 422 invalid field, 409 taken, 403 bad form.
/// **Permissions**: anyone; rate-limited per client address with the API's sign-up.
#[tracing::instrument(level = "debug", skip_all, fields(room = %room))]
pub async fn sign_up(
    State(state): State<AppState>,
    Path(room): Path<String>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let visitor = Visitor::new(&state, &headers).await;
    let form = read_form(&headers, &body).unwrap_or_default();
    let filled = Filled {
        handle: field(&form, "handle"),
        email: field(&form, "email"),
        display_name: field(&form, "display_name"),
        ..Filled::default()
    };
    if let Err(refused) = admit_account_form(&state, &visitor, &room, &form, &filled, &ip).await {
        return refused;
    }
    let registration = Registration {
        handle: filled.handle.clone(),
        email: filled.email.clone(),
        password: field(&form, "password"),
        display_name: Some(filled.display_name.clone()).filter(|name| !name.trim().is_empty()),
    };
    let (notice, code) = match state.identity.register(registration, ip.0).await {
        Ok(session) => return signed_in(&state, &visitor, &room, &session.session_token),
        Err(IdentityError::Invalid(field, _)) => {
            (Notice::Invalid(field), ErrorCode::ValidationFailed)
        }
        Err(IdentityError::Taken(field)) => (Notice::Taken(field), ErrorCode::Conflict),
        Err(error) => return retry_later(&state, &visitor, None, error.into()),
    };
    show(
        &state,
        &visitor,
        &room,
        Some(notice),
        &filled,
        Some(code.status()),
    )
    .await
}

/// # `POST /join/{room}/pay`
/// The "pay to enter" button (`csrf`): records a ticket purchase, exactly as
/// `POST /api/rooms/{room}/pay` does, and shows ePayco's checkout as a form to submit.
/// A visitor who is not asked to pay (signed out, entitled, banned…) is sent back to the
/// room's page instead.
/// **Permissions**: a session cookie.
#[tracing::instrument(level = "debug", skip_all, fields(room = %room))]
pub async fn pay(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let visitor = Visitor::new(&state, &headers).await;
    let form = read_form(&headers, &body).unwrap_or_default();
    if !visitor.csrf_ok(&state, &form) {
        return refuse_form(&state, &visitor, &room, &Filled::default()).await;
    }
    let (Some(user), Ok(name)) = (&visitor.user, RoomName::parse(&room)) else {
        return show(&state, &visitor, &room, None, &Filled::default(), None).await;
    };
    let visit = join::visit(
        &state.tokens,
        &state.access,
        &state.meet_url,
        Some(user.as_str()),
        &name,
        state.clock.now(),
    )
    .await;
    let room_record = match visit {
        Ok(visit) if matches!(visit.scene, Scene::Pay { price: Some(_) }) => visit.room,
        _ => return see_other(&state, &visitor, &format!("/join/{name}"), &[]),
    };
    let return_url = format!("{}/join/{name}", state.public_url);
    let checkout = join::checkout(&state.payments, user, &name, &return_url).await;
    let handle = match handle(&state, &visitor).await {
        Ok(handle) => handle,
        Err(error) => return retry_later(&state, &visitor, Some(&room_record), error),
    };
    let filled = Filled::default();
    match checkout {
        Ok((price, form)) => render(
            &state,
            &visitor,
            Render {
                room: Some(&room_record),
                body: Body::Checkout {
                    price: &price,
                    form: &form,
                },
                notice: None,
                filled: &filled,
                handle: handle.as_deref(),
                status: StatusCode::OK,
            },
        ),
        Err(error @ PaymentError::ProviderNotConfigured(_)) => {
            let status = ApiError::from(error).code.status();
            show(
                &state,
                &visitor,
                &room,
                Some(Notice::PaymentUnavailable),
                &filled,
                Some(status),
            )
            .await
        }
        Err(error) => retry_later(&state, &visitor, Some(&room_record), error.into()),
    }
}

/// # `POST /join/{room}/sign-out`
/// Ends the session (its token stops working everywhere), clears the cookie (`csrf` bound
/// to the session) and answers 303 to the page.
/// **Permissions**: a session cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let visitor = Visitor::new(&state, &headers).await;
    let form = read_form(&headers, &body).unwrap_or_default();
    if !visitor.csrf_ok(&state, &form) {
        return refuse_form(&state, &visitor, &room, &Filled::default()).await;
    }
    let Ok(name) = RoomName::parse(&room) else {
        return not_found(&state, &visitor, ErrorCode::InvalidRequest);
    };
    if let Some(session) = &visitor.session {
        if let Err(error) = state.identity.end_session(session).await {
            return retry_later(&state, &visitor, None, error.into());
        }
    }
    let clear = format!("{SESSION_COOKIE}=; Max-Age=0{}", cookie_attributes(&state));
    see_other(&state, &visitor, &format!("/join/{name}"), &[clear])
}
