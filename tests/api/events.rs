//! Shows (`/api/events`): who may create them, idempotent creation, the Mastodon
//! announcement with its Idempotency-Key, edits and the end notice, and the paths the
//! platform's clients already call.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{decode_jwt, spawn_app, spawn_app_with, Backend, Reply, TestApp, ADMIN_KEY};
use crate::mastodon_mock::{MastodonMock, ANNOUNCER_TOKEN, MODERATOR_TOKEN};

/// Some weeks after the test clock's start (2027-01-15).
const STARTS: &str = "2027-02-01T20:00:00Z";
const ENDS: &str = "2027-02-01T22:00:00Z";

/// A performer staff have verified; returns (id, session).
pub async fn verified_performer(app: &TestApp, handle: &str) -> (String, String) {
    let (id, session) = app.user_with_role(handle, "performer").await;
    let reply = app
        .admin(
            &format!("/api/admin/performers/{id}/verification/approve"),
            json!({"note": "id checked"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    (id, session)
}

fn show_body(title: &str) -> Value {
    json!({
        "title": title,
        "starts_at": STARTS,
        "ends_at": ENDS,
        "price": {"amount_minor": 5_000_000, "currency": "COP"},
        "description": "Bring questions.",
        "hashtags": ["LiveAlex"],
    })
}

async fn create(app: &TestApp, bearer: &str, key: Option<&str>, body: Value) -> Reply {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/api/events")
        .header("authorization", format!("Bearer {bearer}"))
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    app.send(request.body(Body::from(body.to_string())).unwrap())
        .await
}

async fn patch(app: &TestApp, path: &str, bearer: &str, body: Value) -> Reply {
    app.call(Method::PATCH, path, Some(bearer), Some(body))
        .await
}

fn with_mastodon(mastodon: &MastodonMock) -> impl FnOnce(&mut roomkey::config::Config) {
    let url = mastodon.url();
    move |c| {
        c.mastodon.base_url = url;
        c.mastodon.access_token = roomkey::config::Secret::new(ANNOUNCER_TOKEN);
        c.mastodon.admin_token = roomkey::config::Secret::new(MODERATOR_TOKEN);
        c.mastodon.language = "en".into();
        c.http.public_url = "https://roomkey.example".into();
    }
}

per_backend!(only_verified_performers_and_staff_create_shows);
async fn only_verified_performers_and_staff_create_shows(backend: Backend) {
    let app = spawn_app(&backend).await;
    let (_, viewer) = app.register("viewer").await;
    let (_, unverified) = app.user_with_role("newbie", "performer").await;
    let (alex, alex_session) = verified_performer(&app, "alex").await;
    let (_, moderator) = app.user_with_role("mod", "moderator").await;

    let reply = create(&app, &viewer, None, show_body("Nope")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert_eq!(reply.body["error"]["code"], "performer_not_verified");
    let reply = create(&app, &unverified, None, show_body("Nope")).await;
    assert_eq!(reply.body["error"]["code"], "performer_not_verified");
    let reply = app.post("/api/events", None, show_body("Nope")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // A performer creates only their own shows.
    let mut for_someone_else = show_body("Nope");
    for_someone_else["performer_id"] = json!("someone-else");
    let reply = create(&app, &alex_session, None, for_someone_else).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");

    // Staff name the performer, and create it for them.
    let reply = create(&app, &moderator, None, show_body("For Alex")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    assert_eq!(reply.body["error"]["field"], "performer_id");
    let mut body = show_body("For Alex");
    body["performer_id"] = json!(alex);
    let reply = create(&app, &moderator, None, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["performer_id"], alex);

    let reply = create(&app, &alex_session, None, show_body("Live with Alex")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let show = &reply.body;
    assert_eq!(show["state"], "scheduled");
    assert_eq!(show["access"], "paid");
    assert_eq!(show["starts_at"], STARTS);
    assert_eq!(show["hashtags"], json!(["LiveAlex"]));
    let room = show["room"].as_str().unwrap();
    assert!(room.starts_with("live-with-alex-"), "{room}");
    assert_eq!(
        show["join_url"],
        format!("http://127.0.0.1:8080/join/{room}")
    );
    // The room is a real room: the token path knows it and asks for payment.
    let (_, buyer) = app.register("buyer").await;
    let token = app.token(room, &buyer).await;
    assert_eq!(token.status, StatusCode::PAYMENT_REQUIRED, "{token:?}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_show_request_is_validated_with_the_field_named() {
    let app = spawn_app(&Backend::sqlite()).await;
    let (_, session) = verified_performer(&app, "alex").await;
    let cases = [
        (
            json!({"title": "x", "starts_at": ENDS, "ends_at": STARTS}),
            "ends_at",
        ),
        (json!({"title": "x", "starts_at": "tomorrow"}), "starts_at"),
        (json!({"title": "", "starts_at": STARTS}), "title"),
        (
            json!({"title": "x", "starts_at": STARTS, "hashtags": ["two words"]}),
            "hashtags",
        ),
        (
            json!({"title": "x", "starts_at": STARTS, "access": "paid"}),
            "price",
        ),
        (
            json!({"title": "x", "starts_at": STARTS, "room": "bad/name"}),
            "room",
        ),
        (
            json!({"title": "x", "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-01-01T01:00:00Z"}),
            "ends_at",
        ),
    ];
    for (body, field) in cases {
        let reply = create(&app, &session, None, body.clone()).await;
        assert!(reply.status.is_client_error(), "{body}: {reply:?}");
        assert_eq!(reply.body["error"]["field"], field, "{body}: {reply:?}");
    }
    let reply = create(
        &app,
        &session,
        None,
        json!({"title": "x", "starts_at": STARTS, "surprise": 1}),
    )
    .await;
    assert!(reply.status.is_client_error(), "{reply:?}");
    app.shutdown().await;
}

per_backend!(creating_a_show_again_with_the_same_key_returns_the_same_show);
async fn creating_a_show_again_with_the_same_key_returns_the_same_show(backend: Backend) {
    let app = spawn_app(&backend).await;
    let (_, session) = verified_performer(&app, "alex").await;
    let first = create(&app, &session, Some("create-1"), show_body("Live")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    // Retries, some at once, all get the one show.
    let retries = futures_util::future::join_all(
        (0..4).map(|_| create(&app, &session, Some("create-1"), show_body("Live"))),
    )
    .await;
    for retry in retries {
        assert_eq!(retry.status, StatusCode::OK, "{retry:?}");
        assert_eq!(retry.body["id"], first.body["id"]);
        assert_eq!(retry.body["room"], first.body["room"]);
    }
    // The same key with another request is refused; a new key makes a new show.
    let reply = create(&app, &session, Some("create-1"), show_body("Other")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    assert_eq!(reply.body["error"]["code"], "idempotency_key_reused");
    let other = create(&app, &session, Some("create-2"), show_body("Live")).await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_ne!(other.body["id"], first.body["id"]);

    let listed = app.get("/api/events", None).await;
    assert_eq!(
        listed.body["events"].as_array().unwrap().len(),
        2,
        "{listed:?}"
    );
    app.shutdown().await;
}

per_backend!(a_show_is_announced_once_edited_when_rescheduled_and_told_when_it_ends);
async fn a_show_is_announced_once_edited_when_rescheduled_and_told_when_it_ends(backend: Backend) {
    let Some(mastodon) = MastodonMock::start(
        "a_show_is_announced_once_edited_when_rescheduled_and_told_when_it_ends",
        &[],
    )
    .await
    else {
        return;
    };
    let app = spawn_app_with(&backend, with_mastodon(&mastodon)).await;
    let before = mastodon.announcements().await.len();
    let (_, session) = verified_performer(&app, "alex").await;
    let body = show_body("Live with Alex");
    let created = create(&app, &session, Some("announce-1"), body.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let id = created.body["id"].as_str().unwrap().to_owned();
    let room = created.body["room"].as_str().unwrap().to_owned();
    let again = create(&app, &session, Some("announce-1"), body).await;
    assert_eq!(again.status, StatusCode::OK);

    settle(&app).await;
    let posts = mastodon.announcements().await;
    assert_eq!(posts.len(), before + 1, "one post for the show");
    let post = &posts[0];
    let text = post["content"].as_str().unwrap();
    for expected in [
        "Live: Live with Alex",
        "When: 2027-02-01 20:00 UTC – 2027-02-01 22:00 UTC",
        "Price: 50000.00 COP",
        &format!("https://roomkey.example/join/{room}"),
        "Bring questions.",
        "#envivo",
        "#LiveAlex",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    let shown = app.get(&format!("/api/events/{id}"), None).await;
    assert_eq!(shown.body["announcement"]["status_id"], post["id"]);

    // The post went out under the show's Idempotency-Key: the same key gets it back.
    let replayed = replay_with_key(&mastodon, &format!("roomkey-show-{id}-announce")).await;
    assert_eq!(replayed["id"], post["id"], "roomkey used the show's key");

    // Rescheduled: the announcement is edited, not posted again.
    let reply = patch(
        &app,
        &format!("/api/events/{id}"),
        &session,
        json!({"starts_at": "2027-02-02T20:00:00Z", "ends_at": "2027-02-02T21:30:00Z"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    settle(&app).await;
    let edited = mastodon
        .ok(
            "GET",
            &format!("/api/v1/statuses/{}", post["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(
        edited["content"]
            .as_str()
            .unwrap()
            .contains("2027-02-02 20:00 UTC"),
        "{edited}"
    );
    assert!(!edited["edited_at"].is_null(), "{edited}");

    // Ended: a reply under the announcement; ending again adds nothing.
    for _ in 0..2 {
        let reply = app
            .post(&format!("/api/events/{id}/end"), Some(&session), json!({}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.body["state"], "ended");
    }
    settle(&app).await;
    let posts = mastodon.announcements().await;
    assert_eq!(posts.len(), before + 2, "{posts:?}");
    assert_eq!(posts[0]["in_reply_to_id"], post["id"]);
    assert!(posts[0]["content"]
        .as_str()
        .unwrap()
        .contains("Ended: Live with Alex"));
    // An ended show is no longer listed, and cannot be changed.
    let listed = app.get("/api/events", None).await;
    assert!(listed.body["events"].as_array().unwrap().is_empty());
    let reply = patch(
        &app,
        &format!("/api/events/{id}"),
        &session,
        json!({"title": "x"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::GONE, "{reply:?}");
    app.shutdown().await;
}

/// Waits until every queued Mastodon call is made (the app's worker runs too).
async fn settle(app: &TestApp) {
    let worker = app.app.state().mastodon.clone();
    for _ in 0..200 {
        worker.try_once().await.unwrap();
        if worker.pending().await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("Mastodon calls still pending");
}

/// Waits until the metrics count `n` Mastodon calls of `action` ending as `outcome`.
async fn wait_for_calls(app: &TestApp, action: &str, outcome: &str, n: u64) {
    let line =
        format!("roomkey_mastodon_calls_total{{action=\"{action}\",outcome=\"{outcome}\"}} {n}");
    for _ in 0..200 {
        let metrics = app.get("/metrics", None).await;
        if metrics.body.as_str().unwrap_or_default().contains(&line) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never saw {line}");
}

async fn replay_with_key(mastodon: &MastodonMock, key: &str) -> Value {
    let (status, body) = mastodon
        .post_with_key(key, json!({"status": "a retry"}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_mastodon_outage_delays_the_announcement_but_never_drops_it() {
    let Some(mastodon) = MastodonMock::start(
        "a_mastodon_outage_delays_the_announcement_but_never_drops_it",
        &[],
    )
    .await
    else {
        return;
    };
    let app = spawn_app_with(&Backend::sqlite(), with_mastodon(&mastodon)).await;
    let (_, session) = verified_performer(&app, "alex").await;
    mastodon.fail_next("POST", "/api/v1/statuses", 503, 2).await;
    let created = create(&app, &session, None, show_body("Outage show")).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let worker = app.app.state().mastodon.clone();
    wait_for_calls(&app, "announce", "retried", 1).await;
    // Backing off: nothing is tried before the next attempt is due.
    worker.try_once().await.unwrap();
    assert_eq!(worker.pending().await.unwrap(), 1);
    app.clock.advance(3);
    worker.try_once().await.unwrap();
    wait_for_calls(&app, "announce", "retried", 2).await;
    assert_eq!(worker.pending().await.unwrap(), 1);
    app.clock.advance(10);
    settle(&app).await;
    wait_for_calls(&app, "announce", "delivered", 1).await;
    let posts = mastodon.announcements().await;
    assert_eq!(
        posts
            .iter()
            .filter(|p| p["content"].as_str().unwrap().contains("Outage show"))
            .count(),
        1
    );
    let shown = app.get(&format!("/api/events/{id}"), None).await;
    assert_eq!(shown.body["announcement"]["status_id"], posts[0]["id"]);
    app.shutdown().await;
}

#[tokio::test]
async fn only_the_shows_performer_and_staff_change_or_end_it() {
    let app = spawn_app(&Backend::sqlite()).await;
    let (_, alex) = verified_performer(&app, "alex").await;
    let (_, other) = verified_performer(&app, "bea").await;
    let (_, viewer) = app.register("viewer").await;
    let (_, moderator) = app.user_with_role("mod", "moderator").await;
    let created = create(&app, &alex, None, show_body("Mine")).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/events/{id}");
    for outsider in [&other, &viewer] {
        let reply = patch(&app, &path, outsider, json!({"title": "Hijacked"})).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
        let reply = app
            .post(&format!("{path}/end"), Some(outsider), json!({}))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
        let reply = app
            .get(&format!("{path}/participants"), Some(outsider))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    }
    // A new price is for buyers from now on; staff may change it too.
    let reply = patch(
        &app,
        &path,
        &moderator,
        json!({"price": {"amount_minor": 7_000_000, "currency": "COP"}, "title": "Mine, later"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["price"]["amount_minor"], 7_000_000);
    let reply = app.get(&format!("{path}/participants"), Some(&alex)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let reply = app.get(&format!("{path}/stats"), Some(&alex)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["viewers"], 0, "{reply:?}");
    let reply = app.get("/api/events/no-such-show", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    app.shutdown().await;
}

#[tokio::test]
async fn the_seed_paths_create_pay_and_list_participants() {
    let app = spawn_app_with(&Backend::sqlite(), |c| {
        c.payments.epayco.customer_id = "1234567".into();
        c.payments.epayco.p_key = roomkey::config::Secret::new("0123456789abcdef0123456789abcdef");
        c.payments.epayco.public_key = "pk_test_491d6a0b6e992cf924edd8d3d088aff1".into();
    })
    .await;
    let (_, alex) = verified_performer(&app, "alex").await;
    let (_, viewer) = app.register("viewer").await;
    let reply = app
        .post("/api/events/create", Some(&alex), show_body("Seed path"))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let room = reply.body["room"].as_str().unwrap().to_owned();
    let pay = app
        .post(&format!("/api/events/{id}/pay"), Some(&viewer), json!({}))
        .await;
    assert_eq!(pay.status, StatusCode::CREATED, "{pay:?}");
    assert_eq!(pay.body["amount_minor"], 5_000_000, "{pay:?}");
    let direct = app
        .post(&format!("/api/rooms/{room}/pay"), Some(&viewer), json!({}))
        .await;
    assert_eq!(direct.body["amount_minor"], pay.body["amount_minor"]);
    let participants = app
        .get(&format!("/api/events/{id}/participants"), Some(&alex))
        .await;
    assert_eq!(participants.status, StatusCode::OK, "{participants:?}");
    assert_eq!(participants.body["room"], room);
    app.shutdown().await;
}

per_backend!(verification_is_applied_for_approved_revoked_and_carried_in_the_token);
async fn verification_is_applied_for_approved_revoked_and_carried_in_the_token(backend: Backend) {
    let app = spawn_app(&backend).await;
    let (id, session) = app.register("hopeful").await;
    let (_, moderator) = app.user_with_role("mod", "moderator").await;
    let (_, stranger) = app.register("stranger").await;

    let applied = app
        .post(
            "/api/performers/verification",
            Some(&session),
            json!({"note": "my links"}),
        )
        .await;
    assert_eq!(applied.status, StatusCode::CREATED, "{applied:?}");
    assert_eq!(applied.body["state"], "applied");
    // Viewers do not see the queue or decide; the applicant sees their own state.
    let reply = app
        .get("/api/admin/performers/applications", Some(&stranger))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = app
        .post(
            &format!("/api/admin/performers/{id}/verification/approve"),
            Some(&session),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = app
        .get(
            &format!("/api/performers/{id}/verification"),
            Some(&stranger),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = app
        .get(
            &format!("/api/performers/{id}/verification"),
            Some(&session),
        )
        .await;
    assert_eq!(reply.body["state"], "applied");

    let queue = app
        .get("/api/admin/performers/applications", Some(&moderator))
        .await;
    assert_eq!(queue.body["applications"][0]["user_id"], id, "{queue:?}");
    assert_eq!(queue.body["applications"][0]["note"], "my links");
    let approved = app
        .post(
            &format!("/api/admin/performers/{id}/verification/approve"),
            Some(&moderator),
            json!({"note": "ok"}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{approved:?}");
    assert_eq!(approved.body["state"], "verified");
    let queue = app
        .get("/api/admin/performers/applications", Some(&moderator))
        .await;
    assert!(queue.body["applications"].as_array().unwrap().is_empty());

    // Approval made the viewer a performer who may host, and the token says verified.
    let me = app.get("/api/me", Some(&session)).await;
    assert_eq!(me.body["role"], "performer", "{me:?}");
    let soon = json!({
        "title": "First show",
        "starts_at": roomkey::clock::rfc3339(app.clock_now() + 60),
        "ends_at": roomkey::clock::rfc3339(app.clock_now() + 7_200),
    });
    let created = create(&app, &session, None, soon).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let room = created.body["room"].as_str().unwrap().to_owned();
    app.clock.advance(120);
    let token = app.token(&room, &session).await;
    assert_eq!(token.status, StatusCode::OK, "{token:?}");
    let (_, claims, _, _) = decode_jwt(token.body["jwt"].as_str().unwrap());
    assert_eq!(claims["context"]["user"]["verified"], "true");

    // Revoked: a reason is required, the token says so at once, no new shows.
    let reply = app
        .post(
            &format!("/api/admin/performers/{id}/verification/revoke"),
            Some(&moderator),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    let revoked = app
        .post(
            &format!("/api/admin/performers/{id}/verification/revoke"),
            Some(&moderator),
            json!({"note": "impersonation"}),
        )
        .await;
    assert_eq!(revoked.body["state"], "revoked", "{revoked:?}");
    let token = app.token(&room, &session).await;
    let (_, claims, _, _) = decode_jwt(token.body["jwt"].as_str().unwrap());
    assert_eq!(claims["context"]["user"]["verified"], "false");
    let reply = create(&app, &session, None, show_body("Second show")).await;
    assert_eq!(reply.body["error"]["code"], "performer_not_verified");
    let steps: Vec<&str> = revoked.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["apply", "approve", "revoke"]);

    let audit = app
        .get(
            &format!("/api/moderation/audit?user_id={id}"),
            Some(ADMIN_KEY),
        )
        .await;
    let actions: Vec<&str> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["unverify_performer", "verify_performer"],
        "{audit:?}"
    );
    app.shutdown().await;
}

per_backend!(a_new_price_is_for_buyers_from_then_on);
async fn a_new_price_is_for_buyers_from_then_on(backend: Backend) {
    use crate::payments::{confirm, notification, payments_app_with};
    let app = payments_app_with(&backend, false, |_| {}).await;
    let (_, alex) = verified_performer(&app, "alex").await;
    let (_, early) = app.register("early").await;
    let (_, late) = app.register("late").await;
    let soon = json!({
        "title": "Repriced",
        "starts_at": roomkey::clock::rfc3339(app.clock_now() + 60),
        "ends_at": roomkey::clock::rfc3339(app.clock_now() + 7_200),
        "price": {"amount_minor": 5_000_000, "currency": "COP"},
    });
    let show = create(&app, &alex, None, soon).await.body;
    let id = show["id"].as_str().unwrap();
    let room = show["room"].as_str().unwrap();
    let early_checkout = app
        .post(&format!("/api/events/{id}/pay"), Some(&early), json!({}))
        .await;
    assert_eq!(early_checkout.body["amount_minor"], 5_000_000);

    let reply = patch(
        &app,
        &format!("/api/events/{id}"),
        &alex,
        json!({"price": {"amount_minor": 7_000_000, "currency": "COP"}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let late_checkout = app
        .post(&format!("/api/events/{id}/pay"), Some(&late), json!({}))
        .await;
    assert_eq!(late_checkout.body["amount_minor"], 7_000_000);

    // The early buyer pays what they were asked; the late one must pay the new price.
    let early_ref = early_checkout.body["reference"].as_str().unwrap();
    let reply = confirm(
        &app,
        &notification(Some(early_ref), "9001", 1, "50000.00", "COP"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let late_ref = late_checkout.body["reference"].as_str().unwrap();
    let reply = confirm(
        &app,
        &notification(Some(late_ref), "9002", 1, "50000.00", "COP"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    let reply = confirm(
        &app,
        &notification(Some(late_ref), "9003", 1, "70000.00", "COP"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    app.clock.advance(120);
    assert_eq!(app.token(room, &early).await.status, StatusCode::OK);
    assert_eq!(app.token(room, &late).await.status, StatusCode::OK);
    app.shutdown().await;
}
