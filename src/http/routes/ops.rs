//! Liveness, readiness and metrics.

use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::http::state::OpsState;
use crate::store::{Outbox, Store};

/// # `GET /healthz`
/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// # `GET /openapi.json`
/// The API contract (OpenAPI 3.1), built once per process.
pub async fn openapi() -> Response {
    (
        [(CONTENT_TYPE, "application/json")],
        crate::http::openapi::bytes(),
    )
        .into_response()
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
/// Prometheus text exposition: the catalogue, then what is only known by asking (the bus,
/// readiness, the outboxes' backlogs) so that alerts see what a probe would see.
pub async fn metrics(State(state): State<OpsState>) -> Response {
    let mut text = state.metrics().render();
    render_bus(&mut text, state.bus().is_healthy());
    render_store_gauges(&mut text, state.store()).await;
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

fn render_bus(text: &mut String, healthy: bool) {
    text.push_str(
        "# HELP roomkey_invalidation_bus_up Whether this instance hears cache invalidations \
         (always 1 without Redis); at 0 it reads every decision from SQL.\n\
         # TYPE roomkey_invalidation_bus_up gauge\n",
    );
    let _ = writeln!(text, "roomkey_invalidation_bus_up {}", u8::from(healthy));
}

/// The outboxes a backlog can build up in, with their label values.
const OUTBOXES: [(Outbox, &str); 5] = [
    (Outbox::Changes, "changes"),
    (Outbox::Live, "live"),
    (Outbox::Matrix, "matrix"),
    (Outbox::Mastodon, "mastodon"),
    (Outbox::OidcLogout, "oidc_logout"),
];

/// `roomkey_ready` is what `/readyz` would answer now, so readiness is recorded between
/// probes and its flapping can be alerted on. Each outbox's backlog is counted with the
/// same half-second bound: while the store is away the scrape still answers at once,
/// without the backlog series, rather than with a count that is not known.
async fn render_store_gauges(text: &mut String, store: &Store) {
    let ready = tokio::time::timeout(STORE_PING_WITHIN, store.ping())
        .await
        .is_ok_and(|pinged| pinged.is_ok());
    text.push_str(
        "# HELP roomkey_ready Whether /readyz answers 200 now (the store answers within 0.5 s).\n\
         # TYPE roomkey_ready gauge\n",
    );
    let _ = writeln!(text, "roomkey_ready {}", u8::from(ready));
    text.push_str(
        "# HELP roomkey_outbox_pending Rows waiting in an outbox (being retried included, \
         given up on excluded).\n# TYPE roomkey_outbox_pending gauge\n",
    );
    if !ready {
        return;
    }
    for (outbox, label) in OUTBOXES {
        let counted =
            tokio::time::timeout(STORE_PING_WITHIN, store.count_pending_outbox_rows(outbox)).await;
        if let Ok(Ok(n)) = counted {
            let _ = writeln!(text, "roomkey_outbox_pending{{outbox=\"{label}\"}} {n}");
        }
    }
}
