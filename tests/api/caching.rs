//! The hot path's caches: fast, single-flight, and never stale about bans or revocations —
//! on this instance or on any other sharing the Redis bus.

use axum::http::StatusCode;
use roomkey::telemetry::metrics::{CacheName, CacheTier, StoreOp};
use serde_json::json;

use crate::helpers::*;

fn store_ops(app: &TestApp, op: StoreOp) -> u64 {
    app.app.state().metrics.store_ops(op)
}

per_backend!(repeated_requests_are_answered_from_memory);
async fn repeated_requests_are_answered_from_memory(backend: Backend) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "free").await;
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    let before = store_ops(&app, StoreOp::FindUserFacts);
    for _ in 0..20 {
        assert_eq!(
            app.token(&cast.room, &cast.viewer_session).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        store_ops(&app, StoreOp::FindUserFacts),
        before,
        "{}",
        backend.label
    );
    assert!(
        app.app
            .state()
            .metrics
            .cache_lookups(CacheName::UserFacts, CacheTier::Memory)
            >= 20
    );
    app.shutdown().await;
}

per_backend!(a_stampede_on_a_cold_user_costs_one_query);
async fn a_stampede_on_a_cold_user_costs_one_query(backend: Backend) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "paid").await;
    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": "livealex2026"}),
        None,
    )
    .await;
    let before = store_ops(&app, StoreOp::FindUserFacts);

    let requests = (0..64).map(|_| app.token(&cast.room, &cast.viewer_session));
    let replies = futures_util::future::join_all(requests).await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "{}",
        backend.label
    );

    assert_eq!(
        store_ops(&app, StoreOp::FindUserFacts) - before,
        1,
        "{}: the user, bans and entitlements loaded once, in one statement",
        backend.label
    );
    app.shutdown().await;
}

per_backend!(without_the_in_process_tier_a_token_request_reads_the_user_once);
async fn without_the_in_process_tier_a_token_request_reads_the_user_once(backend: Backend) {
    let app = spawn_app_with(&backend, |c| c.cache.max_entries = 0).await;
    let cast = stage(&app, "paid").await;
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": "livealex2026"}),
        None,
    )
    .await;
    let before = store_ops(&app, StoreOp::FindUserFacts);
    for _ in 0..3 {
        assert_eq!(
            app.token(&cast.room, &cast.viewer_session).await.status,
            StatusCode::OK,
            "{}: the grant is read at once, nothing being held",
            backend.label
        );
    }
    assert_eq!(
        store_ops(&app, StoreOp::FindUserFacts) - before,
        3,
        "{}: the session check's read serves the decision too",
        backend.label
    );
    app.shutdown().await;
}

per_backend!(an_unknown_room_is_remembered_until_it_is_created);
async fn an_unknown_room_is_remembered_until_it_is_created(backend: Backend) {
    let app = spawn_app(&backend).await;
    let (performer, _) = app.user_with_role("alex", "performer").await;
    let (_, viewer) = app.register("viewer").await;
    let before = store_ops(&app, StoreOp::FindRoom);
    for _ in 0..20 {
        assert_eq!(
            app.token("comingsoon", &viewer).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        store_ops(&app, StoreOp::FindRoom) - before,
        1,
        "{}: negative answers are cached",
        backend.label
    );
    app.create_room("comingsoon", &performer, "free").await;
    assert_eq!(
        app.token("comingsoon", &viewer).await.status,
        StatusCode::OK,
        "{}",
        backend.label
    );
    app.shutdown().await;
}

per_shared_backend!(a_ban_on_one_instance_refuses_the_next_request_on_every_instance);
async fn a_ban_on_one_instance_refuses_the_next_request_on_every_instance(backend: Backend) {
    let a = spawn_app(&backend).await;
    let b = a.sibling().await;
    let cast = stage(&a, "paid").await;
    let entitlement = a
        .grant(
            &cast.viewer_id,
            json!({"kind": "room", "room": "livealex2026"}),
            None,
        )
        .await;
    for app in [&a, &b] {
        // Warm both instances' caches.
        assert_eq!(
            app.token(&cast.room, &cast.viewer_session).await.status,
            StatusCode::OK
        );
        assert_eq!(
            app.token(&cast.room, &cast.viewer_session).await.status,
            StatusCode::OK
        );
    }

    let ban = a
        .admin("/api/admin/bans", json!({"user_id": cast.viewer_id, "scope": {"kind": "room", "room": "livealex2026"}, "reason": "spam"}))
        .await;
    assert_eq!(ban.status, StatusCode::CREATED);
    assert_eq!(
        b.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::FORBIDDEN,
        "{}",
        backend.label
    );
    assert_eq!(
        a.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::FORBIDDEN
    );

    let id = ban.body["id"].as_str().unwrap();
    b.admin(
        &format!("/api/admin/bans/{id}/lift"),
        json!({"reason": "ok"}),
    )
    .await;
    assert_eq!(
        a.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    assert_eq!(
        b.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );

    let id = entitlement["id"].as_str().unwrap();
    b.admin(
        &format!("/api/admin/entitlements/{id}/revoke"),
        json!({"reason": "refund"}),
    )
    .await;
    assert_eq!(
        a.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    b.shutdown().await;
    a.shutdown().await;
}

per_shared_backend!(a_second_instance_reads_the_shared_tier_before_sql);
async fn a_second_instance_reads_the_shared_tier_before_sql(backend: Backend) {
    let a = spawn_app(&backend).await;
    let b = a.sibling().await;
    let cast = stage(&a, "free").await;
    assert_eq!(
        a.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    let before = store_ops(&b, StoreOp::FindUserFacts);
    assert_eq!(
        b.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    assert_eq!(
        store_ops(&b, StoreOp::FindUserFacts),
        before,
        "{}: B found A's answer in Redis",
        backend.label
    );
    assert!(
        b.app
            .state()
            .metrics
            .cache_lookups(CacheName::UserFacts, CacheTier::Redis)
            >= 1
    );
    b.shutdown().await;
    a.shutdown().await;
}

per_backend!(a_store_outage_fails_closed_with_503);
async fn a_store_outage_fails_closed_with_503(backend: Backend) {
    let app = spawn_app_with(&backend, |c| c.cache.max_entries = 0).await;
    let cast = stage(&app, "free").await;
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    app.app.state().store.close().await;
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        backend.label
    );
    assert_eq!(reply.body["error"]["code"], "unavailable");
    assert_eq!(reply.headers["retry-after"], "1");
    assert!(
        !reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pool"),
        "5xx bodies hide the cause"
    );
    app.shutdown().await;
}
