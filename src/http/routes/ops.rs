//! Liveness, readiness and metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::http::state::AppState;

/// # `GET /healthz`
/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// How long readiness waits for the store's answer: a probe is answered (503) at once
/// while the database is away rather than held for the pool's whole acquire timeout.
const STORE_PING_WITHIN: Duration = Duration::from_millis(500);

/// # `GET /readyz`
/// The store answers within half a second and, with Redis, this instance hears
/// invalidations.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let store = tokio::time::timeout(STORE_PING_WITHIN, state.store.ping())
        .await
        .is_ok_and(|pinged| pinged.is_ok());
    let bus = state.bus.is_healthy();
    let status = if store && bus {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({"store": store, "invalidation_bus": bus})),
    )
        .into_response()
}

/// # `GET /metrics`
/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
