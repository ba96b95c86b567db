//! Changes as events after commit: a change is stored with its fact, so an instance that
//! dies between the commit and the delivery delays the delivery and never loses it, and
//! instances racing for an undelivered change deliver it once.

use axum::http::StatusCode;
use roomkey::changes::WRITER_HOLD_SECS;
use roomkey::domain::{Ban, BanScope, RoomName};
use serde_json::json;

use crate::helpers::{stage, Backend, TestApp};

/// A ban from `room` stored the way the ban service stores it, by an instance that then
/// died before delivering its change: the fact and its change are committed, nothing else.
async fn ban_committed_by_a_writer_that_died(app: &TestApp, user_id: &str, room: &str) {
    let now = app.clock_now();
    let room = RoomName::parse(room).unwrap();
    let store = &app.app.state().store;
    let room = store.find_room_by_name(&room).await.unwrap().unwrap();
    let ban = Ban {
        id: uuid_like(now),
        user_id: user_id.to_owned(),
        scope: BanScope::Room(room.id),
        reason: "spam".into(),
        until: None,
        banned_by: Some("admin-key".into()),
        created_at: now,
        lift: None,
    };
    app.app.state().store.insert_ban(&ban).await.unwrap();
}

fn uuid_like(seed: i64) -> String {
    format!("00000000-0000-7000-8000-{seed:012x}")
}

per_backend!(a_ban_whose_writer_died_before_delivering_it_is_delivered_by_the_worker);
async fn a_ban_whose_writer_died_before_delivering_it_is_delivered_by_the_worker(backend: Backend) {
    let app = crate::helpers::spawn_app(&backend).await;
    let cast = stage(&app, "free").await;
    // The viewer's facts are cached by a first token.
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );

    ban_committed_by_a_writer_that_died(&app, &cast.viewer_id, &cast.room).await;
    let changes = &app.app.state().changes;
    assert_eq!(changes.pending().await.unwrap(), 1, "{backend:?}");
    let stale = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(
        stale.status,
        StatusCode::OK,
        "until the change is delivered, the caches have not heard of the ban"
    );
    assert_eq!(
        changes.try_once().await.unwrap(),
        0,
        "the writer's hold keeps other workers off it for a while"
    );

    app.clock.advance(WRITER_HOLD_SECS + 1);
    assert_eq!(changes.try_once().await.unwrap(), 1);
    assert_eq!(changes.pending().await.unwrap(), 0);
    let refused = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert_eq!(refused.body["error"]["code"], "banned");
    app.shutdown().await;
}

per_backend!(two_instances_racing_for_an_undelivered_change_deliver_it_once);
async fn two_instances_racing_for_an_undelivered_change_deliver_it_once(backend: Backend) {
    let app = crate::helpers::spawn_app(&backend).await;
    let sibling = app.sibling().await;
    let cast = stage(&app, "free").await;
    ban_committed_by_a_writer_that_died(&app, &cast.viewer_id, &cast.room).await;
    // The changes `stage` made were delivered here; once forgotten, the ban is all that is
    // left (a delivered row the clock jump finds still stored would be delivered again).
    let (here, there) = (app.app.state(), sibling.app.state());
    assert_eq!(here.changes.pending().await.unwrap(), 1, "{backend:?}");
    app.clock.advance(WRITER_HOLD_SECS + 1);
    let (one, two) = tokio::join!(here.changes.try_once(), there.changes.try_once());
    assert_eq!(one.unwrap() + two.unwrap(), 1, "{backend:?}");
    sibling.shutdown().await;
    app.shutdown().await;
}

per_backend!(changes_made_through_the_api_leave_nothing_behind_in_the_outbox);
async fn changes_made_through_the_api_leave_nothing_behind_in_the_outbox(backend: Backend) {
    let app = crate::helpers::spawn_app(&backend).await;
    let cast = stage(&app, "paid").await;
    let granted = app
        .grant(
            &cast.viewer_id,
            json!({"kind": "room", "room": cast.room}),
            None,
        )
        .await;
    let revoked = app
        .admin(
            &format!(
                "/api/admin/entitlements/{}/revoke",
                granted["id"].as_str().unwrap()
            ),
            json!({"reason": "comp withdrawn"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{revoked:?}");
    let banned = app
        .admin(
            "/api/admin/bans",
            json!({"user_id": cast.viewer_id, "scope": {"kind": "global"}, "reason": "spam"}),
        )
        .await;
    assert_eq!(banned.status, StatusCode::CREATED, "{banned:?}");
    assert_eq!(
        app.app.state().changes.pending().await.unwrap(),
        0,
        "every change was delivered before its request was answered ({backend:?})"
    );
    app.shutdown().await;
}
