//! The join page's handlers: cookies and forms in, one call to the join module, HTML out.
//!
//! Statuses come from the error table ([`ErrorCode::status`]) so the page and the API
//! answer alike: 402 pay, 403 banned / invite-only / not yet / bad form, 404 unknown room,
//! 410 ended, 429 slow down, 503 retry. Entering is a 303 to the Jitsi room with the
//! token in the fragment. Every answer is `no-store` and sends no `Referer`.

mod answer;
pub mod oidc;
pub mod visitor;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::access::{AccessError, FactsRead};
use crate::domain::{Money, Room, RoomName};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::ClientIp;
use crate::http::state::JoinState;
use crate::identity::{IdentityError, Registration};
use crate::join::html::{Body, Filled, Notice};
use crate::join::{self, Scene, Visit};
use crate::payments::{CheckoutForm, PaymentError};
use answer::{
    cookie_attributes, not_found, render, retry_later, scene_page, see_other, Again, Render,
};
use visitor::{field, JoinForm, Visitor};

/// The platform session, for the join pages only (the API takes `Authorization`).
pub const SESSION_COOKIE: &str = "roomkey_session";
/// The browser's CSRF nonce.
pub const CSRF_COOKIE: &str = "roomkey_csrf";

/// The signed-in visitor's handle, for the page's footer.
async fn handle(state: &JoinState, visitor: &Visitor) -> Result<Option<String>, ApiError> {
    let Some(user) = &visitor.user else {
        return Ok(None);
    };
    Ok(state
        .access()
        .user(user)
        .await?
        .map(|user| user.handle.clone()))
}

/// What the join module decides for `user` in the room now; `read`, the user's facts if
/// this request already read them.
async fn decide(
    state: &JoinState,
    user: Option<&str>,
    read: Option<&FactsRead>,
    name: &RoomName,
) -> Result<Visit, AccessError> {
    let now = state.clock().now();
    join::visit(
        state.tokens(),
        state.access(),
        state.meet_url(),
        user,
        read,
        name,
        now,
    )
    .await
}

/// What `visitor` sees in the room, or the page that says why there is nothing to see:
/// the room is unknown, the visitor's token budget is spent, or the store is away.
async fn visit(state: &JoinState, visitor: &Visitor, name: &RoomName) -> Result<Visit, Response> {
    let limited = visitor
        .user
        .as_ref()
        .map(|user| state.token_limit().check(user));
    if let Some(Err(seconds)) = limited {
        let error = ApiError::rate_limited(seconds);
        return Err(retry_later(state, visitor, None, error));
    }
    match decide(
        state,
        visitor.user.as_deref(),
        visitor.facts_read.as_ref(),
        name,
    )
    .await
    {
        Ok(visit) => Ok(visit),
        Err(AccessError::RoomNotFound) => Err(not_found(state, visitor, ErrorCode::RoomNotFound)),
        Err(error) => Err(retry_later(state, visitor, None, error.into())),
    }
}

/// The room's page for `visit`, with the visitor's handle in its footer.
async fn scene_answer(
    state: &JoinState,
    visitor: &Visitor,
    visit: &Visit,
    again: Option<Again<'_>>,
) -> Response {
    let empty = Filled::default();
    match handle(state, visitor).await {
        Ok(handle) => {
            let page = scene_page(visit, handle.as_deref(), again, &empty);
            render(state, visitor, page)
        }
        Err(error) => retry_later(state, visitor, Some(&visit.room), error),
    }
}

/// Shows the room's page to `visitor`, or sends them into the room; `again` re-shows a
/// refused form.
async fn show(
    state: &JoinState,
    visitor: &Visitor,
    room: &str,
    again: Option<Again<'_>>,
) -> Response {
    let Ok(name) = RoomName::parse(room) else {
        return not_found(state, visitor, ErrorCode::InvalidRequest);
    };
    let visit = match visit(state, visitor, &name).await {
        Ok(visit) => visit,
        Err(refused) => return refused,
    };
    // A refused form is shown as refused, even to a visitor who may enter.
    if let (Scene::Enter { join_url }, None) = (&visit.scene, &again) {
        return see_other(state, visitor, join_url, &[]);
    }
    scene_answer(state, visitor, &visit, again).await
}

/// The sign-in and sign-up forms' gate: a valid CSRF token (otherwise the form is shown
/// again, refused) and the client address's sign-in budget, shared with the API's.
async fn admit_account_form(
    state: &JoinState,
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
        .auth_limit()
        .check(&ip.0.to_string())
        .map_err(|seconds| retry_later(state, visitor, None, ApiError::rate_limited(seconds)))
}

