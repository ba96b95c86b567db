//! The join page's answers: HTML pages, redirects, and the headers and cookies every one
//! of them carries.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_LANGUAGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION,
    REFERRER_POLICY, RETRY_AFTER, SET_COOKIE, VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::visitor::Visitor;
use super::{CSRF_COOKIE, SESSION_COOKIE};
use crate::domain::Room;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::state::JoinState;
use crate::join::html::{Body, Filled, Notice, Page};
use crate::join::{Scene, Visit};

const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

/// The cookies are the whole site's (`Path=/`): the session signed in on the join page is
/// the one the OpenID Provider's `/oidc/authorize` recognises, and the other way round.
pub(super) fn cookie_attributes(state: &JoinState) -> &'static str {
    if state.join().secure_cookies {
        "; Path=/; HttpOnly; SameSite=Lax; Secure"
    } else {
        "; Path=/; HttpOnly; SameSite=Lax"
    }
}

/// Adds the headers every join answer carries, and the cookies this visitor needs.
pub(super) fn finish(
    state: &JoinState,
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

pub(super) fn see_other(
    state: &JoinState,
    visitor: &Visitor,
    location: &str,
    cookies: &[String],
) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    finish(state, visitor, response, cookies)
}

pub(super) struct Render<'a> {
    pub(super) room: Option<&'a Room>,
    pub(super) body: Body<'a>,
    pub(super) notice: Option<Notice>,
    pub(super) filled: &'a Filled,
    pub(super) handle: Option<&'a str>,
    pub(super) status: StatusCode,
}

pub(super) fn render(state: &JoinState, visitor: &Visitor, page: Render<'_>) -> Response {
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

pub(super) fn not_found(state: &JoinState, visitor: &Visitor, code: ErrorCode) -> Response {
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
pub(super) fn retry_later(
    state: &JoinState,
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
        Scene::Full { .. } => ErrorCode::RoomFull.status(),
    }
}

/// A refused form shown again: why, what the visitor had typed, and the refusal's status.
pub(super) struct Again<'a> {
    pub(super) notice: Notice,
    pub(super) filled: &'a Filled,
    pub(super) status: StatusCode,
}

impl<'a> Again<'a> {
    pub(super) fn new(notice: Notice, filled: &'a Filled, code: ErrorCode) -> Self {
        Self {
            notice,
            filled,
            status: code.status(),
        }
    }
}

/// The room's page for this visit; a refused form keeps its notice, fields and status.
pub(super) fn scene_page<'a>(
    visit: &'a Visit,
    handle: Option<&'a str>,
    again: Option<Again<'a>>,
    empty: &'a Filled,
) -> Render<'a> {
    let (notice, filled, status) = match again {
        Some(again) => (Some(again.notice), again.filled, again.status),
        None => (None, empty, scene_status(&visit.scene)),
    };
    Render {
        room: Some(&visit.room),
        body: Body::Scene(&visit.scene),
        notice,
        filled,
        handle,
        status,
    }
}
