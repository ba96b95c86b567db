//! Administration: only admins, with validated input and an explainable record.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn only_admins_administer() {
    let app = spawn_app(&Backend::sqlite()).await;
    let (_, viewer) = app.register("viewer").await;
    let (_, moderator) = app.user_with_role("mod", "moderator").await;
    let (_, admin) = app.user_with_role("root", "admin").await;
    let body = json!({"handle": "newperformer", "email": "p@example.com", "role": "performer"});

    let reply = app.post("/api/admin/users", None, body.clone()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    for (who, bearer) in [
        ("viewer", viewer.as_str()),
        ("moderator", moderator.as_str()),
        ("service key", SERVICE_KEY),
    ] {
        let reply = app
            .post("/api/admin/users", Some(bearer), body.clone())
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{who}");
        assert_eq!(reply.body["error"]["code"], "forbidden");
    }
    let reply = app
        .post(
            "/api/admin/users",
            Some("wrong-admin-key-0123456789abcdef"),
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = app.post("/api/admin/users", Some(&admin), body).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "an admin session works like the admin key"
    );
    assert_eq!(reply.body["role"], "performer");
    app.shutdown().await;
}

per_backend!(rooms_are_validated_and_unique);
async fn rooms_are_validated_and_unique(backend: Backend) {
    let app = spawn_app(&backend).await;
    let (performer, _) = app.user_with_role("alex", "performer").await;
    let (viewer, _) = app.register("viewer").await;
    let base = json!({"name": "show", "title": "Show", "owner_id": performer, "access": "paid", "price": {"amount_minor": 2000, "currency": "USD"}});
    let with = |key: &str, value: serde_json::Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("price", serde_json::Value::Null), "price"),
        (
            with("price", json!({"amount_minor": 0, "currency": "USD"})),
            "price.amount_minor",
        ),
        (
            with("price", json!({"amount_minor": 10, "currency": "usd"})),
            "price.currency",
        ),
        (with("access", json!("vip")), "access"),
        (with("title", json!("")), "title"),
        (with("owner_id", json!(viewer)), "owner_id"),
        (with("owner_id", json!("nobody")), "owner_id"),
        (with("name", json!("has space")), "name"),
        (with("starts_at", json!("tomorrow")), "starts_at"),
        (with("plans", json!(["Prime!"])), "plans"),
    ];
    for (body, field) in cases {
        let reply = app.admin("/api/admin/rooms", body).await;
        assert!(
            reply.status.is_client_error(),
            "{}: {field}: {reply:?}",
            backend.label
        );
        assert_eq!(reply.body["error"]["field"], field, "{reply:?}");
    }
    assert_eq!(
        app.admin("/api/admin/rooms", base.clone()).await.status,
        StatusCode::CREATED
    );
    let again = app
        .admin("/api/admin/rooms", with("name", json!("SHOW")))
        .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "{}: names are unique once canonical",
        backend.label
    );
    app.shutdown().await;
}

#[tokio::test]
async fn room_changes_apply_to_the_next_token_request() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "paid").await;
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    let reply = app
        .call(
            Method::PATCH,
            "/api/admin/rooms/livealex2026",
            Some(ADMIN_KEY),
            Some(json!({"access": "free", "price": null})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["price"], serde_json::Value::Null);
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );

    let ends = roomkey::clock::rfc3339(START + 60);
    app.call(
        Method::PATCH,
        "/api/admin/rooms/livealex2026",
        Some(ADMIN_KEY),
        Some(json!({"ends_at": ends})),
    )
    .await;
    app.clock.advance(60);
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(reply.status, StatusCode::GONE);
    assert_eq!(reply.body["error"]["code"], "room_ended");
    assert_eq!(
        app.token(&cast.room, &cast.performer_session).await.status,
        StatusCode::OK,
        "the performer can still get in"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn grants_are_validated() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "paid").await;
    let cases = [
        (
            json!({"user_id": "nobody", "scope": {"kind": "room", "room": "livealex2026"}}),
            "user_id",
        ),
        (
            json!({"user_id": cast.viewer_id, "scope": {"kind": "room", "room": "nosuch"}}),
            "scope.room",
        ),
        (
            json!({"user_id": cast.viewer_id, "scope": {"kind": "credit", "credit": "private_call_minutes"}}),
            "quantity",
        ),
        (
            json!({"user_id": cast.viewer_id, "scope": {"kind": "plan", "plan": "prime"}, "quantity": 3}),
            "quantity",
        ),
        (
            json!({"user_id": cast.viewer_id, "scope": {"kind": "plan", "plan": "prime"},
            "valid_from": roomkey::clock::rfc3339(START + 10), "valid_until": roomkey::clock::rfc3339(START)}),
            "valid_until",
        ),
    ];
    for (body, field) in cases {
        let reply = app.admin("/api/admin/entitlements", body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {reply:?}"
        );
        assert_eq!(reply.body["error"]["field"], field);
    }
    let reply = app
        .admin(
            "/api/admin/entitlements",
            json!({"user_id": cast.viewer_id, "scope": {"kind": "moon"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = app
        .admin("/api/admin/entitlements", json!({"user_id": cast.viewer_id, "scope": {"kind": "credit", "credit": "private_call_minutes"}, "quantity": 30}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["quantity"], 30);
    app.shutdown().await;
}

per_backend!(the_access_record_explains_every_past_decision);
async fn the_access_record_explains_every_past_decision(backend: Backend) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "paid").await;
    let entitlement = app
        .grant(
            &cast.viewer_id,
            json!({"kind": "room", "room": "livealex2026"}),
            None,
        )
        .await;
    let id = entitlement["id"].as_str().unwrap();
    app.clock.advance(10);
    app.admin(
        &format!("/api/admin/entitlements/{id}/revoke"),
        json!({"reason": "chargeback"}),
    )
    .await;
    let again = app
        .admin(
            &format!("/api/admin/entitlements/{id}/revoke"),
            json!({"reason": "second try"}),
        )
        .await;
    assert_eq!(
        again.body["revoked"]["reason"], "chargeback",
        "the first revocation stands"
    );
    let ban = app
        .admin(
            "/api/admin/bans",
            json!({"user_id": cast.viewer_id, "scope": {"kind": "global"}, "reason": "fraud"}),
        )
        .await;
    let ban_id = ban.body["id"].as_str().unwrap();
    app.admin(
        &format!("/api/admin/bans/{ban_id}/lift"),
        json!({"reason": "cleared"}),
    )
    .await;

    let record = app
        .get(
            &format!("/api/admin/users/{}/access", cast.viewer_id),
            Some(ADMIN_KEY),
        )
        .await;
    assert_eq!(record.status, StatusCode::OK);
    let entitlements = record.body["entitlements"].as_array().unwrap();
    assert_eq!(entitlements.len(), 1, "{}", backend.label);
    assert_eq!(entitlements[0]["source"], "admin_grant");
    assert_eq!(entitlements[0]["granted_by"], "admin-key");
    assert_eq!(entitlements[0]["revoked"]["reason"], "chargeback");
    assert_eq!(
        entitlements[0]["revoked"]["at"],
        roomkey::clock::rfc3339(START + 10)
    );
    let bans = record.body["bans"].as_array().unwrap();
    assert_eq!(bans[0]["reason"], "fraud");
    assert_eq!(bans[0]["lifted"]["reason"], "cleared");

    let missing = app
        .admin(
            "/api/admin/entitlements/nope/revoke",
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let missing = app
        .admin("/api/admin/bans/nope/lift", json!({"reason": "x"}))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    app.shutdown().await;
}
