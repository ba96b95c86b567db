//! Liveness, readiness and metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::http::state::OpsState;

/// # `GET /healthz`
/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// How long readiness waits for the store's answer: a probe is answered (503) at once
/// while the database is away rather than held for the pool's whole acquire timeout.
const STORE_PING_WITHIN: Duration = Duration::from_millis(500);

/// # `GET /readyz`
/// 200 while the store answers within half a second. Whether this instance hears
/// invalidations is reported (`invalidation_bus`) but does not make it unready: without
/// the bus it reads every decision from SQL, which is slower but never stale, and a Redis
/// outage must not take every instance out of a load balancer at once. Alert on the bus
/// (`roomkey_invalidation_bus_up`) instead.
pub async fn readyz(State(state): State<OpsState>) -> Response {
    let store = tokio::time::timeout(STORE_PING_WITHIN, state.store().ping())
        .await
        .is_ok_and(|pinged| pinged.is_ok());
    let bus = state.bus().is_healthy();
    let status = if store {
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
pub async fn metrics(State(state): State<OpsState>) -> Response {
    let mut text = state.metrics().render();
    text.push_str(
        "# HELP roomkey_invalidation_bus_up Whether this instance hears cache invalidations \
         (always 1 without Redis); at 0 it reads every decision from SQL.\n\
         # TYPE roomkey_invalidation_bus_up gauge\n",
    );
    text.push_str(if state.bus().is_healthy() {
        "roomkey_invalidation_bus_up 1\n"
    } else {
        "roomkey_invalidation_bus_up 0\n"
    });
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