/// A form that fails its CSRF check (or is no form at all) is shown again, refused.
async fn refuse_form(
    state: &JoinState,
    visitor: &Visitor,
    room: &str,
    filled: &Filled,
) -> Response {
    let again = Again::new(Notice::FormExpired, filled, ErrorCode::Forbidden);
    show(state, visitor, room, Some(again)).await
}

/// Signed in: keep the session in a cookie and show the room's page again (which, for an
/// entitled visitor, sends them into the room).
fn signed_in(state: &JoinState, visitor: &Visitor, room: &str, session_token: &str) -> Response {
    let Ok(name) = RoomName::parse(room) else {
        return not_found(state, visitor, ErrorCode::InvalidRequest);
    };
    let session = format!(
        "{SESSION_COOKIE}={session_token}; Max-Age={}{}",
        state.join().session_ttl_secs,
        cookie_attributes(state)
    );
    see_other(state, visitor, &format!("/join/{name}"), &[session])
}

/// The sign-in form's fields to show again, if it is refused (never the password).
fn sign_in_filled(form: &BTreeMap<String, String>) -> Filled {
    Filled {
        login: field(form, "login"),
        ..Filled::default()
    }
}

/// The sign-up form's fields to show again, if it is refused (never the password).
fn sign_up_filled(form: &BTreeMap<String, String>) -> Filled {
    Filled {
        handle: field(form, "handle"),
        email: field(form, "email"),
        display_name: field(form, "display_name"),
        ..Filled::default()
    }
}

/// A new viewer from the sign-up form; a blank display name means none.
fn registration(filled: &Filled, password: String) -> Registration {
    Registration {
        handle: filled.handle.clone(),
        email: filled.email.clone(),
        password,
        display_name: Some(filled.display_name.clone()).filter(|name| !name.trim().is_empty()),
    }
}

/// The room, when `user` is asked to pay for it (a paid room with a price, not yet
/// bought); `None` for a visitor who is not.
async fn payable_room(state: &JoinState, user: &str, name: &RoomName) -> Option<Arc<Room>> {
    match decide(state, Some(user), None, name).await {
        Ok(visit) if matches!(visit.scene, Scene::Pay { price: Some(_) }) => Some(visit.room),
        _ => None,
    }
}

/// ePayco's checkout as a form to submit, for `room`.
fn checkout_page(
    state: &JoinState,
    visitor: &Visitor,
    room: &Room,
    handle: Option<&str>,
    (price, form): (Money, CheckoutForm),
) -> Response {
    let filled = Filled::default();
    let page = Render {
        room: Some(room),
        body: Body::Checkout {
            price: &price,
            form: &form,
        },
        notice: None,
        filled: &filled,
        handle,
        status: StatusCode::OK,
    };
    render(state, visitor, page)
}

/// The answer to a checkout: its form, the page again when no provider takes the payment,
/// or "retry later".
async fn checkout_answer(
    state: &JoinState,
    visitor: &Visitor,
    (room, record): (&str, &Room),
    handle: Option<&str>,
    checkout: Result<(Money, CheckoutForm), PaymentError>,
) -> Response {
    match checkout {
        Ok(checkout) => checkout_page(state, visitor, record, handle, checkout),
        Err(error @ PaymentError::ProviderNotConfigured(_)) => {
            let (filled, code) = (Filled::default(), ApiError::from(error).code);
            let again = Again::new(Notice::PaymentUnavailable, &filled, code);
            show(state, visitor, room, Some(again)).await
        }
        Err(error) => retry_later(state, visitor, Some(record), error.into()),
    }
}

/// # `GET /join/{room}`
/// The page Jitsi Meet's `tokenAuthUrl` sends a visitor without a token to: sign in or
/// up, pay, or why not; a visitor who may enter gets a 303 to the Jitsi room with
/// `#jwt=` in the fragment.
/// **Permissions**: anyone; the session cookie decides; token issues rate-limited per user.
#[tracing::instrument(level = "debug", skip_all, fields(room = %room))]
pub async fn page(
    State(state): State<JoinState>,
    Path(room): Path<String>,
    visitor: Visitor,
) -> Response {
    show(&state, &visitor, &room, None).await
}

