//! Live enforcement, roomkey's side: the verdicts and attendance endpoints Prosody calls,
//! and the signed commands roomkey pushes to every shard when access is taken away.
//! The shards here are plain HTTP listeners that record what arrives; the module itself
//! runs against real Prosody in `tests/live_enforcement.rs`.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::helpers::*;

const SECRET: &str = "prosody-shared-secret-0123456789abcdef";

/// A Prosody shard stand-in: records each command it is sent.
struct Shard {
    url: String,
    received: mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
}

async fn shard() -> Shard {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/roomkey", listener.local_addr().unwrap());
    let (tx, received) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/roomkey/commands",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                (StatusCode::OK, "{\"ok\":true,\"affected\":0}")
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    Shard { url, received }
}

impl Shard {
    /// The next command, after checking its signature independently.
    async fn next_command(&mut self) -> Value {
        let (headers, body) = tokio::time::timeout(Duration::from_secs(10), self.received.recv())
            .await
            .expect("a command arrives")
            .unwrap();
        let timestamp = headers["x-roomkey-timestamp"].to_str().unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("v1:command:{timestamp}:").as_bytes());
        mac.update(&body);
        let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(headers["x-roomkey-signature"], expected.as_str());
        serde_json::from_slice(&body).unwrap()
    }

    async fn nothing_more(&mut self) {
        let more = tokio::time::timeout(Duration::from_millis(300), self.received.recv()).await;
        assert!(more.is_err(), "unexpected command: {more:?}");
    }
}

async fn live_app(backend: &Backend, shards: &[&Shard]) -> TestApp {
    let urls: Vec<String> = shards.iter().map(|s| s.url.clone()).collect();
    spawn_app_with(backend, move |c| {
        c.prosody.secret = roomkey::config::Secret::new(SECRET);
        c.prosody.shards = urls;
        c.payments.providers.insert(
            "meru".into(),
            roomkey::config::SignedProviderConfig {
                scheme: roomkey::config::WebhookScheme::Standard,
                secrets: vec![roomkey::config::Secret::new("whsec_meru_0123456789abcdef")],
                tolerance_secs: 300,
            },
        );
    })
    .await
}

