//! Seat limits, roomkey's side: a room's capacity on the admin API, and the token path
//! refusing a viewer (409 `room_full`) once the attendance Prosody reports fills the room.
//! The hard limit at join time is `mod_roomkey`'s, tested against real Prosody in
//! `tests/seats_live.rs`.

use axum::http::{Method, Request, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;

const SECRET: &str = "prosody-shared-secret-0123456789abcdef";
const ROOM: &str = "livealex2026";

async fn seats_app(backend: &Backend) -> TestApp {
    spawn_app_with(backend, |c| {
        c.prosody.secret = roomkey::config::Secret::new(SECRET);
    })
    .await
}

/// Attendance events as `mod_roomkey` reports them, signed.
async fn report(app: &TestApp, events: Value) {
    let body = json!({"shard": "prosody-1", "events": events}).to_string();
    let now = app.clock_now();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("v1:events:{now}:{body}").as_bytes());
    let signature = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    let reply = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/api/prosody/events")
                .header("content-type", "application/json")
                .header("x-roomkey-timestamp", now.to_string())
                .header("x-roomkey-signature", signature)
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

fn joined(user: &str, occupant: &str, at: i64) -> Value {
    json!({"id": format!("{occupant}-joined"), "type": "joined", "room": ROOM,
           "user_id": user, "occupant": occupant, "at": at})
}

fn left(user: &str, occupant: &str, at: i64) -> Value {
    json!({"id": format!("{occupant}-left"), "type": "left", "room": ROOM,
           "user_id": user, "occupant": occupant, "at": at})
}

async fn set_capacity(app: &TestApp, capacity: Value) -> Reply {
    app.call(
        Method::PATCH,
        &format!("/api/admin/rooms/{ROOM}"),
        Some(ADMIN_KEY),
        Some(json!({"capacity": capacity})),
    )
    .await
}

async fn seats_refused(app: &TestApp) -> u64 {
    let metrics = app.get("/metrics", None).await;
    let text = metrics.body.as_str().unwrap().to_owned();
    text.lines()
        .find_map(|line| line.strip_prefix("roomkey_seats_refused_total "))
        .expect("roomkey_seats_refused_total is exported")
        .parse()
        .unwrap()
}

per_backend!(a_capacity_is_a_whole_number_of_seats_from_1_to_10000);
async fn a_capacity_is_a_whole_number_of_seats_from_1_to_10000(backend: Backend) {
    let app = seats_app(&backend).await;
    let (performer, _) = app.user_with_role("alex", "performer").await;
    for refused in [
        json!(0),
        json!(-3),
        json!(10_001),
        json!(1_000_000_000_000i64),
    ] {
        let reply = app
            .admin(
                "/api/admin/rooms",
                json!({"name": ROOM, "title": "Show", "owner_id": performer, "access": "free",
                       "capacity": refused}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused}: {reply:?}"
        );
        assert_eq!(reply.body["error"]["code"], "validation_failed");
        assert_eq!(reply.body["error"]["field"], "capacity");
    }
    let created = app
        .admin(
            "/api/admin/rooms",
            json!({"name": ROOM, "title": "Show", "owner_id": performer, "access": "free",
                   "capacity": 2}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["capacity"], 2);

    for refused in [json!(0), json!(-1), json!(10_001)] {
        let reply = set_capacity(&app, refused.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused}: {reply:?}"
        );
        assert_eq!(reply.body["error"]["field"], "capacity");
    }
    let changed = set_capacity(&app, json!(10_000)).await;
    assert_eq!(changed.body["capacity"], 10_000, "{changed:?}");
    let public = app.get(&format!("/api/rooms/{ROOM}"), None).await;
    assert_eq!(public.body["capacity"], 10_000, "{public:?}");
    let lifted = set_capacity(&app, Value::Null).await;
    assert_eq!(lifted.status, StatusCode::OK);
    assert_eq!(lifted.body["capacity"], Value::Null);
    let untouched = app
        .call(
            Method::PATCH,
            &format!("/api/admin/rooms/{ROOM}"),
            Some(ADMIN_KEY),
            Some(json!({"title": "Renamed"})),
        )
        .await;
    assert_eq!(untouched.body["capacity"], Value::Null);
    app.shutdown().await;
}

per_backend!(a_full_room_refuses_a_new_viewer_with_room_full_until_a_seat_frees);
async fn a_full_room_refuses_a_new_viewer_with_room_full_until_a_seat_frees(backend: Backend) {
    let app = seats_app(&backend).await;
    let cast = stage(&app, "free").await;
    assert_eq!(set_capacity(&app, json!(2)).await.status, StatusCode::OK);
    let (ada, ada_session) = app.register("ada").await;
    let (_, cy_session) = app.register("cyd").await;

    // Tokens are not seats: until someone is in, everyone gets one.
    for session in [&cast.viewer_session, &ada_session, &cy_session] {
        assert_eq!(app.token(ROOM, session).await.status, StatusCode::OK);
    }
    let now = app.clock_now();
    report(
        &app,
        json!([joined(&cast.viewer_id, "o1", now), joined(&ada, "o2", now)]),
    )
    .await;

    let refused = app.token(ROOM, &cy_session).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    assert_eq!(refused.body["error"]["code"], "room_full");
    assert_eq!(refused.body["error"]["capacity"], 2);
    assert_eq!(refused.body["error"]["retry_after"], 30);
    assert_eq!(refused.headers["retry-after"], "30");
    assert_eq!(seats_refused(&app).await, 1);
    // the viewers in the room are never refused (a reconnect asks for a token again)
    assert_eq!(app.token(ROOM, &ada_session).await.status, StatusCode::OK);

    // Ada leaves: her seat stays hers for the grace period.
    app.clock.advance(5);
    report(&app, json!([left(&ada, "o2", app.clock_now())])).await;
    app.clock.advance(10);
    let still_full = app.token(ROOM, &cy_session).await;
    assert_eq!(still_full.status, StatusCode::CONFLICT);
    assert_eq!(still_full.body["error"]["retry_after"], 20);
    assert_eq!(app.token(ROOM, &ada_session).await.status, StatusCode::OK);

    app.clock.advance(20);
    assert_eq!(app.token(ROOM, &cy_session).await.status, StatusCode::OK);
    assert_eq!(seats_refused(&app).await, 2);
    app.shutdown().await;
}

per_backend!(the_performer_and_staff_take_no_seat_and_are_never_refused);
async fn the_performer_and_staff_take_no_seat_and_are_never_refused(backend: Backend) {
    let app = seats_app(&backend).await;
    let cast = stage(&app, "free").await;
    assert_eq!(set_capacity(&app, json!(1)).await.status, StatusCode::OK);
    let (moderator, moderator_session) = app.user_with_role("mod", "moderator").await;
    let (_, other_session) = app.register("other").await;
    let now = app.clock_now();
    report(
        &app,
        json!([
            joined(&cast.performer_id, "p1", now),
            joined(&moderator, "m1", now)
        ]),
    )
    .await;
    // the room is still empty of viewers
    assert_eq!(
        app.token(ROOM, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    report(&app, json!([joined(&cast.viewer_id, "v1", now)])).await;

    let refused = app.token(ROOM, &other_session).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    assert_eq!(refused.body["error"]["capacity"], 1);
    for session in [&cast.performer_session, &moderator_session] {
        let reply = app.token(ROOM, session).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.body["moderator"], true);
    }
    // the viewer reconnecting with a second device keeps the one seat
    assert_eq!(
        app.token(ROOM, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    app.shutdown().await;
}

per_backend!(a_room_without_a_capacity_never_counts_seats);
async fn a_room_without_a_capacity_never_counts_seats(backend: Backend) {
    let app = seats_app(&backend).await;
    let cast = stage(&app, "free").await;
    let now = app.clock_now();
    let mut events = Vec::new();
    for i in 0..5 {
        let (id, _) = app.register(&format!("fan{i}")).await;
        events.push(joined(&id, &format!("f{i}"), now));
    }
    report(&app, Value::Array(events)).await;
    assert_eq!(
        app.token(ROOM, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    // a capacity set while the room is busy applies at once
    assert_eq!(set_capacity(&app, json!(5)).await.status, StatusCode::OK);
    let refused = app.token(ROOM, &cast.viewer_session).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    assert_eq!(seats_refused(&app).await, 1);
    app.shutdown().await;
}

per_backend!(a_performer_sets_and_lifts_a_shows_capacity);
async fn a_performer_sets_and_lifts_a_shows_capacity(backend: Backend) {
    let app = seats_app(&backend).await;
    let (_, session) = crate::events::verified_performer(&app, "alex").await;
    let starts_at = roomkey::clock::rfc3339(app.clock_now() + 3_600);
    let show = |capacity: Value| json!({"title": "Live with Alex", "starts_at": starts_at, "capacity": capacity});
    for refused in [json!(0), json!(-2), json!(10_001)] {
        let reply = app
            .post("/api/events", Some(&session), show(refused.clone()))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused}: {reply:?}"
        );
        assert_eq!(reply.body["error"]["field"], "capacity");
    }
    let created = app
        .post("/api/events", Some(&session), show(json!(3)))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["capacity"], 3);
    let room = created.body["room"].as_str().unwrap().to_owned();
    let public = app.get(&format!("/api/rooms/{room}"), None).await;
    assert_eq!(public.body["capacity"], 3, "the room is the show's");

    let path = format!("/api/events/{}", created.body["id"].as_str().unwrap());
    let refused = app
        .call(
            Method::PATCH,
            &path,
            Some(&session),
            Some(json!({"capacity": 0})),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{refused:?}"
    );
    let lifted = app
        .call(
            Method::PATCH,
            &path,
            Some(&session),
            Some(json!({"capacity": null})),
        )
        .await;
    assert_eq!(lifted.status, StatusCode::OK, "{lifted:?}");
    assert_eq!(lifted.body["capacity"], Value::Null);
    app.shutdown().await;
}

per_backend!(the_join_page_tells_a_viewer_the_room_is_full);
async fn the_join_page_tells_a_viewer_the_room_is_full(backend: Backend) {
    let app = seats_app(&backend).await;
    let cast = stage(&app, "free").await;
    assert_eq!(set_capacity(&app, json!(1)).await.status, StatusCode::OK);
    let (_, late_session) = app.register("late").await;
    report(
        &app,
        json!([joined(&cast.viewer_id, "v1", app.clock_now())]),
    )
    .await;
    let page = app
        .send(
            Request::builder()
                .uri(format!("/join/{ROOM}"))
                .header("cookie", format!("roomkey_session={late_session}"))
                .header("accept-language", "en")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{page:?}");
    let html = page.body.as_str().unwrap_or_default();
    assert!(html.contains("This room is full"), "{html}");
    app.shutdown().await;
}
