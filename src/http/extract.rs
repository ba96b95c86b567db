//! Extractors: JSON bodies in our error envelope, and who the caller is.
//!
//! Authorization is a type: handlers that need a user take [`UserPrincipal`], admin
//! handlers take [`AdminPrincipal`]; the proof is made here and nowhere else.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::{ApiError, ErrorCode};
use super::state::{AuthState, LiveState};
use crate::access::{AccessService, FactsRead};
use crate::authz::{self, Admin, Caller, Staff};
use crate::config::Secret;
use crate::identity::{IdentityError, VerifiedSession};
use crate::live::signature::{self, RequestKind};

/// A JSON body; syntax errors answer 400 `invalid_json`, shape errors 422 `validation_failed`.
pub struct ApiJson<T>(pub T);

/// Like [`ApiJson`], but an empty body means `T::default()`.
pub struct OptionalJson<T>(pub T);

async fn read_json<T: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
    allow_empty: Option<fn() -> T>,
) -> Result<T, ApiError> {
    if let Some(default) = allow_empty {
        // A declared empty body (`Content-Length: 0`, the common token request) is known
        // empty without polling the body stream or reading its content type.
        if axum::body::HttpBody::size_hint(req.body()).exact() == Some(0) {
            return Ok(default());
        }
    }
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
            } else {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "the request body could not be read",
                )
            }
        })?;
    if bytes.is_empty() {
        if let Some(default) = allow_empty {
            return Ok(default());
        }
    }
    if is_json != Some(true) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        ));
    }
    decode_json(&bytes)
}

/// Whether JSON text escapes a NUL character (`\u0000`): valid JSON, but no text roomkey
/// stores may hold one, and PostgreSQL refuses it with an error rather than a clean answer.
pub fn json_has_nul(bytes: &[u8]) -> bool {
    let mut backslashes = 0_usize;
    for (i, byte) in bytes.iter().enumerate() {
        if *byte == b'\\' {
            backslashes += 1;
            continue;
        }
        if backslashes % 2 == 1 && *byte == b'u' && bytes.get(i + 1..i + 5) == Some(&b"0000"[..]) {
            return true;
        }
        backslashes = 0;
    }
    bytes.contains(&0)
}

/// 422 for input that carries a NUL character.
pub fn nul_refused() -> ApiError {
    ApiError::validation("body", "text must not contain NUL characters")
}

/// Syntax errors are 400 `invalid_json`, shape errors and NUL characters 422
/// `validation_failed`.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if json_has_nul(bytes) {
        return Err(nul_refused());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                ApiError::new(ErrorCode::ValidationFailed, format!("invalid body: {e}"))
            }
            _ => ApiError::new(
                ErrorCode::InvalidJson,
                format!("the body is not valid JSON: {e}"),
            ),
        }
    })
}

/// A JSON body signed by a Prosody shard (`prosody-plugins/PROTOCOL.md`): the signature
/// is checked over the exact bytes received before anything is parsed.
pub struct Signed<T>(pub T);

/// A body type that arrives signed, and for which exchange.
pub trait SignedPayload: DeserializeOwned {
    const KIND: RequestKind;
}

impl<T, S> FromRequest<S> for Signed<T>
where
    T: SignedPayload,
    S: Send + Sync,
    LiveState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let live = LiveState::from_ref(state);
        let (timestamp, presented) = {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            (
                header(signature::TIMESTAMP_HEADER),
                header(signature::SIGNATURE_HEADER),
            )
        };
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
            })?;
        live.live()
            .signer()
            .verify(
                T::KIND,
                timestamp.as_deref(),
                presented.as_deref(),
                &bytes,
                live.clock().now(),
            )
            .map_err(|problem| ApiError::new(ErrorCode::BadSignature, problem.to_string()))?;
        decode_json(&bytes).map(Signed)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state, None).await.map(ApiJson)
    }
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state, Some(T::default))
            .await
            .map(OptionalJson)
    }
}

pub use crate::authz::Via;

/// A platform user: by their own session, or by a trusted backend acting for them, for
/// what the user does as a member of the platform. What needs more than that (staff,
/// a room's moderation, someone's money) goes through [`crate::authz`], from a [`Caller`].
#[derive(Debug, Clone)]
pub struct UserPrincipal {
    pub user_id: String,
    pub via: Via,
    /// The session the caller presented (`None` for a service key).
    pub session: Option<VerifiedSession>,
    /// The caller's facts, if checking the session had to read them (not held in
    /// process), for an access decision in the same request.
    pub facts_read: Option<FactsRead>,
}

