//! Around every request: a request id, the error envelope, latency metrics, and a log line
//! for failures (with the hidden cause of 5xx answers).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::RenderedError;
use super::state::AppState;
use crate::telemetry::metrics::Metrics;

pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| {
            state
                .metrics
                .route_id(request.method().as_str(), path.as_str())
        })
        .unwrap_or(Metrics::UNMATCHED);
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| crate::ids::random_uuid().simple().to_string());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();

    let mut response = next.run(request).await;
    if let Some(error) = response.extensions_mut().remove::<RenderedError>() {
        let status = response.status();
        if status.is_server_error() {
            tracing::error!(%request_id, %method, %path, status = status.as_u16(), code = error.code.as_str(), cause = error.cause.as_deref().unwrap_or(""), "request failed");
        } else {
            tracing::debug!(%request_id, %method, %path, status = status.as_u16(), code = error.code.as_str(), "request refused");
        }
        let headers = std::mem::take(response.headers_mut());
        response = (status, axum::Json(error.body(&request_id))).into_response();
        for (name, value) in headers.iter() {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    state
        .metrics
        .observe_http(route, response.status().as_u16(), started.elapsed());
    response
}
