//! Public keys for Prosody (`asap_key_server`) and JWKS consumers, and token introspection.

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ServicePrincipal};
use crate::http::state::TokenState;

/// # `GET /.well-known/jwks.json`
/// Every RS256 public key in force (pending, active, or retired with live tokens).
/// **Permissions**: anyone.
pub async fn jwks(State(state): State<TokenState>) -> Response {
    let keys = state.tokens().jitsi().keyring().current();
    let jwks: Vec<_> = keys.published.iter().map(|k| k.jwk.clone()).collect();
    (
        [(CACHE_CONTROL, "public, max-age=300")],
        Json(serde_json::json!({ "keys": jwks })),
    )
        .into_response()
}

/// # `GET /jitsi/keys/{sha256hex(kid)}.pem`
/// One public key as Prosody's `asap_key_server` fetches it.
/// **Permissions**: anyone.
pub async fn pem(
    State(state): State<TokenState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let keys = state.tokens().jitsi().keyring().current();
    let key = keys
        .published
        .iter()
        .find(|k| k.file_name == file)
        .ok_or_else(|| ApiError::not_found("no such public key"))?;
    Ok((
        [
            (CONTENT_TYPE, "application/x-pem-file"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        key.pem.clone(),
    )
        .into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectBody {
    token: String,
}

#[derive(Serialize, JsonSchema)]
pub struct IntrospectView {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<crate::tokens::jitsi::VerifiedJitsiClaims>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// # `POST /api/tokens/introspect`
/// Checks a Jitsi token exactly as roomkey issues them (algorithm, key, issuer, audience,
/// expiry). Session tokens are never active here.
/// **Permissions**: a service or admin key.
pub async fn introspect(
    State(state): State<TokenState>,
    _service: ServicePrincipal,
    ApiJson(body): ApiJson<IntrospectBody>,
) -> Json<IntrospectView> {
    let now = state.identity().now();
    Json(match state.tokens().jitsi().verify(&body.token, now) {
        Ok(claims) => IntrospectView {
            active: true,
            claims: Some(claims),
            reason: None,
        },
        Err(error) => IntrospectView {
            active: false,
            claims: None,
            reason: Some(error.to_string()),
        },
    })
}