/// Who is asking, for [`crate::authz`]'s rules: the admin key, or a signed-in user as
/// they may act (a service key's user never with a staff role).
impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    AuthState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        caller(parts, &AuthState::from_ref(state)).await
    }
}

/// [`Caller`] from a sub-state already taken, so [`Staff`] and [`Admin`] build on it
/// without taking the state again.
async fn caller(parts: &Parts, auth: &AuthState) -> Result<Caller, ApiError> {
    let token = bearer(parts)?;
    if !looks_like_jwt(token)
        && auth.api_keys().is_admin(token)
        && !parts.headers.contains_key(ON_BEHALF_HEADER)
    {
        return Ok(Caller::AdminKey);
    }
    let principal = user_principal(parts, auth).await?;
    let user = signed_in_user(auth.access(), &principal.user_id).await?;
    Ok(Caller::user(user, principal.via))
}

/// Platform staff: a moderator or an admin by session, or the admin key.
impl<S> FromRequestParts<S> for Staff
where
    S: Send + Sync,
    AuthState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = caller(parts, &AuthState::from_ref(state)).await?;
        Ok(authz::staff(&caller)?)
    }
}

/// An admin by session, or the admin key.
impl<S> FromRequestParts<S> for Admin
where
    S: Send + Sync,
    AuthState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = AuthState::from_ref(state);
        let token = bearer(parts)?;
        if !looks_like_jwt(token) && auth.api_keys().is_service(token) {
            return Err(ApiError::forbidden(
                "a service key cannot administer roomkey",
            ));
        }
        let caller = caller(parts, &auth).await?;
        Ok(authz::admin(&caller)?)
    }
}

/// A trusted platform backend (service key), or an admin.
#[derive(Debug, Clone)]
pub struct ServicePrincipal;

/// The header a service key names its user in.
pub const ON_BEHALF_HEADER: &str = "x-roomkey-user";

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("send Authorization: Bearer <session token>"))?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthenticated("malformed Authorization header"))?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthenticated("the Authorization scheme must be Bearer"))?;
    Ok(token)
}

/// The session a token names, if it still stands; 401 otherwise.
async fn session_of(
    auth: &AuthState,
    token: &str,
) -> Result<(VerifiedSession, Option<FactsRead>), ApiError> {
    auth.identity()
        .authenticate_reading(token)
        .await
        .map_err(|error| match error {
            IdentityError::UnknownUser => {
                ApiError::unauthenticated("the session's user no longer exists")
            }
            other => other.into(),
        })
}

/// Session tokens are JWTs; API keys are not.
fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|b| *b == b'.').count() == 2
}

/// Hashes of the configured keys, compared in constant time.
#[derive(Clone, Default)]
pub struct ApiKeys {
    service: Vec<[u8; 32]>,
    admin: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ApiKeys({} service, {} admin)",
            self.service.len(),
            self.admin.len()
        )
    }
}

impl ApiKeys {
    pub fn new(service: &[Secret], admin: &[Secret]) -> Self {
        let digest = |s: &Secret| -> [u8; 32] { Sha256::digest(s.expose().as_bytes()).into() };
        Self {
            service: service.iter().map(digest).collect(),
            admin: admin.iter().map(digest).collect(),
        }
    }

    /// Compares against every key without stopping early, so timing says nothing.
    fn matches(keys: &[[u8; 32]], presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        keys.iter()
            .fold(subtle::Choice::from(0), |found, key| {
                found | key.ct_eq(&presented)
            })
            .into()
    }

    pub fn is_service(&self, presented: &str) -> bool {
        Self::matches(&self.service, presented)
    }

    pub fn is_admin(&self, presented: &str) -> bool {
        Self::matches(&self.admin, presented)
    }
}

impl<S> FromRequestParts<S> for UserPrincipal
where
    S: Send + Sync,
    AuthState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        user_principal(parts, &AuthState::from_ref(state)).await
    }
}

/// [`UserPrincipal`] from a sub-state already taken, for [`Caller`] to build on.
async fn user_principal(parts: &Parts, auth: &AuthState) -> Result<UserPrincipal, ApiError> {
    let token = bearer(parts)?;
    if looks_like_jwt(token) {
        let (session, facts_read) = session_of(auth, token).await?;
        return Ok(UserPrincipal {
            user_id: session.user_id.clone(),
            via: Via::Session,
            session: Some(session),
            facts_read,
        });
    }
    if auth.api_keys().is_service(token) || auth.api_keys().is_admin(token) {
        let user_id = parts
            .headers
            .get(ON_BEHALF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 64)
            .ok_or_else(|| {
                ApiError::unauthenticated("a service key must name the user in X-Roomkey-User")
            })?;
        return Ok(UserPrincipal {
            user_id: user_id.to_owned(),
            via: Via::ServiceKey,
            session: None,
            facts_read: None,
        });
    }
    Err(ApiError::unauthenticated("unknown credentials"))
}