/// # `POST /join/{room}/sign-in`
/// The sign-in form: `csrf`, `login` (handle or e-mail), `password`. Success sets the
/// session cookie and answers 303 to the room's page; 401 wrong credentials; 403 bad form.
/// **Permissions**: anyone; rate-limited per client address with the API's sign-in.
#[tracing::instrument(level = "debug", skip_all, fields(room = %room))]
pub async fn sign_in(
    State(state): State<JoinState>,
    Path(room): Path<String>,
    ip: ClientIp,
    JoinForm { visitor, form }: JoinForm,
) -> Response {
    let filled = sign_in_filled(&form);
    if let Err(refused) = admit_account_form(&state, &visitor, &room, &form, &filled, &ip).await {
        return refused;
    }
    let password = field(&form, "password");
    match state.identity().login(&filled.login, password, ip.0).await {
        Ok(session) => signed_in(&state, &visitor, &room, &session.session_token),
        Err(IdentityError::BadCredentials) => {
            let again = Again::new(
                Notice::BadCredentials,
                &filled,
                ErrorCode::InvalidCredentials,
            );
            show(&state, &visitor, &room, Some(again)).await
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
    State(state): State<JoinState>,
    Path(room): Path<String>,
    ip: ClientIp,
    JoinForm { visitor, form }: JoinForm,
) -> Response {
    let filled = sign_up_filled(&form);
    if let Err(refused) = admit_account_form(&state, &visitor, &room, &form, &filled, &ip).await {
        return refused;
    }
    let registration = registration(&filled, field(&form, "password"));
    let (notice, code) = match state.identity().register(registration, ip.0).await {
        Ok(session) => return signed_in(&state, &visitor, &room, &session.session_token),
        Err(IdentityError::Invalid(field, _)) => {
            (Notice::Invalid(field), ErrorCode::ValidationFailed)
        }
        Err(IdentityError::Taken(field)) => (Notice::Taken(field), ErrorCode::Conflict),
        Err(error) => return retry_later(&state, &visitor, None, error.into()),
    };
    let again = Again::new(notice, &filled, code);
    show(&state, &visitor, &room, Some(again)).await
}

/// # `POST /join/{room}/pay`
/// The "pay to enter" button (`csrf`): records a ticket purchase, exactly as
/// `POST /api/rooms/{room}/pay` does, and shows ePayco's checkout as a form to submit.
/// A visitor who is not asked to pay (signed out, entitled, banned…) is sent back to the
/// room's page instead.
/// **Permissions**: a session cookie.
#[tracing::instrument(level = "debug", skip_all, fields(room = %room))]
pub async fn pay(
    State(state): State<JoinState>,
    Path(room): Path<String>,
    JoinForm { visitor, form }: JoinForm,
) -> Response {
    if !visitor.csrf_ok(&state, &form) {
        return refuse_form(&state, &visitor, &room, &Filled::default()).await;
    }
    let (Some(user), Ok(name)) = (&visitor.user, RoomName::parse(&room)) else {
        return show(&state, &visitor, &room, None).await;
    };
    let Some(record) = payable_room(&state, user, &name).await else {
        return see_other(&state, &visitor, &format!("/join/{name}"), &[]);
    };
    let return_url = format!("{}/join/{name}", state.public_url());
    let checkout = join::checkout(state.payments(), user, &name, &return_url).await;
    match handle(&state, &visitor).await {
        Ok(handle) => {
            let handle = handle.as_deref();
            checkout_answer(&state, &visitor, (&room, &record), handle, checkout).await
        }
        Err(error) => retry_later(&state, &visitor, Some(&record), error),
    }
}

/// # `POST /join/{room}/sign-out`
/// Ends the session (its token stops working everywhere), clears the cookie (`csrf` bound
/// to the session) and answers 303 to the page.
/// **Permissions**: a session cookie.
pub async fn sign_out(
    State(state): State<JoinState>,
    Path(room): Path<String>,
    JoinForm { visitor, form }: JoinForm,
) -> Response {
    if !visitor.csrf_ok(&state, &form) {
        return refuse_form(&state, &visitor, &room, &Filled::default()).await;
    }
    let Ok(name) = RoomName::parse(&room) else {
        return not_found(&state, &visitor, ErrorCode::InvalidRequest);
    };
    if let Some(session) = &visitor.session {
        if let Err(error) = oidc::end_browser_session(&state, session).await {
            return retry_later(&state, &visitor, None, error);
        }
    }
    let clear = format!("{SESSION_COOKIE}=; Max-Age=0{}", cookie_attributes(&state));
    see_other(&state, &visitor, &format!("/join/{name}"), &[clear])
}
