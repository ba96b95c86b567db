//! Statistics for performers, on fixtures small enough to compute by hand: attendance as
//! Prosody reports it (signed `/api/prosody/events`), revenue through ePayco confirmations.
//!
//! The main show, `livealex2026`, seen from `T0` (an hour before the clock's now, on a
//! five-minute boundary), in seconds after `T0`:
//!
//! ```text
//! ada  o1 [0, 600]   o2 [300, 900]   a reconnect that overlapped: 900 s, not 1000
//! bob  o3 [100, 400]                                                 300 s
//! cyd  o4 [200, open)                still in the room at now = 3600: 3400 s
//! dee  o5 [1000, 1100]                                               100 s
//! ```
//!
//! Viewers 4, joins 5, present 1, watch 4700 s, median (300 + 900) / 2 = 600 s, peak 3 at
//! 200 (ada, bob, cyd: ada's second device does not make it 4 at 300).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;

const PROSODY_SECRET: &str = "prosody-shared-secret-0123456789abcdef";
const CUSTOMER: &str = "12345";
const P_KEY: &str = "0123456789abcdef0123456789abcdef";
const T0: i64 = START - 3600;

async fn stats_app(backend: &Backend) -> TestApp {
    spawn_app_with(backend, |c| {
        c.prosody.secret = roomkey::config::Secret::new(PROSODY_SECRET);
        c.payments.epayco.validation_url = crate::epayco_server::new_validation_url();
        c.payments.epayco.customer_id = CUSTOMER.into();
        c.payments.epayco.p_key = roomkey::config::Secret::new(P_KEY);
        c.payments.epayco.public_key = "pk_test_491d6a0b6e992cf924edd8d3d088aff1".into();
    })
    .await
}

/// Sends attendance events as `mod_roomkey` does.
async fn report(app: &TestApp, events: Value) {
    let body = json!({"shard": "prosody-1", "events": events}).to_string();
    let now = app.clock_now();
    let mut mac = Hmac::<Sha256>::new_from_slice(PROSODY_SECRET.as_bytes()).unwrap();
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
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["ignored"], 0, "{reply:?}");
}

fn joined(room: &str, occupant: &str, user: &str, after_t0: i64) -> Value {
    json!({"id": format!("{occupant}-j"), "type": "joined", "room": room, "user_id": user,
           "occupant": occupant, "nick": "nick", "at": (T0 + after_t0) as f64 + 0.5})
}

fn left(occupant: &str, after_t0: i64) -> Value {
    json!({"id": format!("{occupant}-l"), "type": "left", "occupant": occupant, "at": T0 + after_t0})
}

