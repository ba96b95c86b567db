//! Around every request: a request id, the error envelope, latency metrics, a log line for
//! failures (with the hidden cause of 5xx answers), and the headers every answer carries:
//! `X-Content-Type-Options: nosniff`, and `Cache-Control: no-store` unless a handler chose
//! otherwise (session tokens and Jitsi tokens are in answers; no cache may keep them).
//! A NUL character in the path or query is refused here (422), before any handler could
//! pass it to the store, and the plain-text rejections of axum's own extractors (a path
//! segment that is not UTF-8, say) are rewritten into the error envelope.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{StatusCode, Uri};

use super::error::{ApiError, ErrorCode, RenderedError};
use super::state::OpsState;
use crate::telemetry::metrics::Metrics;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The caller's `X-Request-Id` when it is a sane one (1–64 letters, digits and dashes),
/// otherwise a fresh random one; kept as the header value it goes out as, so an answer
/// costs one small allocation for its id and no string formatting.
fn request_id(request: &Request) -> HeaderValue {
    request
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let v = v.as_bytes();
            !v.is_empty()
                && v.len() <= 64
                && v.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        })
        .cloned()
        .unwrap_or_else(|| {
            let mut text = [0u8; uuid::fmt::Simple::LENGTH];
            let text = crate::ids::random_uuid().simple().encode_lower(&mut text);
            HeaderValue::from_str(text).expect("hex digits are a valid header value")
        })
}

pub async fn observe(State(ops): State<OpsState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| {
            ops.metrics()
                .route_id(request.method().as_str(), path.as_str())
        })
        .unwrap_or(Metrics::UNMATCHED);
    let request_id = request_id(&request);
    // Kept for the log line of a failure; both are cheap clones (the URI shares the bytes
    // hyper read), where copying the path out would allocate on every request.
    let method = request.method().clone();
    let uri = request.uri().clone();

    let mut response = if has_nul(request.uri()) {
        ApiError::validation("path", "the path or query must not contain NUL characters")
            .into_response()
    } else {
        next.run(request).await
    };
    if response.extensions().get::<RenderedError>().is_none()
        && response.status().is_client_error()
        && is_plain_text(&response)
    {
        response = into_envelope(response).await;
    }
    if let Some(error) = response.extensions_mut().remove::<RenderedError>() {
        let status = response.status();
        let path = uri.path();
        let request_id = request_id.to_str().unwrap_or_default();
        if status.is_server_error() {
            tracing::error!(%request_id, %method, %path, status = status.as_u16(), code = error.code.as_str(), cause = error.cause.as_deref().unwrap_or(""), "request failed");
        } else {
            tracing::debug!(%request_id, %method, %path, status = status.as_u16(), code = error.code.as_str(), "request refused");
        }
        let headers = std::mem::take(response.headers_mut());
        response = (status, axum::Json(error.body(request_id))).into_response();
        for (name, value) in headers.iter() {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, request_id);
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    ops.metrics()
        .observe_http(route, response.status().as_u16(), started.elapsed());
    response
}

/// `%00` anywhere in the path or query.
fn has_nul(uri: &Uri) -> bool {
    let target = uri.path_and_query().map_or("", |p| p.as_str()).as_bytes();
    target
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

fn is_plain_text(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"))
}

/// An extractor's plain-text refusal as an [`ApiError`], its text as the message.
async fn into_envelope(response: Response) -> Response {
    let status = response.status();
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::ValidationFailed,
        _ => ErrorCode::InvalidRequest,
    };
    let message = if text.is_empty() {
        "the request is malformed".to_owned()
    } else {
        text
    };
    ApiError::new(code, message).into_response()
}