fn sign(kind: &str, timestamp: i64, body: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v1:{kind}:{timestamp}:{body}").as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A request as `mod_roomkey` sends it.
async fn from_prosody(app: &TestApp, path: &str, kind: &str, body: Value) -> Reply {
    let body = body.to_string();
    let now = app.clock_now();
    signed(app, path, now, &sign(kind, now, &body, SECRET), body).await
}

async fn signed(app: &TestApp, path: &str, timestamp: i64, signature: &str, body: String) -> Reply {
    app.send(
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json")
            .header("x-roomkey-timestamp", timestamp.to_string())
            .header("x-roomkey-signature", signature)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

async fn verdicts(app: &TestApp, checks: Value) -> Vec<Value> {
    let reply = from_prosody(
        app,
        "/api/prosody/verdicts",
        "verdicts",
        json!({"shard": "prosody-1", "checks": checks}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body["verdicts"].as_array().unwrap().clone()
}

per_backend!(verdicts_apply_the_token_rule_to_each_occupant);
async fn verdicts_apply_the_token_rule_to_each_occupant(backend: Backend) {
    let app = live_app(&backend, &[]).await;
    let cast = stage(&app, "paid").await;
    let check = |user: &str| json!({"user_id": user, "room": "livealex2026", "jti": "9d1e"});

    let v = verdicts(&app, json!([check(&cast.viewer_id)])).await;
    assert_eq!(v[0]["allow"], false, "{}", backend.label);
    assert_eq!(v[0]["code"], "payment_required");
    assert_eq!(v[0]["paid"], true);

    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": "livealex2026"}),
        Some(START + 3600),
    )
    .await;
    let v = verdicts(
        &app,
        json!([check(&cast.viewer_id), check(&cast.performer_id),
               {"user_id": "nobody", "room": "livealex2026"},
               {"user_id": cast.viewer_id, "room": "no-such-room"},
               {"user_id": cast.viewer_id, "room": "LiveAlex2026"}]),
    )
    .await;
    assert_eq!(v.len(), 5);
    assert_eq!(
        (&v[0]["allow"], &v[0]["affiliation"], &v[0]["recheck_at"]),
        (&json!(true), &json!("member"), &json!(START + 3600)),
        "the viewer stays a member until the ticket ends"
    );
    assert_eq!(v[0]["user_id"], cast.viewer_id.as_str());
    assert_eq!(
        (&v[1]["allow"], &v[1]["affiliation"], &v[1]["recheck_at"]),
        (&json!(true), &json!("owner"), &Value::Null),
        "the performer owns their room"
    );
    assert_eq!(v[2]["code"], "unknown_user");
    assert_eq!(v[3]["code"], "unknown_room");
    assert_eq!(
        v[4]["code"], "unknown_room",
        "Prosody's node is exact: no case folding"
    );

    let ban = app
        .admin(
            "/api/admin/bans",
            json!({"user_id": cast.viewer_id, "scope": {"kind": "room", "room": "livealex2026"},
                   "reason": "spam", "until": roomkey::clock::rfc3339(START + 600)}),
        )
        .await;
    assert_eq!(ban.status, StatusCode::CREATED);
    let v = verdicts(&app, json!([check(&cast.viewer_id)])).await;
    assert_eq!(v[0]["allow"], false);
    assert_eq!(v[0]["code"], "banned");
    assert_eq!(v[0]["recheck_at"], START + 600);
    assert!(
        v[0]["reason"].as_str().unwrap().ends_with(": spam"),
        "{}",
        v[0]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn prosody_requests_must_be_signed_fresh_and_for_their_endpoint() {
    let backend = &Backend::sqlite();
    let app = live_app(backend, &[]).await;
    let cast = stage(&app, "free").await;
    let body =
        json!({"shard": "p1", "checks": [{"user_id": cast.viewer_id, "room": "livealex2026"}]})
            .to_string();
    let now = app.clock_now();
    let path = "/api/prosody/verdicts";

    let good = signed(
        &app,
        path,
        now,
        &sign("verdicts", now, &body, SECRET),
        body.clone(),
    )
    .await;
    assert_eq!(good.status, StatusCode::OK, "{good:?}");

    for (why, timestamp, signature) in [
        (
            "another secret",
            now,
            sign("verdicts", now, &body, "another-secret-0123456789abcdef"),
        ),
        (
            "signed for the events endpoint",
            now,
            sign("events", now, &body, SECRET),
        ),
        (
            "too old",
            now - 61,
            sign("verdicts", now - 61, &body, SECRET),
        ),
        ("not hex", now, "v1=not-hex".to_owned()),
    ] {
        let reply = signed(&app, path, timestamp, &signature, body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{why}: {reply:?}");
        assert_eq!(reply.body["error"]["code"], "bad_signature", "{why}");
    }
    let unsigned = app
        .post(path, None, serde_json::from_str(&body).unwrap())
        .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);

    let empty = from_prosody(&app, path, "verdicts", json!({"shard": "p1", "checks": []})).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{empty:?}");
    assert_eq!(empty.body["error"]["field"], "checks");
    let malformed = from_prosody(
        &app,
        path,
        "verdicts",
        json!({"shard": "p1", "checks": "all"}),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.shutdown().await;
}

per_backend!(joins_and_leaves_become_attendance_with_durations);
async fn joins_and_leaves_become_attendance_with_durations(backend: Backend) {
    let app = live_app(&backend, &[]).await;
    let cast = stage(&app, "free").await;
    let (other_id, _) = app.register("other").await;
    let events = |events: Value| {
        from_prosody(
            &app,
            "/api/prosody/events",
            "events",
            json!({"shard": "prosody-1", "events": events}),
        )
    };
    let joined = |occupant: &str, user: &str, at: i64| {
        json!({"id": format!("e-{occupant}-j"), "type": "joined", "room": "livealex2026",
               "user_id": user, "occupant": occupant, "nick": "nick", "at": at as f64 + 0.25})
    };
    let left = |occupant: &str, at: i64| {
        json!({"id": format!("e-{occupant}-l"), "type": "left", "room": "livealex2026",
               "user_id": "ignored", "occupant": occupant, "at": at})
    };

    let reply = events(json!([
        joined("o1", &cast.viewer_id, START - 600),
        joined("o2", &other_id, START - 500),
        left("o1", START - 300),
        // a reconnect: a new stay for the same viewer
        joined("o3", &cast.viewer_id, START - 200),
        {"id": "e-o4", "type": "joined", "room": "unknown-room", "user_id": cast.viewer_id,
         "occupant": "o4", "at": START - 100},
    ]))
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}: {reply:?}", backend.label);
    assert_eq!(reply.body, json!({"recorded": 4, "ignored": 1}));
    // the module retries a batch it got no answer for: nothing changes
    let again = events(json!([
        joined("o1", &cast.viewer_id, START - 600),
        left("o1", START - 300)
    ]))
    .await;
    assert_eq!(again.body, json!({"recorded": 0, "ignored": 2}));

    let seen = app
        .get(
            "/api/rooms/livealex2026/participants",
            Some(&cast.performer_session),
        )
        .await;
    assert_eq!(seen.status, StatusCode::OK, "{seen:?}");
    let people = seen.body["people"].as_array().unwrap();
    assert_eq!(people.len(), 2);
    assert_eq!(people[0]["user_id"], cast.viewer_id.as_str());
    assert_eq!(people[0]["segments"], 2);
    assert_eq!(people[0]["duration_secs"], 300 + 200, "{}", seen.body);
    assert_eq!(people[1]["duration_secs"], 500);
    assert_eq!(seen.body["present"].as_array().unwrap().len(), 2);
    assert_eq!(seen.body["segments"].as_array().unwrap().len(), 3);
    assert_eq!(
        seen.body["segments"][0]["left_at"],
        roomkey::clock::rfc3339(START - 300)
    );

    let closed = events(json!([{"id": "e-end", "type": "room_destroyed", "room": "livealex2026", "at": START - 50}])).await;
    assert_eq!(closed.body["recorded"], 1);
    let seen = app
        .get("/api/rooms/livealex2026/participants", Some(ADMIN_KEY))
        .await;
    assert_eq!(seen.body["present"], json!([]));
    assert_eq!(seen.body["people"][0]["duration_secs"], 300 + 150);

    let (_, stranger) = app.register("stranger").await;
    let refused = app
        .get("/api/rooms/livealex2026/participants", Some(&stranger))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    app.shutdown().await;
}

per_backend!(taking_access_away_is_pushed_to_every_shard);
async fn taking_access_away_is_pushed_to_every_shard(backend: Backend) {
    let (mut one, mut two) = (shard().await, shard().await);
    let app = live_app(&backend, &[&one, &two]).await;
    let cast = stage(&app, "paid").await;
    let entitlement = app
        .grant(
            &cast.viewer_id,
            json!({"kind": "room", "room": "livealex2026"}),
            None,
        )
        .await;
    // a grant too: a shard drops any refusal it still holds for the viewer
    for shard in [&mut one, &mut two] {
        let command = shard.next_command().await;
        assert_eq!(
            (&command["type"], &command["reason"]),
            (&json!("revalidate"), &json!("access granted"))
        );
    }
    one.nothing_more().await;

    let revoke = app
        .admin(
            &format!(
                "/api/admin/entitlements/{}/revoke",
                entitlement["id"].as_str().unwrap()
            ),
            json!({"reason": "comp withdrawn"}),
        )
        .await;
    assert_eq!(revoke.status, StatusCode::OK);
    for shard in [&mut one, &mut two] {
        let command = shard.next_command().await;
        assert_eq!(command["type"], "revalidate", "{}", backend.label);
        assert_eq!(command["user_id"], cast.viewer_id.as_str());
        assert!(command["id"].as_str().is_some_and(|id| !id.is_empty()));
    }

    let ban = app
        .admin(
            "/api/admin/bans",
            json!({"user_id": cast.viewer_id, "scope": {"kind": "global"}, "reason": "abuse"}),
        )
        .await;
    assert_eq!(ban.status, StatusCode::CREATED);
    assert_eq!(one.next_command().await["type"], "revalidate");
    assert_eq!(two.next_command().await["type"], "revalidate");

    // a refund or chargeback of the payment that granted access
    let (buyer_id, buyer_session) = app.register("buyer").await;
    let paid = app
        .admin(
            "/api/admin/payments",
            json!({"user_id": buyer_id, "purchase": {"kind": "room", "room": "livealex2026"},
                   "provider": "meru", "provider_ref": "link-1", "amount_minor": 2_500, "currency": "USD"}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{paid:?}");
    assert_eq!(one.next_command().await["reason"], "payment received");
    two.next_command().await;
    let reference = paid.body["reference"].as_str().unwrap();
    let charged_back = app
        .admin(
            &format!("/api/admin/payments/{reference}/chargeback"),
            json!({}),
        )
        .await;
    assert_eq!(charged_back.body["status"], "revoked");
    let command = one.next_command().await;
    assert_eq!(
        (&command["type"], &command["user_id"]),
        (&json!("revalidate"), &json!(buyer_id))
    );
    two.next_command().await;

    // the performer kicks someone from their own room; a viewer may not
    let kick = app
        .post(
            "/api/rooms/livealex2026/kick",
            Some(&cast.performer_session),
            json!({"user_id": buyer_id, "reason": "shouting"}),
        )
        .await;
    assert_eq!(kick.status, StatusCode::ACCEPTED, "{kick:?}");
    assert_eq!(kick.body["shards"], 2);
    let command = one.next_command().await;
    assert_eq!(
        command,
        json!({"id": command["id"], "type": "kick", "room": "livealex2026",
               "user_id": buyer_id, "reason": "shouting"})
    );
    two.next_command().await;
    let refused = app
        .post(
            "/api/rooms/livealex2026/kick",
            Some(&buyer_session),
            json!({"user_id": cast.performer_id, "reason": "revenge"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let blank = app
        .post(
            "/api/rooms/livealex2026/kick",
            Some(ADMIN_KEY),
            json!({"user_id": buyer_id, "reason": " "}),
        )
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);

    // ending the show closes the video room and keeps viewers out
    let (fan_id, fan_session) = app.register("fan").await;
    app.grant(
        &fan_id,
        json!({"kind": "room", "room": "livealex2026"}),
        None,
    )
    .await;
    one.next_command().await;
    two.next_command().await;
    let end = app
        .post(
            "/api/rooms/livealex2026/end",
            Some(&cast.performer_session),
            json!({"reason": "Thanks for coming"}),
        )
        .await;
    assert_eq!(end.status, StatusCode::OK, "{end:?}");
    let command = one.next_command().await;
    assert_eq!(
        (&command["type"], &command["room"], &command["reason"]),
        (
            &json!("end_room"),
            &json!("livealex2026"),
            &json!("Thanks for coming")
        )
    );
    two.next_command().await;
    assert_eq!(
        app.token("livealex2026", &fan_session).await.status,
        StatusCode::GONE
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_shard_that_is_down_gets_the_command_when_it_answers_again() {
    let backend = &Backend::sqlite();
    // Reserve a port, announce it as a shard, and only then start listening on it.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = reserved.local_addr().unwrap();
    drop(reserved);
    let app = spawn_app_with(backend, move |c| {
        c.prosody.secret = roomkey::config::Secret::new(SECRET);
        c.prosody.shards = vec![format!("http://{address}/roomkey")];
    })
    .await;
    let cast = stage(&app, "free").await;
    app.admin(
        "/api/admin/bans",
        json!({"user_id": cast.viewer_id, "scope": {"kind": "global"}, "reason": "abuse"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let (tx, mut received) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/roomkey/commands",
        axum::routing::post(move |body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let body = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("the retry reaches the shard")
        .unwrap();
    let command: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(command["type"], "revalidate");
    app.shutdown().await;
}

#[tokio::test]
async fn with_live_enforcement_a_token_covers_the_show_but_not_past_the_ticket() {
    let backend = &Backend::sqlite();
    let app = spawn_app_with(backend, |c| {
        c.prosody.shards = vec!["http://127.0.0.1:9/roomkey".into()];
        c.jitsi.show_token_max_secs = 6 * 3600;
    })
    .await;
    let (performer, _) = app.user_with_role("alex", "performer").await;
    let (viewer, session) = app.register("viewer").await;
    let (late, late_session) = app.register("late").await;
    let room = json!({"name": "tonight", "title": "Tonight", "owner_id": performer, "access": "paid",
        "price": {"amount_minor": 500, "currency": "USD"},
        "starts_at": roomkey::clock::rfc3339(START - 600), "ends_at": roomkey::clock::rfc3339(START + 7200)});
    assert_eq!(
        app.admin("/api/admin/rooms", room).await.status,
        StatusCode::CREATED
    );
    app.grant(&viewer, json!({"kind": "room", "room": "tonight"}), None)
        .await;
    app.grant(
        &late,
        json!({"kind": "room", "room": "tonight"}),
        Some(START + 1800),
    )
    .await;

    let claims = |reply: Reply| decode_jwt(reply.body["jwt"].as_str().unwrap()).1;
    assert_eq!(
        claims(app.token("tonight", &session).await)["exp"],
        START + 7200,
        "a reconnect mid-show still holds a valid token"
    );
    assert_eq!(
        claims(app.token("tonight", &late_session).await)["exp"],
        START + 1800,
        "never past the entitlement"
    );
    app.shutdown().await;

    let mut config = roomkey::config::Config::default();
    config.jitsi.show_token_max_secs = 3600;
    let refused = config.validate().unwrap_err().to_string();
    assert!(refused.contains("jitsi.show_token_max_secs"), "{refused}");
}

#[tokio::test]
async fn a_performer_bans_from_their_own_room_and_the_shards_hear_of_it() {
    let backend = &Backend::sqlite();
    let mut shard = shard().await;
    let app = live_app(backend, &[&shard]).await;
    let cast = stage(&app, "free").await;
    let (moderator_id, _) = app.user_with_role("mod", "moderator").await;
    let ban = |session: String, user: String| {
        let app = &app;
        async move {
            app.post(
                "/api/rooms/livealex2026/ban",
                Some(&session),
                json!({"user_id": user, "reason": "spam in chat"}),
            )
            .await
        }
    };

    let refused = ban(cast.viewer_session.clone(), cast.performer_id.clone()).await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "a viewer moderates nothing"
    );
    for target in [moderator_id, cast.performer_id.clone()] {
        let refused = ban(cast.performer_session.clone(), target).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    }

    let banned = ban(cast.performer_session.clone(), cast.viewer_id.clone()).await;
    assert_eq!(banned.status, StatusCode::CREATED, "{banned:?}");
    assert_eq!(banned.body["scope"]["kind"], "room");
    assert_eq!(banned.body["banned_by"], cast.performer_id.as_str());
    let command = shard.next_command().await;
    assert_eq!(
        (&command["type"], &command["user_id"]),
        (&json!("revalidate"), &json!(cast.viewer_id))
    );
    let token = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(token.status, StatusCode::FORBIDDEN);
    assert_eq!(token.body["error"]["code"], "banned");
    app.shutdown().await;
}

#[tokio::test]
async fn a_full_batch_from_a_big_show_is_taken_whole() {
    let backend = &Backend::sqlite();
    let app = live_app(backend, &[]).await;
    let cast = stage(&app, "free").await;
    // 500 occupants with Jitsi token ids: well over the 64 KiB a user's request may have.
    let checks: Vec<Value> = (0..500)
        .map(|i| json!({"user_id": cast.viewer_id, "room": "livealex2026", "jti": format!("{i:0>72}")}))
        .collect();
    let body = json!({"shard": "prosody-1", "checks": checks});
    assert!(body.to_string().len() > 64 * 1024);
    let v = verdicts(&app, body["checks"].clone()).await;
    assert_eq!(v.len(), 500);
    assert!(v.iter().all(|v| v["allow"] == true));
    let events: Vec<Value> = (0..500)
        .map(|i| json!({"id": format!("e{i:0>35}"), "type": "joined", "room": "livealex2026",
                        "user_id": cast.viewer_id, "occupant": format!("o{i:0>35}"),
                        "nick": format!("viewer number {i} with a long display name"), "at": START - 10}))
        .collect();
    let reply = from_prosody(
        &app,
        "/api/prosody/events",
        "events",
        json!({"shard": "prosody-1", "events": events}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["recorded"], 500);
    app.shutdown().await;
}

/// A shard stand-in that answers 404 (a conference component without `http_host`, say)
/// while `down` is set, and takes commands again once it is cleared.
async fn shard_that_can_fail() -> (Shard, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let down = std::sync::Arc::new(AtomicBool::new(true));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/roomkey", listener.local_addr().unwrap());
    let (tx, received) = mpsc::unbounded_channel();
    let flag = down.clone();
    let router = axum::Router::new().route(
        "/roomkey/commands",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let down = flag.load(Ordering::SeqCst);
            async move {
                if down {
                    return (StatusCode::NOT_FOUND, "not here");
                }
                let _ = tx.send((headers, body));
                (StatusCode::OK, "{\"ok\":true,\"affected\":1}")
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (Shard { url, received }, down)
}

per_backend!(a_kick_a_shard_missed_reaches_it_later_even_after_a_restart);
/// A kick a shard misses is not lost: it waits in the store and reaches the shard when it
/// answers again, from another instance after this one is gone; one a shard never takes
/// is given up after the delivery window and counted as failed.
async fn a_kick_a_shard_missed_reaches_it_later_even_after_a_restart(backend: Backend) {
    use std::sync::atomic::Ordering;
    let mut healthy = shard().await;
    let (mut flaky, down) = shard_that_can_fail().await;
    let app = live_app(&backend, &[&healthy, &flaky]).await;
    let cast = stage(&app, "free").await;
    let kick = app
        .post(
            &format!("/api/rooms/{}/kick", cast.room),
            Some(&cast.performer_session),
            json!({"user_id": cast.viewer_id, "reason": "shouting"}),
        )
        .await;
    assert_eq!(kick.status, StatusCode::ACCEPTED, "{kick:?}");
    let sent = healthy.next_command().await;
    assert_eq!(sent["type"], "kick");
    // the flaky shard's first attempts fail; let them run out
    tokio::time::sleep(Duration::from_millis(1500)).await;
    flaky.nothing_more().await;

    // this instance goes away; the next one, on the same store, finds the kick waiting
    let sibling = app.restart().await;
    down.store(false, Ordering::SeqCst);
    sibling.clock.advance(2);
    // its worker runs every second too; whichever pass comes first delivers it
    sibling.app.state().live.try_once().await.unwrap();
    let late = flaky.next_command().await;
    assert_eq!(
        late["id"], sent["id"],
        "the same command, run once by the shard"
    );
    assert_eq!(late["user_id"], cast.viewer_id.as_str());
    assert_eq!(sibling.app.state().live.try_once().await.unwrap(), 0);

    // a shard that never answers: given up after the window, and counted
    down.store(true, Ordering::SeqCst);
    let kick = sibling
        .post(
            &format!("/api/rooms/{}/kick", cast.room),
            Some(ADMIN_KEY),
            json!({"user_id": cast.viewer_id, "reason": "again"}),
        )
        .await;
    assert_eq!(kick.status, StatusCode::ACCEPTED);
    healthy.next_command().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sibling.clock.advance(roomkey::live::DELIVERY_WINDOW_SECS);
    assert_eq!(sibling.app.state().live.try_once().await.unwrap(), 0);
    down.store(false, Ordering::SeqCst);
    sibling.clock.advance(60);
    assert_eq!(sibling.app.state().live.try_once().await.unwrap(), 0);
    flaky.nothing_more().await;
    let failed = "roomkey_live_commands_total{command=\"kick\",outcome=\"failed\"} 1";
    let metrics = sibling.get("/metrics", None).await;
    assert!(
        metrics.body.as_str().unwrap().contains(failed),
        "{}: {metrics:?}",
        backend.label
    );
    sibling.shutdown().await;
}
