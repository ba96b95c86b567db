//! Private calls paid by the minute: the performer's price, the viewer's request, the
//! answer, metering per started minute from Prosody's attendance reports, and the moment
//! the credit runs out in tokens and verdicts. The module's side (the warning, the removal)
//! runs against real Prosody in `tests/calls_live.rs`.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use hmac::{Hmac, Mac};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;

const SECRET: &str = "prosody-shared-secret-0123456789abcdef";

async fn calls_app(backend: &Backend) -> TestApp {
    spawn_app_with(backend, |c| {
        c.prosody.secret = roomkey::config::Secret::new(SECRET);
        // The tests run the meter themselves, at the moments they set the clock to.
        c.calls.meter_interval_secs = 0;
        c.payments.providers.insert(
            "meru".into(),
            roomkey::config::SignedProviderConfig {
                scheme: roomkey::config::WebhookScheme::Standard,
                secrets: vec![roomkey::config::Secret::new("whsec_meru_0123456789abcdef")],
                tolerance_secs: 300,
            },
        );
        c.payments.features.insert(
            "call_minutes_30".into(),
            roomkey::config::FeaturePrice {
                amount_minor: 60_000,
                currency: "COP".into(),
                days: 365,
                call_minutes: Some(30),
            },
        );
    })
    .await
}