impl<S> FromRequestParts<S> for ServicePrincipal
where
    S: Send + Sync,
    AuthState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = AuthState::from_ref(state);
        let token = bearer(parts)?;
        if auth.api_keys().is_service(token) || auth.api_keys().is_admin(token) {
            Ok(ServicePrincipal)
        } else {
            Err(ApiError::unauthenticated(
                "this needs a service or admin key",
            ))
        }
    }
}

/// The caller's address: the peer, or the first `X-Forwarded-For` hop when configured.
pub struct ClientIp(pub IpAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    AuthState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if AuthState::from_ref(state).trust_forwarded_for() {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok());
            if let Some(ip) = forwarded {
                return Ok(ClientIp(ip));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(peer.unwrap_or(IpAddr::from([127, 0, 0, 1]))))
    }
}

/// Parses `application/x-www-form-urlencoded` (and query strings) into raw string values,
/// decoded by `percent-encoding`: `+` is a space, `%XX` a byte. Stricter than browsers'
/// parsers, because these values are signed or stored: a `%` not followed by two hex digits
/// or a result that is not UTF-8 is refused (400), a NUL character too (422). A repeated
/// key keeps its first value.
pub fn parse_urlencoded(
    text: &str,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    fn decode(part: &str) -> Option<String> {
        let bytes = part.as_bytes();
        let escapes_ok = bytes.iter().enumerate().all(|(i, b)| {
            *b != b'%'
                || bytes
                    .get(i + 1..i + 3)
                    .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
        });
        if !escapes_ok {
            return None;
        }
        let spaced = part.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .ok()
            .map(std::borrow::Cow::into_owned)
    }
    let mut fields = std::collections::BTreeMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let malformed = || ApiError::new(ErrorCode::InvalidRequest, "malformed form encoding");
        let key = decode(key).ok_or_else(malformed)?;
        let value = decode(value).ok_or_else(malformed)?;
        if key.contains('\0') || value.contains('\0') {
            return Err(nul_refused());
        }
        fields.entry(key).or_insert(value);
    }
    Ok(fields)
}

/// A query string deserialised into `T` (with `serde_urlencoded`); a malformed or unknown
/// parameter is 422 in the error envelope, naming it when it can.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(ApiQuery)
            .map_err(|e| {
                let message = e.to_string();
                let field = message.split('`').nth(1).unwrap_or("query").to_owned();
                ApiError::validation(&field, format!("invalid query: {message}"))
            })
    }
}

/// The user a caller's session or service key names, from the access caches; 401 when the
/// account no longer exists.
pub async fn signed_in_user(
    access: &AccessService,
    user_id: &str,
) -> Result<std::sync::Arc<crate::domain::User>, ApiError> {
    access
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("the session's user no longer exists"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percent_escape_is_two_hex_digits_and_nothing_else() {
        // Found by fuzz/ (epayco_form): `%+A` used to decode to a newline.
        for bad in ["a=%+A", "a=b%+0c", "%+d=1", "a=%-1", "a=%4", "a=%zz"] {
            assert!(parse_urlencoded(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_urlencoded("a=%4A%4a").unwrap()["a"], "JJ");
    }

    #[test]
    fn form_decoding_keeps_raw_strings() {
        let fields = parse_urlencoded(
            "x_amount=50000.00&x_response=Aceptada+por+banco&x_extra1=a%2Fb&x_amount=1",
        )
        .unwrap();
        assert_eq!(fields["x_amount"], "50000.00");
        assert_eq!(fields["x_response"], "Aceptada por banco");
        assert_eq!(fields["x_extra1"], "a/b");
        assert!(parse_urlencoded("a=%zz").is_err());
        assert!(parse_urlencoded("a=%c3").is_err());
        let nul = parse_urlencoded("login=ad%00min").unwrap_err();
        assert_eq!(nul.code, ErrorCode::ValidationFailed);
    }

    #[test]
    fn a_nul_escape_is_found_and_an_escaped_backslash_is_not_one() {
        assert!(json_has_nul(br#"{"handle":"a\u0000b"}"#));
        assert!(json_has_nul(br#"{"handle":"a\\\u0000b"}"#));
        assert!(!json_has_nul(br#"{"handle":"a\\u0000b"}"#));
        assert!(!json_has_nul(br#"{"handle":"u0000"}"#));
        assert!(json_has_nul(br#"{"handle":"\u00001"}"#));
        assert!(json_has_nul(b"{\"a\":\"\0\"}"));
    }
}
