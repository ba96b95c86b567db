//! Liveness, readiness and metrics.

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

/// # `GET /readyz`
/// The store answers and, with Redis, this instance hears invalidations.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.store.ping().await.is_ok();
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
