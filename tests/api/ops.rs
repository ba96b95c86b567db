//! Health, readiness, metrics, and the envelope for requests no route matches.

use axum::http::{Method, StatusCode};

use crate::helpers::*;

per_backend!(health_readiness_and_metrics);
async fn health_readiness_and_metrics(backend: Backend) {
    let app = spawn_app(&backend).await;
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}: {ready:?}", backend.label);
    let cast = stage(&app, "paid").await;
    app.token(&cast.room, &cast.viewer_session).await;
    let metrics = app.get("/metrics", None).await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains("roomkey_tokens_total{outcome=\"payment_required\"} 1"),
        "{text}"
    );
    assert!(text.contains("roomkey_http_requests_total{method=\"POST\",route=\"/api/rooms/{room}/token\",status=\"402\"} 1"));
    assert!(
        !text.contains("livealex2026"),
        "no room, user or token in labels"
    );
    assert!(!text.contains(&cast.viewer_id));
    app.shutdown().await;
}

#[tokio::test]
async fn unmatched_paths_and_methods_answer_in_the_envelope() {
    let app = spawn_app(&Backend::sqlite()).await;
    let reply = app.get("/nope", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["error"]["code"], "not_found");
    let reply = app
        .call(Method::DELETE, "/api/auth/login", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.body["error"]["code"], "method_not_allowed");
    let text = app
        .get("/metrics", None)
        .await
        .body
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("route=\"unmatched\",status=\"404\"} 1"),
        "{text}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app(&Backend::sqlite()).await;
    let huge = "x".repeat(100 * 1024);
    let reply = app
        .post(
            "/api/auth/register",
            None,
            serde_json::json!({"handle": huge}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body["error"]["code"], "payload_too_large");
    app.shutdown().await;
}

#[tokio::test]
async fn a_database_connection_dropped_while_idle_is_replaced_without_an_error() {
    use sqlx::Connection as _;
    let test = "ops::a_database_connection_dropped_while_idle_is_replaced_without_an_error";
    let Some(backend) = Backend::postgres_redis(test) else {
        return;
    };
    let name = format!("rk_test_{}", uuid::Uuid::new_v4().simple());
    let app = spawn_app_with(&backend, |config| {
        config.database.url = format!("{}&application_name={name}", config.database.url);
        config.database.max_connections = 1;
    })
    .await;
    assert_eq!(app.get("/readyz", None).await.status, StatusCode::OK);

    let mut admin = sqlx::PgConnection::connect(backend.postgres_url().unwrap())
        .await
        .unwrap();
    let dropped: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&name)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        dropped,
        [true, true],
        "the app's pooled connections: one for the user-facts lookup, one for the rest"
    );
    tokio::time::sleep(roomkey::store::PING_IF_IDLE_FOR + std::time::Duration::from_millis(500))
        .await;

    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{ready:?}");
    app.shutdown().await;
}

/// The route table is the one list the router and the metrics' `route` labels come from:
/// every route in it reaches a handler (not the "no such endpoint" fallback) and is counted
/// under its own template, never as `unmatched`.
#[tokio::test]
async fn every_route_in_the_table_reaches_a_handler_and_is_counted_under_its_template() {
    let app = spawn_app(&Backend::sqlite()).await;
    // The sign-only ceiling is served by roomkey-bench-server only (tests/bench_server.rs).
    let catalogue: Vec<_> = roomkey::http::routes::table::catalogue()
        .into_iter()
        .filter(|(_, template)| !template.starts_with("/bench/"))
        .collect();
    assert!(catalogue.len() > 60);
    for (method, template) in &catalogue {
        let path: String = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "probe"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let reply = app
            .call(method.parse().unwrap(), &path, Some(ADMIN_KEY), None)
            .await;
        let fallback = reply.body["error"]["message"] == "no such endpoint"
            || reply.body["error"]["code"] == "method_not_allowed";
        assert!(!fallback, "{method} {template}: {reply:?}");
    }
    let metrics = app
        .get("/metrics", None)
        .await
        .body
        .as_str()
        .unwrap()
        .to_owned();
    for (method, template) in &catalogue {
        assert!(
            metrics.contains(&format!("method=\"{method}\",route=\"{template}\"")),
            "{method} {template} is not counted under its template"
        );
    }
    assert!(!metrics.contains("route=\"unmatched\""), "{metrics}");
    app.shutdown().await;
}

/// The API contract is served on the public listener as the code generates it.
#[tokio::test]
async fn the_contract_is_served_at_openapi_json() {
    let app = spawn_app(&Backend::sqlite()).await;
    let reply = app.get("/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.body, roomkey::http::openapi::document());
    app.shutdown().await;
}
