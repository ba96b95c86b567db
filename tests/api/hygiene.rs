//! What every answer carries and what no input may carry: caching and sniffing headers,
//! the error envelope for malformed paths, NUL characters, absurd amounts.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn answers_with_tokens_are_never_cached_and_json_is_never_sniffed() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "free").await;
    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({"login": "viewer", "password": "correct horse battery"}),
        )
        .await;
    let token = app.token(&cast.room, &cast.viewer_session).await;
    let refused = app.get("/api/me", None).await;
    for reply in [&login, &token, &refused] {
        assert_eq!(reply.headers["cache-control"], "no-store", "{reply:?}");
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
    }
    // public keys stay cacheable
    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert!(jwks.headers["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("public"));
    assert_eq!(jwks.headers["x-content-type-options"], "nosniff");
    app.shutdown().await;
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_is_answered_in_the_envelope() {
    let app = spawn_app(&Backend::sqlite()).await;
    let (_, session) = app.register("viewer").await;
    for path in ["/api/rooms/%FF%FE", "/api/admin/users/%C3%28/access"] {
        let bearer = if path.starts_with("/api/admin") {
            ADMIN_KEY
        } else {
            session.as_str()
        };
        let reply = app.get(path, Some(bearer)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}: {reply:?}");
        assert_eq!(
            reply.body["error"]["code"], "invalid_request",
            "{path}: {reply:?}"
        );
        assert!(reply.body["error"]["request_id"].is_string());
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_user_id_in_a_path_that_no_user_id_can_look_like_is_refused_before_the_handler() {
    let app = spawn_app(&Backend::sqlite()).await;
    let long = "x".repeat(65);
    for path in [
        format!("/api/admin/users/{long}/access"),
        "/api/admin/users/two%20words/access".to_owned(),
        "/api/performers/two%20words/verification".to_owned(),
    ] {
        let reply = app.get(&path, Some(ADMIN_KEY)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}: {reply:?}");
        assert_eq!(reply.body["error"]["code"], "invalid_request", "{path}");
        assert_eq!(reply.body["error"]["field"], "user_id", "{path}");
    }
    let unknown = app
        .get("/api/admin/users/nobody/access", Some(ADMIN_KEY))
        .await;
    assert_eq!(unknown.status, StatusCode::OK, "{unknown:?}");
    app.shutdown().await;
}

per_backend!(nul_characters_are_refused_with_422_before_the_store_sees_them);
/// PostgreSQL refuses NUL in text with an error; roomkey refuses it first, with 422, on
/// every way in: JSON, forms, paths and queries, with or without authentication.
async fn nul_characters_are_refused_with_422_before_the_store_sees_them(backend: Backend) {
    let app = spawn_app(&backend).await;
    let login = app
        .send(
            Request::post("/api/auth/login")
                .header("content-type", "application/json")
                .body(Body::from(
                    r#"{"login":"ad\u0000min","password":"x1234567890"}"#,
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(
        login.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}: {login:?}",
        backend.label
    );
    assert_eq!(login.body["error"]["code"], "validation_failed");

    let register = app
        .post(
            "/api/auth/register",
            None,
            json!({"handle": "okname", "email": "ok@example.com", "password": "correct horse battery", "display_name": "a\u{0}b"}),
        )
        .await;
    assert_eq!(
        register.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{register:?}"
    );

    for path in [
        "/api/rooms/a%00b",
        "/api/events?performer_id=a%00b",
        "/api/admin/users/a%00b/access",
    ] {
        let reply = app.get(path, Some(ADMIN_KEY)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {reply:?}"
        );
    }
    let form = app
        .send(
            Request::post("/api/webhooks/epayco")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from("x_ref_payco=1%002&x_extra1=a"))
                .unwrap(),
        )
        .await;
    assert_eq!(form.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
    app.shutdown().await;
}

#[tokio::test]
async fn absurd_amounts_are_refused_at_input() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "free").await;
    let room = app
        .admin(
            "/api/admin/rooms",
            json!({"name": "hugeshow", "title": "Huge", "owner_id": cast.performer_id, "access": "paid",
                   "price": {"amount_minor": 9_000_000_000_000_000_000_i64, "currency": "COP"}}),
        )
        .await;
    assert_eq!(room.status, StatusCode::UNPROCESSABLE_ENTITY, "{room:?}");
    let terms = app
        .call(
            axum::http::Method::PUT,
            &format!("/api/admin/performers/{}/terms", cast.performer_id),
            Some(ADMIN_KEY),
            Some(json!({"share_bps": 7000, "subscription_price": {"amount_minor": 2_000_000_000_000_i64, "currency": "USD"}})),
        )
        .await;
    assert_eq!(terms.status, StatusCode::UNPROCESSABLE_ENTITY, "{terms:?}");
    let payment = app
        .admin(
            "/api/admin/payments",
            json!({"user_id": cast.viewer_id, "purchase": {"kind": "room", "room": cast.room},
                   "provider": "meru", "provider_ref": "huge-1", "amount_minor": 4_611_686_018_427_387_904_i64, "currency": "USD"}),
        )
        .await;
    assert_eq!(
        payment.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{payment:?}"
    );
    app.shutdown().await;
}