/// An accepted (1) or refunded (6) ePayco confirmation.
async fn epayco(
    app: &TestApp,
    reference: Option<&str>,
    ref_payco: &str,
    state: u32,
    amount: &str,
    currency: &str,
) {
    let fields = crate::payments::notification(reference, ref_payco, state, amount, currency);
    let reply = crate::payments::confirm(app, &fields).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

async fn checkout(app: &TestApp, session: &str, path: &str, body: Option<Value>) -> String {
    let reply = app.call(Method::POST, path, Some(session), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body["reference"].as_str().unwrap().to_owned()
}

struct Audience {
    ada: (String, String),
    bob: (String, String),
    cyd: (String, String),
    dee: (String, String),
}

/// The cast, the main show's attendance as in the module doc, and its payments: bob's and
/// cyd's tickets (cyd's refunded) in COP, dee's tip in USD.
async fn the_show(app: &TestApp) -> (Stage, Audience) {
    let cast = stage(app, "paid").await;
    let audience = Audience {
        ada: app.register("ada").await,
        bob: app.register("bob").await,
        cyd: app.register("cyd").await,
        dee: app.register("dee").await,
    };
    let room = "livealex2026";
    report(
        app,
        json!([
            joined(room, "o1", &audience.ada.0, 0),
            joined(room, "o3", &audience.bob.0, 100),
            joined(room, "o4", &audience.cyd.0, 200),
            joined(room, "o2", &audience.ada.0, 300),
            left("o3", 400),
            left("o1", 600),
            left("o2", 900),
            joined(room, "o5", &audience.dee.0, 1000),
            left("o5", 1100),
        ]),
    )
    .await;

    let bob_ticket = checkout(app, &audience.bob.1, "/api/rooms/livealex2026/pay", None).await;
    epayco(app, Some(&bob_ticket), "2001", 1, "50000.00", "COP").await;
    let cyd_ticket = checkout(app, &audience.cyd.1, "/api/rooms/livealex2026/pay", None).await;
    epayco(app, Some(&cyd_ticket), "2002", 1, "50000.00", "COP").await;
    epayco(app, None, "2002", 6, "50000.00", "COP").await;
    let tip = checkout(
        app,
        &audience.dee.1,
        "/api/rooms/livealex2026/tip",
        Some(json!({"amount_minor": 1_001, "currency": "USD"})),
    )
    .await;
    epayco(app, Some(&tip), "2003", 1, "10.01", "USD").await;
    (cast, audience)
}

fn at(after_t0: i64) -> Value {
    json!(roomkey::clock::rfc3339(T0 + after_t0))
}

fn buckets(stats: &Value) -> Vec<(Value, i64)> {
    stats["joins_over_time"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["start"].clone(), b["joins"].as_i64().unwrap()))
        .collect()
}

per_backend!(a_show_in_figures);
async fn a_show_in_figures(backend: Backend) {
    let app = stats_app(&backend).await;
    let (cast, audience) = the_show(&app).await;
    let reply = app
        .get(
            "/api/rooms/livealex2026/stats",
            Some(&cast.performer_session),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}: {reply:?}", backend.label);
    let stats = reply.body;
    assert_eq!(stats["room"], "livealex2026");
    assert_eq!(stats["as_of"], at(3600));
    assert_eq!(stats["viewers"], 4, "{}: {stats}", backend.label);
    assert_eq!(stats["joins"], 5);
    assert_eq!(stats["present"], 1, "cyd is still in the room");
    assert_eq!(
        stats["watch_secs"],
        900 + 300 + 3400 + 100,
        "{}: overlapping stays count once, an open one up to now",
        backend.label
    );
    assert_eq!(
        stats["median_watch_secs"].as_f64(),
        Some(600.0),
        "even count: the mean of 300 and 900"
    );
    assert_eq!(
        stats["peak_concurrent"], 3,
        "{}: ada's second device does not make her two people",
        backend.label
    );
    assert_eq!(stats["peak_at"], at(200));
    assert_eq!(stats["first_join_at"], at(0));
    assert_eq!(stats["last_join_at"], at(1000));
    assert_eq!(stats["bucket_secs"], 300);
    assert_eq!(
        buckets(&stats),
        vec![(at(0), 3), (at(300), 1), (at(600), 0), (at(900), 1)]
    );
    assert_eq!(
        stats["revenue"],
        json!([
            {"currency": "COP", "gross_minor": 10_000_000, "performer_share_minor": 3_500_000,
             "platform_share_minor": 1_500_000, "refunded_minor": 5_000_000, "tips_minor": 0},
            {"currency": "USD", "gross_minor": 1_001, "performer_share_minor": 700,
             "platform_share_minor": 301, "refunded_minor": 0, "tips_minor": 1_001}
        ]),
        "{}",
        backend.label
    );

    assert_eq!(
        stats["top_tippers"],
        json!([{"user_id": audience.dee.0, "handle": "dee", "display_name": "DEE",
                "currency": "USD", "amount_minor": 1_001, "tips": 1}]),
        "{}",
        backend.label
    );

    // A fifth viewer makes the count odd; time passing lengthens only the open stay.
    let (eve, _) = app.register("eve").await;
    report(
        &app,
        json!([joined("livealex2026", "o6", &eve, 1200), left("o6", 1260)]),
    )
    .await;
    app.clock.advance(600);
    let stats = app
        .get("/api/rooms/livealex2026/stats?bucket=600", Some(ADMIN_KEY))
        .await
        .body;
    assert_eq!(stats["viewers"], 5);
    assert_eq!(stats["watch_secs"], 4700 + 60 + 600);
    assert_eq!(
        stats["median_watch_secs"].as_f64(),
        Some(300.0),
        "odd count: 60, 100, 300, 900, 4000"
    );
    assert_eq!(stats["bucket_secs"], 600);
    assert_eq!(
        buckets(&stats),
        vec![(at(0), 4), (at(600), 1), (at(1200), 1)]
    );

    // cyd leaves: nobody is present and her time stops.
    report(&app, json!([left("o4", 3700)])).await;
    app.clock.advance(600);
    let stats = app
        .get("/api/rooms/livealex2026/stats", Some(ADMIN_KEY))
        .await
        .body;
    assert_eq!(stats["present"], 0);
    assert_eq!(stats["watch_secs"], 900 + 300 + 3500 + 100 + 60);
    let _ = audience;
    app.shutdown().await;
}

#[tokio::test]
async fn an_empty_room_and_bad_parameters() {
    let app = stats_app(&Backend::sqlite()).await;
    let cast = stage(&app, "free").await;
    let stats = app
        .get(
            "/api/rooms/livealex2026/stats",
            Some(&cast.performer_session),
        )
        .await;
    assert_eq!(stats.status, StatusCode::OK, "{stats:?}");
    assert_eq!(
        (
            &stats.body["viewers"],
            &stats.body["watch_secs"],
            &stats.body["median_watch_secs"],
            &stats.body["peak_concurrent"],
            &stats.body["peak_at"],
            &stats.body["joins_over_time"],
            &stats.body["revenue"],
        ),
        (
            &json!(0),
            &json!(0),
            &Value::Null,
            &json!(0),
            &Value::Null,
            &json!([]),
            &json!([])
        )
    );
    for query in ["bucket=59", "bucket=86401", "bucket=five", "room=x"] {
        let reply = app
            .get(
                &format!("/api/rooms/livealex2026/stats?{query}"),
                Some(ADMIN_KEY),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {reply:?}"
        );
        assert_eq!(reply.body["error"]["code"], "validation_failed");
    }
    let path = format!("/api/performers/{}/stats", cast.performer_id);
    for query in [
        "from=yesterday",
        "from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z",
        "limit=3",
    ] {
        let reply = app.get(&format!("{path}?{query}"), Some(ADMIN_KEY)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {reply:?}"
        );
    }
    assert_eq!(
        app.get("/api/rooms/nosuchroom/stats", Some(ADMIN_KEY))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/performers/nobody/stats", Some(ADMIN_KEY))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    app.shutdown().await;
}

per_backend!(the_tips_leaderboard_sums_confirmed_tips_per_viewer_biggest_first);
async fn the_tips_leaderboard_sums_confirmed_tips_per_viewer_biggest_first(backend: Backend) {
    let app = stats_app(&backend).await;
    let (cast, audience) = the_show(&app).await;
    let tip = |session: String, minor: i64| {
        let app = &app;
        async move {
            let body = json!({"amount_minor": minor, "currency": "USD"});
            checkout(app, &session, "/api/rooms/livealex2026/tip", Some(body)).await
        }
    };
    // bob tips twice, cyd once and then has it refunded; dee's tip is from the show.
    let first = tip(audience.bob.1.clone(), 600).await;
    epayco(&app, Some(&first), "3001", 1, "6.00", "USD").await;
    let second = tip(audience.bob.1.clone(), 600).await;
    epayco(&app, Some(&second), "3002", 1, "6.00", "USD").await;
    let refunded = tip(audience.cyd.1.clone(), 5_000).await;
    epayco(&app, Some(&refunded), "3003", 1, "50.00", "USD").await;
    epayco(&app, None, "3003", 6, "50.00", "USD").await;
    let stats = app
        .get(
            "/api/rooms/livealex2026/stats",
            Some(&cast.performer_session),
        )
        .await
        .body;
    let board: Vec<(String, i64, i64)> = stats["top_tippers"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: {stats}", backend.label))
        .iter()
        .map(|line| {
            let field = |name: &str| line[name].as_i64().unwrap_or_default();
            let handle = line["handle"].as_str().unwrap_or_default().to_owned();
            (handle, field("amount_minor"), field("tips"))
        })
        .collect();
    assert_eq!(
        board,
        vec![("bob".to_owned(), 1_200, 2), ("dee".to_owned(), 1_001, 1)],
        "{}: a refunded tip no longer counts",
        backend.label
    );
    app.shutdown().await;
}

per_backend!(who_may_see_the_figures_and_the_money);
async fn who_may_see_the_figures_and_the_money(backend: Backend) {
    let app = stats_app(&backend).await;
    let (cast, audience) = the_show(&app).await;
    let (_, other_performer) = app.user_with_role("sam", "performer").await;
    let (_, moderator) = app.user_with_role("mona", "moderator").await;
    let (_, admin) = app.user_with_role("root", "admin").await;
    let room = "/api/rooms/livealex2026/stats";
    let performer = format!("/api/performers/{}/stats", cast.performer_id);
    for path in [room, performer.as_str()] {
        let anonymous = app.get(path, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
        for (who, session) in [
            ("a paying viewer", &audience.bob.1),
            ("a viewer", &cast.viewer_session),
            ("another performer", &other_performer),
        ] {
            let reply = app.get(path, Some(session)).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{who} on {path}");
            assert_eq!(reply.body["error"]["code"], "forbidden");
        }
        for (who, session, sees_money) in [
            ("the performer", cast.performer_session.as_str(), true),
            ("an admin", admin.as_str(), true),
            ("the admin key", ADMIN_KEY, true),
            ("a moderator", moderator.as_str(), false),
        ] {
            let reply = app.get(path, Some(session)).await;
            assert_eq!(reply.status, StatusCode::OK, "{who} on {path}: {reply:?}");
            assert_eq!(
                reply.body["revenue"].is_array(),
                sees_money,
                "{}: {who} on {path}",
                backend.label
            );
            if path == room {
                assert_eq!(
                    reply.body["top_tippers"].is_array(),
                    sees_money,
                    "{}: the leaderboard names amounts; {who}",
                    backend.label
                );
            }
        }
    }
    app.shutdown().await;
}

per_backend!(a_performer_across_shows);
async fn a_performer_across_shows(backend: Backend) {
    let app = stats_app(&backend).await;
    let (cast, audience) = the_show(&app).await;
    app.create_room("encore2026", &cast.performer_id, "free")
        .await;
    let (sam, _) = app.user_with_role("sam", "performer").await;
    app.create_room("samshow", &sam, "free").await;
    report(
        &app,
        json!([
            joined("encore2026", "p1", &audience.ada.0, 2000),
            joined("encore2026", "p2", &audience.bob.0, 2100),
            left("p2", 2200),
            left("p1", 2300),
            // another performer's show is not alex's
            joined("samshow", "s1", &audience.ada.0, 2000),
            joined("samshow", "s2", &cast.viewer_id, 2000),
        ]),
    )
    .await;

    let path = format!("/api/performers/{}/stats", cast.performer_id);
    let reply = app.get(&path, Some(&cast.performer_session)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}: {reply:?}", backend.label);
    let stats = reply.body;
    assert_eq!(stats["performer_id"], cast.performer_id.as_str());
    assert_eq!(
        stats["shows"],
        json!([
            {"room": "livealex2026", "title": "Show livealex2026", "viewers": 4, "joins": 5,
             "watch_secs": 4700, "first_join_at": at(0), "last_join_at": at(1000)},
            {"room": "encore2026", "title": "Show encore2026", "viewers": 2, "joins": 2,
             "watch_secs": 400, "first_join_at": at(2000), "last_join_at": at(2100)}
        ]),
        "{}",
        backend.label
    );
    assert_eq!(
        stats["unique_viewers"], 4,
        "ada and bob came to both shows: four people"
    );
    assert_eq!(stats["joins"], 7);
    assert_eq!(stats["watch_secs"], 5100);
    assert_eq!(stats["revenue"][0]["currency"], "COP");
    assert_eq!(stats["revenue"][0]["refunded_minor"], 5_000_000);
    assert_eq!(stats["revenue"][1]["tips_minor"], 1_001);
    assert_eq!((&stats["from"], &stats["to"]), (&Value::Null, &Value::Null));

    // The encore only: stays begun from T0 + 1500 on; the ledger entries (booked at now)
    // fall inside too.
    let from = roomkey::clock::rfc3339(T0 + 1500);
    let stats = app
        .get(&format!("{path}?from={from}"), Some(ADMIN_KEY))
        .await
        .body;
    assert_eq!(stats["from"], json!(from));
    assert_eq!(stats["shows"].as_array().unwrap().len(), 1);
    assert_eq!(stats["shows"][0]["room"], "encore2026");
    assert_eq!(stats["unique_viewers"], 2);
    assert_eq!(stats["revenue"].as_array().unwrap().len(), 2);
    // Before it: the first show, and no money yet.
    let stats = app
        .get(&format!("{path}?to={from}"), Some(ADMIN_KEY))
        .await
        .body;
    assert_eq!(stats["shows"].as_array().unwrap().len(), 1);
    assert_eq!(stats["shows"][0]["room"], "livealex2026");
    assert_eq!(stats["unique_viewers"], 4);
    assert_eq!(stats["revenue"], json!([]));
    app.shutdown().await;
}

per_backend!(a_running_show_answers_recent_figures_and_a_finished_one_exact_ones);
/// Figures are kept between requests: a running show's for a few seconds (its `as_of` says
/// how old they are), a finished show's for as long as its attendance does not change.
async fn a_running_show_answers_recent_figures_and_a_finished_one_exact_ones(backend: Backend) {
    use roomkey::stats::{LIVE_FRESH_SECS, LIVE_STALE_LIMIT_SECS};
    let app = stats_app(&backend).await;
    let (_, audience) = the_show(&app).await;
    let path = "/api/rooms/livealex2026/stats";
    let stats = app.get(path, Some(ADMIN_KEY)).await.body;
    assert_eq!(
        (stats["viewers"].as_i64(), &stats["as_of"]),
        (Some(4), &at(3600))
    );

    // cyd is still in: a join now is in the figures only once they are recomputed.
    let (eve, _) = app.register("eve").await;
    report(
        &app,
        json!([joined("livealex2026", "o6", &eve, 3600), left("o6", 3600)]),
    )
    .await;
    let stats = app.get(path, Some(ADMIN_KEY)).await.body;
    assert_eq!(
        (stats["viewers"].as_i64(), &stats["as_of"]),
        (Some(4), &at(3600)),
        "{}: recent figures are answered as they are",
        backend.label
    );

    // Older than fresh: still answered, while newer ones are computed in the background.
    app.clock.advance(LIVE_FRESH_SECS);
    let stats = app.get(path, Some(ADMIN_KEY)).await.body;
    assert_eq!(stats["as_of"], at(3600), "{}", backend.label);
    let mut refreshed = Value::Null;
    for _ in 0..200 {
        refreshed = app.get(path, Some(ADMIN_KEY)).await.body;
        if refreshed["as_of"] == at(3600 + LIVE_FRESH_SECS) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        refreshed["as_of"],
        at(3600 + LIVE_FRESH_SECS),
        "{}",
        backend.label
    );
    assert_eq!(refreshed["viewers"], 5);

    // Too old to answer with at all: the request waits for new figures.
    app.clock.advance(LIVE_STALE_LIMIT_SECS);
    let now = 3600 + LIVE_FRESH_SECS + LIVE_STALE_LIMIT_SECS;
    let stats = app.get(path, Some(ADMIN_KEY)).await.body;
    assert_eq!(stats["as_of"], at(now), "{}", backend.label);
    assert_eq!(stats["watch_secs"], 900 + 300 + (now - 200) + 100);

    // cyd leaves: nobody is present, and the figures are exact from then on.
    report(&app, json!([left("o4", now)])).await;
    let finished = app.get(path, Some(ADMIN_KEY)).await.body;
    assert_eq!(finished["present"], 0, "{}", backend.label);
    assert_eq!(finished["as_of"], at(now));
    app.clock.advance(86_400);
    let a_day_later = app.get(path, Some(ADMIN_KEY)).await.body;
    assert_eq!(
        a_day_later["as_of"],
        at(now + 86_400),
        "{}: exact figures are as of now",
        backend.label
    );
    assert_eq!(a_day_later["watch_secs"], finished["watch_secs"]);
    assert_eq!(a_day_later["joins_over_time"], finished["joins_over_time"]);

    // A late stay of a finished show shows at once.
    report(
        &app,
        json!([
            joined("livealex2026", "o7", &audience.dee.0, now + 86_000),
            left("o7", now + 86_100)
        ]),
    )
    .await;
    let stats = app.get(path, Some(ADMIN_KEY)).await.body;
    assert_eq!(stats["joins"], 7, "{}", backend.label);
    assert_eq!(
        stats["watch_secs"],
        a_day_later["watch_secs"].as_i64().unwrap() + 100
    );
    app.shutdown().await;
}

per_backend!(a_destroyed_room_has_its_figures_stored_for_the_first_dashboard);
/// When a shard reports the room destroyed and nobody is left, the show's figures are
/// computed and stored in the background: the first dashboard after the show reads them.
async fn a_destroyed_room_has_its_figures_stored_for_the_first_dashboard(backend: Backend) {
    let app = stats_app(&backend).await;
    the_show(&app).await;
    let state = app.app.state();
    let room = state
        .store
        .find_room_by_name(&roomkey::domain::RoomName::parse("livealex2026").unwrap())
        .await
        .unwrap()
        .unwrap();
    report(
        &app,
        json!([
            left("o4", 3000),
            {"id": "end", "type": "room_destroyed", "room": "livealex2026", "at": T0 + 3000}
        ]),
    )
    .await;
    let mut stored = None;
    for _ in 0..300 {
        let (tally, figures) = state
            .store
            .room_tally_and_stored_figures(&room.id)
            .await
            .unwrap();
        assert_eq!(tally.open_stays, 0);
        if figures.is_some() {
            stored = figures;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let stored = stored.unwrap_or_else(|| panic!("{}: never stored", backend.label));
    assert_eq!(
        (
            stored.viewers,
            stored.joins,
            stored.present,
            stored.peak_concurrent
        ),
        (4, 5, 0, 3),
        "{}",
        backend.label
    );
    assert_eq!(stored.watch_secs, 900 + 300 + 2800 + 100);
    let stats = app
        .get("/api/rooms/livealex2026/stats", Some(ADMIN_KEY))
        .await
        .body;
    assert_eq!(stats["watch_secs"], stored.watch_secs, "{}", backend.label);
    app.shutdown().await;
}