/// A signed request as `mod_roomkey` sends it.
async fn from_prosody(app: &TestApp, path: &str, kind: &str, body: Value) -> Reply {
    let body = body.to_string();
    let now = app.clock_now();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("v1:{kind}:{now}:{body}").as_bytes());
    let signature = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    app.send(
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json")
            .header("x-roomkey-timestamp", now.to_string())
            .header("x-roomkey-signature", signature)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

async fn verdict(app: &TestApp, user_id: &str, room: &str) -> Value {
    let reply = from_prosody(
        app,
        "/api/prosody/verdicts",
        "verdicts",
        json!({"shard": "p1", "checks": [{"user_id": user_id, "room": room}]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body["verdicts"][0].clone()
}

async fn report(app: &TestApp, events: Vec<Value>) {
    let reply = from_prosody(
        app,
        "/api/prosody/events",
        "events",
        json!({"shard": "p1", "events": events}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

fn joined(room: &str, user: &str, occupant: &str, at: i64) -> Value {
    json!({"id": format!("{occupant}-j"), "type": "joined", "room": room, "user_id": user,
           "occupant": occupant, "at": at as f64 + 0.5})
}

fn left(room: &str, user: &str, occupant: &str, at: i64) -> Value {
    json!({"id": format!("{occupant}-l"), "type": "left", "room": room, "user_id": user,
           "occupant": occupant, "at": at as f64 + 0.5})
}

async fn put(app: &TestApp, path: &str, bearer: &str, body: Value) -> Reply {
    app.call(Method::PUT, path, Some(bearer), Some(body)).await
}

async fn give_minutes(app: &TestApp, user_id: &str, minutes: i64) {
    let reply = app
        .admin(
            "/api/admin/entitlements",
            json!({"user_id": user_id, "scope": {"kind": "credit", "credit": "call_minutes"},
                   "quantity": minutes}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
}

/// A performer at 1 000 COP a minute and a viewer with `minutes` of credit.
struct Cast {
    performer_id: String,
    performer: String,
    viewer_id: String,
    viewer: String,
}

async fn cast(app: &TestApp, minutes: i64) -> Cast {
    let (performer_id, performer) = app.user_with_role("alex", "performer").await;
    let (viewer_id, viewer) = app.register("viewer").await;
    let terms = put(
        app,
        &format!("/api/performers/{performer_id}/call-terms"),
        &performer,
        json!({"price_minor": 1000, "currency": "COP"}),
    )
    .await;
    assert_eq!(terms.status, StatusCode::OK, "{terms:?}");
    if minutes > 0 {
        give_minutes(app, &viewer_id, minutes).await;
    }
    Cast {
        performer_id,
        performer,
        viewer_id,
        viewer,
    }
}

/// Asks for a call and has it accepted; returns (call id, room, acceptance time).
async fn accepted_call(app: &TestApp, cast: &Cast) -> (String, String, i64) {
    let asked = app
        .post(
            "/api/calls",
            Some(&cast.viewer),
            json!({"performer_id": cast.performer_id}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{asked:?}");
    let id = asked.body["id"].as_str().unwrap().to_owned();
    let accepted = app
        .post(
            &format!("/api/calls/{id}/accept"),
            Some(&cast.performer),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{accepted:?}");
    let room = accepted.body["room"].as_str().unwrap().to_owned();
    (id, room, app.clock_now())
}

async fn meter(app: &TestApp) -> u64 {
    app.app.state().calls.meter_once().await.unwrap()
}

/// A meter pass that only charges (the viewer's gaps here are not departures).
async fn charge(app: &TestApp) -> u64 {
    app.app.state().calls.charge_due().await.unwrap()
}

/// Every account's sum in the call ledger; they must add up to zero.
async fn ledger(app: &TestApp) -> Vec<(String, i64)> {
    app.app.state().store.call_ledger_balances().await.unwrap()
}

per_backend!(a_call_is_refused_with_a_reason_until_everything_it_needs_is_there);
async fn a_call_is_refused_with_a_reason_until_everything_it_needs_is_there(backend: Backend) {
    let app = calls_app(&backend).await;
    let cast = cast(&app, 0).await;
    let (other_performer, _) = app.user_with_role("bea", "performer").await;
    let ask = |performer: &str| {
        app.post(
            "/api/calls",
            Some(&cast.viewer),
            json!({"performer_id": performer}),
        )
    };

    let no_credit = ask(&cast.performer_id).await;
    assert_eq!(
        no_credit.status,
        StatusCode::PAYMENT_REQUIRED,
        "{no_credit:?}"
    );
    assert_eq!(no_credit.body["error"]["code"], "entitlement_required");
    give_minutes(&app, &cast.viewer_id, 5).await;
    let no_price = ask(&other_performer).await;
    assert_eq!(no_price.status, StatusCode::CONFLICT, "{no_price:?}");
    assert_eq!(no_price.body["error"]["code"], "not_for_sale");
    let not_a_performer = ask(&cast.viewer_id).await;
    assert_eq!(not_a_performer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(not_a_performer.body["error"]["field"], "performer_id");
    let viewer_sets_a_price = put(
        &app,
        &format!("/api/performers/{}/call-terms", cast.performer_id),
        &cast.viewer,
        json!({"price_minor": 1, "currency": "COP"}),
    )
    .await;
    assert_eq!(viewer_sets_a_price.status, StatusCode::FORBIDDEN);
    let free = put(
        &app,
        &format!("/api/performers/{}/call-terms", cast.performer_id),
        &cast.performer,
        json!({"price_minor": 0, "currency": "COP"}),
    )
    .await;
    assert_eq!(free.body["error"]["field"], "price_minor", "{free:?}");

    let asked = ask(&cast.performer_id).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{asked:?}");
    assert_eq!(asked.body["state"], "requested");
    assert_eq!(asked.body["room"], Value::Null);
    let id = asked.body["id"].as_str().unwrap();
    let (_, stranger) = app.register("stranger").await;
    let unseen = app.get(&format!("/api/calls/{id}"), Some(&stranger)).await;
    assert_eq!(unseen.status, StatusCode::NOT_FOUND);
    let self_accept = app
        .post(
            &format!("/api/calls/{id}/accept"),
            Some(&cast.viewer),
            json!({}),
        )
        .await;
    assert_eq!(self_accept.status, StatusCode::FORBIDDEN);
    let declined = app
        .post(
            &format!("/api/calls/{id}/decline"),
            Some(&cast.performer),
            json!({}),
        )
        .await;
    assert_eq!(declined.body["state"], "declined", "{declined:?}");
    let late_accept = app
        .post(
            &format!("/api/calls/{id}/accept"),
            Some(&cast.performer),
            json!({}),
        )
        .await;
    assert_eq!(late_accept.status, StatusCode::CONFLICT);
    app.shutdown().await;
}

per_backend!(a_viewer_pays_each_started_minute_once_and_leaves_when_the_credit_runs_out);
async fn a_viewer_pays_each_started_minute_once_and_leaves_when_the_credit_runs_out(
    backend: Backend,
) {
    let app = calls_app(&backend).await;
    let cast = cast(&app, 3).await;
    let (id, room, start) = accepted_call(&app, &cast).await;
    assert_eq!(room, format!("call-{id}"));

    // Only the two of them (and staff) may enter.
    let (_, third) = app.register("third").await;
    let refused = app.token(&room, &third).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    let (_, moderator) = app.user_with_role("mod", "moderator").await;
    assert_eq!(app.token(&room, &moderator).await.status, StatusCode::OK);
    let token = app.token(&room, &cast.viewer).await;
    assert_eq!(token.status, StatusCode::OK, "{token:?}");
    let (_, claims, _, _) = decode_jwt(token.body["jwt"].as_str().unwrap());
    assert_eq!(
        claims["exp"],
        json!(start + 180),
        "the token ends with the credit"
    );

    app.clock.set(start + 5);
    report(&app, vec![joined(&room, &cast.viewer_id, "o1", start + 5)]).await;
    let v = verdict(&app, &cast.viewer_id, &room).await;
    assert_eq!(v["allow"], true, "{v}");
    assert_eq!(v["recheck_at"], json!(start + 180));
    assert_eq!(v["warn_at"], json!(start + 120));
    assert!(v["warning"].as_str().unwrap().contains("one minute"));
    let performer_v = verdict(&app, &cast.performer_id, &room).await;
    assert_eq!(performer_v["affiliation"], "owner");
    assert_eq!(performer_v.get("warn_at"), None);

    app.clock.set(start + 65);
    assert_eq!(meter(&app).await, 2, "slots 0 and 1 have started");
    assert_eq!(meter(&app).await, 0, "a second pass charges nothing");
    let seen = app
        .get(&format!("/api/calls/{id}"), Some(&cast.performer))
        .await;
    assert_eq!(seen.body["minutes_charged"], 2, "{seen:?}");
    assert_eq!(seen.body["earnings_minor"], 1400);
    assert_eq!(seen.body["running_seconds"], 65);
    assert_eq!(seen.body.get("viewer_credit_minutes"), None);
    let v = verdict(&app, &cast.viewer_id, &room).await;
    assert_eq!(
        v["recheck_at"],
        json!(start + 180),
        "charging does not move the end"
    );

    app.clock.set(start + 180);
    meter(&app).await;
    let v = verdict(&app, &cast.viewer_id, &room).await;
    assert_eq!(v["allow"], false, "{v}");
    assert_eq!(v["code"], "call_credit_exhausted");
    assert_eq!(v["reason"], "Your call credit has run out");
    assert_eq!(
        app.token(&room, &cast.viewer).await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    // The removal is reported a moment later: the minute it started is not charged.
    report(&app, vec![left(&room, &cast.viewer_id, "o1", start + 181)]).await;
    app.clock.set(start + 190);
    assert_eq!(meter(&app).await, 0);
    let seen = app
        .get(&format!("/api/calls/{id}"), Some(&cast.viewer))
        .await;
    assert_eq!(seen.body["minutes_charged"], 3, "{seen:?}");
    assert_eq!(seen.body["viewer_credit_minutes"], 0);
    let mut books = ledger(&app).await;
    books.sort();
    assert_eq!(
        books,
        vec![
            (format!("credit:{}", cast.viewer_id), -3000),
            (format!("performer:{}", cast.performer_id), 2100),
            ("platform".to_owned(), 900),
        ]
    );
    let metrics = app.get("/metrics", None).await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains("roomkey_call_minutes_debited_total 3"),
        "{text}"
    );
    assert!(text.contains("roomkey_calls_started_total 1"), "{text}");

    let ended = app
        .post(
            &format!("/api/calls/{id}/end"),
            Some(&cast.viewer),
            json!({}),
        )
        .await;
    assert_eq!(ended.body["state"], "ended", "{ended:?}");
    assert_eq!(ended.body["end_reason"], "The viewer ended the call");
    let again = app
        .post(
            &format!("/api/calls/{id}/end"),
            Some(&cast.performer),
            json!({}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let text = app
        .get("/metrics", None)
        .await
        .body
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(text.contains("roomkey_calls_ended_total 1"), "{text}");
    app.shutdown().await;
}

per_backend!(a_top_up_during_the_call_moves_the_end_later_and_staff_ending_it_is_audited);
async fn a_top_up_during_the_call_moves_the_end_later_and_staff_ending_it_is_audited(
    backend: Backend,
) {
    let app = calls_app(&backend).await;
    let cast = cast(&app, 1).await;
    let (id, room, start) = accepted_call(&app, &cast).await;
    report(&app, vec![joined(&room, &cast.viewer_id, "o1", start)]).await;
    app.clock.set(start + 30);
    assert_eq!(meter(&app).await, 1);
    let v = verdict(&app, &cast.viewer_id, &room).await;
    assert_eq!(v["recheck_at"], json!(start + 60), "{v}");

    give_minutes(&app, &cast.viewer_id, 2).await;
    let v = verdict(&app, &cast.viewer_id, &room).await;
    assert_eq!(v["allow"], true);
    assert_eq!(v["recheck_at"], json!(start + 180), "{v}");
    assert_eq!(v["warn_at"], json!(start + 120));

    let (_, moderator) = app.user_with_role("mod", "moderator").await;
    let ended = app
        .post(&format!("/api/calls/{id}/end"), Some(&moderator), json!({}))
        .await;
    assert_eq!(ended.body["state"], "ended", "{ended:?}");
    let audit = app.get("/api/moderation/audit", Some(&moderator)).await;
    let entries = audit.body["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "end_room" && e["details"]["call_id"] == id.as_str()),
        "{audit:?}"
    );
    let after = app.token(&room, &cast.viewer).await;
    assert_ne!(after.status, StatusCode::OK, "{after:?}");
    app.shutdown().await;
}

/// One viewer stay, `[joined, left)`; `None` stays open.
type Stay = (i64, Option<i64>);

/// The started minutes of the union of `stays` up to `now`, second by second.
fn started_minutes(start: i64, stays: &[Stay], now: i64) -> BTreeSet<i64> {
    let mut minutes = BTreeSet::new();
    for &(joined, left) in stays {
        let until = left.unwrap_or(now).max(joined + 1).min(now);
        for second in joined..until.max(joined + 1) {
            minutes.insert((second - start).div_euclid(60));
        }
    }
    minutes
}

per_backend!(replayed_duplicated_reordered_and_batched_reports_charge_the_union_of_presence_once);
async fn replayed_duplicated_reordered_and_batched_reports_charge_the_union_of_presence_once(
    backend: Backend,
) {
    let app = calls_app(&backend).await;
    let cast = cast(&app, 100_000).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(19);
    let mut total_minutes = 0;
    for case in 0..12 {
        let (id, room, start) = accepted_call(&app, &cast).await;
        let end = start + 1100;
        let stays: Vec<Stay> = (0..rng.gen_range(1..5))
            .map(|_| {
                let joined = start + rng.gen_range(0..800);
                let open = rng.gen_bool(0.15);
                (joined, (!open).then(|| joined + rng.gen_range(0..200)))
            })
            .collect();
        // The shard's queue, in time order; each occupant's join before its leave.
        let mut timeline: Vec<(i64, Value)> = Vec::new();
        for (n, &(joined_at, left_at)) in stays.iter().enumerate() {
            let occupant = format!("c{case}-o{n}");
            timeline.push((
                joined_at,
                joined(&room, &cast.viewer_id, &occupant, joined_at),
            ));
            if let Some(at) = left_at {
                timeline.push((at, left(&room, &cast.viewer_id, &occupant, at)));
            }
        }
        // The performer's presence is never charged.
        timeline.push((
            start,
            joined(&room, &cast.performer_id, &format!("c{case}-p"), start),
        ));
        timeline.sort_by_key(|(at, event)| (*at, event["type"] != "joined"));
        let mut sent: Vec<Vec<Value>> = Vec::new();
        let mut rest = timeline.as_slice();
        while !rest.is_empty() {
            let take = rng.gen_range(1..=rest.len().min(4));
            let (batch, tail) = rest.split_at(take);
            rest = tail;
            let mut events: Vec<Value> = batch.iter().map(|(_, e)| e.clone()).collect();
            // Within a batch, occupants' events may come in any order (each one's own
            // stay stays ordered: its leave is never before its join).
            if events.iter().all(|e| e["type"] == "joined") {
                events.shuffle(&mut rng);
            }
            if rng.gen_bool(0.3) {
                let again = events[rng.gen_range(0..events.len())].clone();
                events.push(again);
            }
            let now = batch.iter().map(|(at, _)| *at).max().unwrap();
            app.clock.set(now.max(app.clock_now()));
            report(&app, events.clone()).await;
            sent.push(events);
            // A late replay of an earlier batch, and a meter pass now and then.
            if rng.gen_bool(0.3) {
                let old = sent[rng.gen_range(0..sent.len())].clone();
                report(&app, old).await;
            }
            if rng.gen_bool(0.5) {
                charge(&app).await;
            }
        }
        app.clock.set(end);
        charge(&app).await;
        charge(&app).await;
        let expected = started_minutes(start, &stays, end);
        let charged = app.app.state().store.charged_slots(&id).await.unwrap();
        assert_eq!(charged, expected, "case {case}: {stays:?}");
        total_minutes += expected.len() as i64;
        let ended = app
            .post(
                &format!("/api/calls/{id}/end"),
                Some(&cast.viewer),
                json!({}),
            )
            .await;
        assert_eq!(ended.status, StatusCode::OK, "{ended:?}");
        assert_eq!(ended.body["minutes_charged"], expected.len(), "case {case}");
        app.clock.advance(1000);
    }
    let books = ledger(&app).await;
    assert_eq!(
        books.iter().map(|(_, sum)| sum).sum::<i64>(),
        0,
        "{books:?}"
    );
    let performer = format!("performer:{}", cast.performer_id);
    let earned = books.iter().find(|(a, _)| *a == performer).map(|(_, s)| *s);
    assert_eq!(earned.unwrap_or(0), total_minutes * 700, "{books:?}");
    app.shutdown().await;
}

per_backend!(a_restart_mid_call_charges_no_minute_twice_and_keeps_the_end_where_it_was);
async fn a_restart_mid_call_charges_no_minute_twice_and_keeps_the_end_where_it_was(
    backend: Backend,
) {
    let app = calls_app(&backend).await;
    let cast = cast(&app, 5).await;
    let (id, room, start) = accepted_call(&app, &cast).await;
    report(&app, vec![joined(&room, &cast.viewer_id, "o1", start + 2)]).await;
    app.clock.set(start + 70);
    assert_eq!(meter(&app).await, 2);

    // Another instance meters at the same moment, then this one goes away.
    let other = app.sibling().await;
    let (a, b) = tokio::join!(meter(&app), meter(&other));
    assert_eq!(a + b, 0, "both instances see the minutes charged");
    other.shutdown().await;
    let app = app.restart().await;
    app.clock.set(start + 150);
    assert_eq!(
        meter(&app).await,
        1,
        "only the minute that started meanwhile"
    );
    let v = verdict(&app, &cast.viewer_id, &room).await;
    assert_eq!(v["recheck_at"], json!(start + 300), "{v}");
    let seen = app
        .get(&format!("/api/calls/{id}"), Some(&cast.viewer))
        .await;
    assert_eq!(seen.body["minutes_charged"], 3, "{seen:?}");
    assert_eq!(seen.body["viewer_credit_minutes"], 2);
    app.shutdown().await;
}

per_backend!(minutes_bought_through_the_payment_path_are_call_credit_and_extend_a_running_call);
async fn minutes_bought_through_the_payment_path_are_call_credit_and_extend_a_running_call(
    backend: Backend,
) {
    let app = calls_app(&backend).await;
    let cast = cast(&app, 1).await;
    let (id, room, start) = accepted_call(&app, &cast).await;
    report(&app, vec![joined(&room, &cast.viewer_id, "o1", start)]).await;
    let v = verdict(&app, &cast.viewer_id, &room).await;
    assert_eq!(v["recheck_at"], json!(start + 60), "{v}");

    let paid = app
        .admin(
            "/api/admin/payments",
            json!({"user_id": cast.viewer_id,
                   "purchase": {"kind": "feature", "feature": "call_minutes_30"},
                   "provider": "meru", "provider_ref": "link-calls-30",
                   "amount_minor": 60_000, "currency": "COP"}),
        )
        .await;
    assert!(paid.status.is_success(), "{paid:?}");
    let v = verdict(&app, &cast.viewer_id, &room).await;
    assert_eq!(v["recheck_at"], json!(start + 31 * 60), "{v}");
    let seen = app
        .get(&format!("/api/calls/{id}"), Some(&cast.viewer))
        .await;
    assert_eq!(seen.body["viewer_credit_minutes"], 31, "{seen:?}");
    app.shutdown().await;
}
