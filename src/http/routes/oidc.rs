//! The OpenID Provider's machine-facing endpoints: discovery, the ID-token keys, the token
//! endpoint, userinfo and revocation. The browser-facing ones (authorize, consent,
//! logout) are in `join::oidc`, beside the sign-in forms they reuse.
//!
//! The token and revocation endpoints answer errors as OAuth defines them (RFC 6749 §5.2:
//! `{"error": "invalid_grant", "error_description": "…"}`), not in roomkey's envelope,
//! because that is what every relying-party library parses. Userinfo answers in the
//! envelope with RFC 6750's `WWW-Authenticate` header.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::http::error::ApiError;
use crate::http::extract::{parse_urlencoded, ClientIp};
use crate::http::state::OidcState;
use crate::oidc::{OidcError, TokenError};

/// # `GET /.well-known/openid-configuration`
/// The discovery document: every endpoint, algorithm and method the provider supports.
/// **Permissions**: anyone.
pub async fn discovery(State(state): State<OidcState>) -> Response {
    let document = state.oidc().discovery();
    ([(CACHE_CONTROL, "public, max-age=300")], Json(document)).into_response()
}

/// # `GET /oidc/jwks`
/// The ID-token key's public half. Only ID tokens are signed with it; the Jitsi keys are
/// at `/.well-known/jwks.json` and verify nothing here.
/// **Permissions**: anyone.
pub async fn jwks(State(state): State<OidcState>) -> Response {
    let keys = state.oidc().jwks();
    ([(CACHE_CONTROL, "public, max-age=300")], Json(keys)).into_response()
}

/// # `POST /oidc/token`
/// The `authorization_code` and `refresh_token` grants (form-encoded). Client
/// authentication: `client_secret_basic`, `client_secret_post`, or none for a public
/// client (PKCE then proves possession of the code).
/// **Permissions**: a registered client; `oidc.requests_per_minute` per client address
/// (with revocation), then 429 `temporarily_unavailable` with `Retry-After`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn token(
    State(state): State<OidcState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(seconds) = state.oidc_limit().check(&limit_key(CLIENT_CALLS, &ip)) {
        return oauth_slow_down(seconds);
    }
    let Some(form) = oauth_form(&headers, &body) else {
        return not_a_form();
    };
    match state.oidc().token(authorization(&headers), &form).await {
        Ok(tokens) => no_store(Json(tokens).into_response()),
        Err(error) => oauth_error(error),
    }
}

/// # `POST /oidc/revoke`
/// RFC 7009: revokes a token (and the family it belongs to). 200 even for an unknown
/// token, as the RFC asks.
/// **Permissions**: the client the token was issued to; rate-limited with the token
/// endpoint.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke(
    State(state): State<OidcState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(seconds) = state.oidc_limit().check(&limit_key(CLIENT_CALLS, &ip)) {
        return oauth_slow_down(seconds);
    }
    let Some(form) = oauth_form(&headers, &body) else {
        return not_a_form();
    };
    match state.oidc().revoke(authorization(&headers), &form).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(error) => oauth_error(error),
    }
}

/// # `GET /oidc/userinfo` (and `POST`)
/// The claims the access token's scopes release about its user (OpenID Connect Core §5.3).
/// **Permissions**: `Authorization: Bearer <OIDC access token>`; no other token type.
/// `oidc.requests_per_minute` per client address, then 429 `rate_limited`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn userinfo(
    State(state): State<OidcState>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Response {
    if let Err(seconds) = state.oidc_limit().check(&limit_key(USERINFO_CALLS, &ip)) {
        return ApiError::rate_limited(seconds).into_response();
    }
    let bearer = authorization(&headers).and_then(|value| value.strip_prefix("Bearer "));
    let Some(token) = bearer else {
        return invalid_token(ApiError::unauthenticated(
            "an OIDC access token is required",
        ));
    };
    match state.oidc().userinfo(token.trim()).await {
        Ok(claims) => no_store(Json(claims).into_response()),
        Err(OidcError::InvalidToken) => {
            invalid_token(ApiError::unauthenticated("the access token is not valid"))
        }
        Err(OidcError::Store(error)) => ApiError::from(error).into_response(),
        Err(OidcError::Unexpected(error)) => ApiError::internal(error).into_response(),
    }
}

/// The rate limits' groups: each counts on its own, so a busy relying party's userinfo
/// calls do not use up its token exchanges.
pub(crate) const CLIENT_CALLS: &str = "oidc-client";
const USERINFO_CALLS: &str = "oidc-userinfo";

/// The key one client address counts under in `group`.
pub(crate) fn limit_key(group: &str, ip: &ClientIp) -> String {
    format!("{group}:{}", ip.0)
}

/// The token and revocation endpoints' 429: an OAuth error body (RFC 6749 §5.2 has no
/// code for it; `temporarily_unavailable` is the registered one that says "try later")
/// and `Retry-After`.
fn oauth_slow_down(seconds: u64) -> Response {
    let body = serde_json::json!({
        "error": "temporarily_unavailable",
        "error_description": "too many requests; slow down",
    });
    let mut response = no_store((StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response());
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
}

/// A token or revocation request's form, if the body is one.
fn oauth_form(headers: &HeaderMap, body: &Bytes) -> Option<BTreeMap<String, String>> {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|value| {
            value
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let text = std::str::from_utf8(body).ok().filter(|_| is_form)?;
    parse_urlencoded(text).ok()
}

/// The refusal of a body that is not a form.
fn not_a_form() -> Response {
    oauth_error(TokenError::InvalidRequest(
        "the body must be application/x-www-form-urlencoded",
    ))
}

/// RFC 6749 §5.1: token answers are never cached.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An OAuth error body with its status: 401 (and a Basic challenge) for a client that
/// failed to authenticate, 503 when the store is away, 400 otherwise.
fn oauth_error(error: TokenError) -> Response {
    let status = match &error {
        TokenError::InvalidClient => StatusCode::UNAUTHORIZED,
        TokenError::Store(_) | TokenError::Unexpected(_) => {
            tracing::error!(error = %error, "OIDC token endpoint failed");
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::BAD_REQUEST,
    };
    let description = match &error {
        TokenError::Store(_) | TokenError::Unexpected(_) => "retry shortly".to_owned(),
        other => other.to_string(),
    };
    let body = serde_json::json!({ "error": error.code(), "error_description": description });
    let mut response = no_store((status, Json(body)).into_response());
    if status == StatusCode::UNAUTHORIZED {
        let challenge = HeaderValue::from_static("Basic realm=\"roomkey\"");
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    response
}

/// A userinfo refusal with RFC 6750's challenge.
fn invalid_token(error: ApiError) -> Response {
    let mut response = error.into_response();
    let challenge = HeaderValue::from_static("Bearer error=\"invalid_token\"");
    response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    response
}
