//! Matrix chat rooms following entitlements, against a real Synapse of each test's own (see
//! `synapse.rs`). The backends use different user and alias prefixes, so both the bare and
//! the prefixed alias are exercised.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use roomkey::config::Secret;
use serde_json::json;

use crate::helpers::{spawn_app_with, stage, Backend, TestApp};
use crate::synapse::{Synapse, AS_TOKEN, HS_TOKEN, SERVER_NAME};

/// `(user prefix, alias prefix)` of `backend`.
fn prefixes(backend: &Backend) -> (&'static str, &'static str) {
    match backend.postgres_url() {
        None => ("rk_", ""),
        Some(_) => ("rkpg_", "pg_"),
    }
}

async fn matrix_app(backend: &Backend, synapse: &Synapse) -> TestApp {
    let url = synapse.url();
    let (user_prefix, alias_prefix) = prefixes(backend);
    spawn_app_with(backend, move |config| {
        config.matrix.homeserver_url = url;
        config.matrix.server_name = SERVER_NAME.into();
        config.matrix.as_token = Secret::new(AS_TOKEN);
        config.matrix.hs_token = Secret::new(HS_TOKEN);
        config.matrix.user_prefix = user_prefix.into();
        config.matrix.alias_prefix = alias_prefix.into();
        // The tests call the reconcile themselves.
        config.matrix.reconcile_secs = 86_400;
        config.payments.providers.insert(
            "meru".into(),
            roomkey::config::SignedProviderConfig {
                scheme: roomkey::config::WebhookScheme::Standard,
                secrets: vec![Secret::new("whsec_bWF0cml4LXRlc3Qtc2VjcmV0")],
                tolerance_secs: 300,
            },
        );
    })
    .await
}

fn mxid(backend: &Backend, handle: &str) -> String {
    format!("@{}{handle}:{SERVER_NAME}", prefixes(backend).0)
}

fn alias(backend: &Backend, room: &str) -> String {
    format!("#{}{room}:{SERVER_NAME}", prefixes(backend).1)
}

/// Delivers the outbox until it is empty (the background worker may help).
async fn settle(app: &TestApp) {
    let matrix = &app.app.state().matrix;
    let started = Instant::now();
    loop {
        let settled = matrix.try_once().await.unwrap();
        if matrix.pending().await.unwrap() == 0 {
            return;
        }
        if settled == 0 {
            // The clock is manual: let a retry's backoff pass.
            app.clock.advance(1);
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the Matrix outbox did not drain: {} left",
            matrix.pending().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

per_backend!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    matrix_rooms_follow_entitlements_bans_and_expiry
);
async fn matrix_rooms_follow_entitlements_bans_and_expiry(backend: Backend) {
    let Some(synapse) = Synapse::start("matrix_rooms_follow_entitlements_bans_and_expiry").await
    else {
        return;
    };
    let app = matrix_app(&backend, &synapse).await;
    let cast = stage(&app, "paid").await;
    settle(&app).await;

    // The room exists under its alias, with the performer invited.
    let room = synapse
        .resolve(&alias(&backend, &cast.room))
        .await
        .expect("the Matrix room was created");
    assert_eq!(
        synapse
            .membership(&room, &mxid(&backend, "alex"))
            .await
            .as_deref(),
        Some("invite")
    );

    // The performer moderates (power 50); only the bot, the creator, may invite.
    let levels = synapse
        .ok(
            "GET",
            &format!(
                "/_matrix/client/v3/rooms/{}/state/m.room.power_levels/",
                crate::synapse::enc(&room)
            ),
            None,
        )
        .await;
    assert_eq!(levels["users"][mxid(&backend, "alex")], 50, "{levels}");
    assert_eq!(levels["invite"], 100);
    assert_eq!(levels["kick"], 50);

    // Idempotent: a repeated creation, and another roomkey database creating the
    // same room, both adopt the existing room.
    let stored = app
        .app
        .state()
        .store
        .find_room_by_name(&roomkey::domain::RoomName::parse(&cast.room).unwrap())
        .await
        .unwrap()
        .unwrap();
    // A change delivered twice (the dispatcher delivers at least once).
    let created = roomkey::changes::Change::RoomCreated { room: stored };
    roomkey::changes::Subscriber::on_change(&*app.app.state().matrix, &created)
        .await
        .unwrap();
    settle(&app).await;
    let other = matrix_app(&backend, &synapse).await;
    stage(&other, "paid").await;
    settle(&other).await;
    assert_eq!(
        synapse
            .resolve(&alias(&backend, &cast.room))
            .await
            .as_deref(),
        Some(room.as_str())
    );
    assert_eq!(
        other
            .app
            .state()
            .store
            .find_matrix_room(
                &other
                    .app
                    .state()
                    .store
                    .find_room_by_name(&roomkey::domain::RoomName::parse(&cast.room).unwrap())
                    .await
                    .unwrap()
                    .unwrap()
                    .id
            )
            .await
            .unwrap()
            .as_deref(),
        Some(room.as_str())
    );
    other.shutdown().await;

    // Before a grant: no invite, and asking for one is refused with the price.
    let viewer = mxid(&backend, "viewer");
    let reply = app
        .post(
            &format!("/api/rooms/{}/matrix-invite", cast.room),
            Some(&cast.viewer_session),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYMENT_REQUIRED, "{reply:?}");

    // Grant → invite, seen in the viewer's own /sync.
    let until = app.clock_now() + 3_600;
    let grant = app
        .grant(
            &cast.viewer_id,
            json!({"kind": "room", "room": cast.room}),
            Some(until),
        )
        .await;
    settle(&app).await;
    assert!(synapse.invites_seen_by(&viewer).await.contains(&room));
    let token = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(token.status, StatusCode::OK, "{token:?}");
    assert_eq!(
        token.body["matrix"],
        json!({"alias": alias(&backend, &cast.room), "invited": true})
    );
    assert!(token.body["jwt"].is_string());

    // Revoke → kicked.
    synapse.join_as(&viewer, &room).await;
    let reply = app
        .admin(
            &format!(
                "/api/admin/entitlements/{}/revoke",
                grant["id"].as_str().unwrap()
            ),
            json!({"reason": "refund"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    settle(&app).await;
    assert_eq!(
        synapse.membership(&room, &viewer).await.as_deref(),
        Some("leave")
    );

    // Grant again; the user asks for the invite again; ban → banned; lift → unbanned
    // and invited again.
    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": cast.room}),
        Some(until),
    )
    .await;
    settle(&app).await;
    let reply = app
        .post(
            &format!("/api/rooms/{}/matrix-invite", cast.room),
            Some(&cast.viewer_session),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(reply.body["alias"], alias(&backend, &cast.room));
    settle(&app).await;
    assert_eq!(
        synapse.membership(&room, &viewer).await.as_deref(),
        Some("invite")
    );
    synapse.join_as(&viewer, &room).await;
    let ban = app
        .admin(
            "/api/admin/bans",
            json!({"user_id": cast.viewer_id, "scope": {"kind": "room", "room": cast.room}, "reason": "spam"}),
        )
        .await;
    assert_eq!(ban.status, StatusCode::CREATED, "{ban:?}");
    settle(&app).await;
    assert_eq!(
        synapse.membership(&room, &viewer).await.as_deref(),
        Some("ban")
    );
    let lift = app
        .admin(
            &format!("/api/admin/bans/{}/lift", ban.body["id"].as_str().unwrap()),
            json!({"reason": "appeal"}),
        )
        .await;
    assert_eq!(lift.status, StatusCode::OK, "{lift:?}");
    settle(&app).await;
    assert_eq!(
        synapse.membership(&room, &viewer).await.as_deref(),
        Some("invite")
    );

    // Expiry: nothing is queued when an entitlement ends; the reconcile removes the
    // member whose access is gone.
    synapse.join_as(&viewer, &room).await;
    app.clock.advance(7_200);
    let report = app.app.state().matrix.reconcile_once().await.unwrap();
    assert_eq!(report.removals, 1, "{report:?}");
    settle(&app).await;
    assert_eq!(
        synapse.membership(&room, &viewer).await.as_deref(),
        Some("leave")
    );
    assert_eq!(
        synapse
            .membership(&room, &mxid(&backend, "alex"))
            .await
            .as_deref(),
        Some("invite"),
        "the performer stays"
    );

    // A payment invites; its chargeback removes.
    let (payer_id, _) = app.register("payer").await;
    let payer = mxid(&backend, "payer");
    let paid = app
        .admin(
            "/api/admin/payments",
            json!({"user_id": payer_id, "purchase": {"kind": "room", "room": cast.room},
                "provider": "meru", "provider_ref": "link-1", "amount_minor": 2_500, "currency": "USD"}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{paid:?}");
    settle(&app).await;
    assert!(synapse.invites_seen_by(&payer).await.contains(&room));
    synapse.join_as(&payer, &room).await;
    let reply = app
        .admin(
            &format!(
                "/api/admin/payments/{}/chargeback",
                paid.body["reference"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(reply.body["status"], "revoked", "{reply:?}");
    settle(&app).await;
    assert_eq!(
        synapse.membership(&room, &payer).await.as_deref(),
        Some("leave")
    );
    app.shutdown().await;
}

per_backend!(matrix_off_queues_nothing_and_answers_as_before);
async fn matrix_off_queues_nothing_and_answers_as_before(backend: Backend) {
    let app = crate::helpers::spawn_app(&backend).await;
    let cast = stage(&app, "paid").await;
    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": cast.room}),
        None,
    )
    .await;
    assert_eq!(app.app.state().matrix.pending().await.unwrap(), 0);
    let token = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(token.status, StatusCode::OK);
    assert!(token.body.get("matrix").is_none(), "{token:?}");
    let reply = app
        .post(
            &format!("/api/rooms/{}/matrix-invite", cast.room),
            Some(&cast.viewer_session),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}");
    app.shutdown().await;
}

per_backend!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    matrix_invite_waits_for_synapse_to_come_back
);
async fn matrix_invite_waits_for_synapse_to_come_back(backend: Backend) {
    let Some(mut synapse) = Synapse::start("matrix_invite_waits_for_synapse_to_come_back").await
    else {
        return;
    };
    let app = matrix_app(&backend, &synapse).await;
    let cast = stage(&app, "paid").await;
    settle(&app).await;
    let room = synapse.resolve(&alias(&backend, &cast.room)).await.unwrap();

    let (second_id, _) = app.register("second").await;
    settle(&app).await;

    synapse.stop();
    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": cast.room}),
        None,
    )
    .await;
    // Granted and revoked while Synapse is down: the invite and the kick keep their
    // order, and the stale invite does nothing when it is finally delivered.
    let second = app
        .grant(&second_id, json!({"kind": "room", "room": cast.room}), None)
        .await;
    let reply = app
        .admin(
            &format!(
                "/api/admin/entitlements/{}/revoke",
                second["id"].as_str().unwrap()
            ),
            json!({"reason": "mistake"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let matrix = &app.app.state().matrix;
    matrix.try_once().await.unwrap();
    // The viewer's invite and the second user's kick wait (the second's invite may
    // already be settled as unnecessary, when the worker saw the revocation first).
    let pending = matrix.pending().await.unwrap();
    assert!((2..=3).contains(&pending), "changes kept: {pending}");

    synapse.resume().await;
    // Backoff: not retried before it is due.
    assert_eq!(matrix.try_once().await.unwrap(), 0);
    app.clock.advance(5);
    settle(&app).await;
    assert!(synapse
        .invites_seen_by(&mxid(&backend, "viewer"))
        .await
        .contains(&room));
    assert!(!synapse
        .invites_seen_by(&mxid(&backend, "second"))
        .await
        .contains(&room));
    app.shutdown().await;
}

per_backend!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    matrix_burst_of_100_grants_all_arrive
);
async fn matrix_burst_of_100_grants_all_arrive(backend: Backend) {
    let Some(synapse) = Synapse::start("matrix_burst_of_100_grants_all_arrive").await else {
        return;
    };
    let app = matrix_app(&backend, &synapse).await;
    let cast = stage(&app, "paid").await;
    let mut ids = Vec::new();
    for n in 0..100 {
        let reply = app
            .admin(
                "/api/admin/users",
                json!({"handle": format!("fan{n:03}"), "email": format!("fan{n:03}@example.com")}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    settle(&app).await;
    let room = synapse.resolve(&alias(&backend, &cast.room)).await.unwrap();
    let started = Instant::now();
    for id in &ids {
        app.grant(id, json!({"kind": "room", "room": cast.room}), None)
            .await;
    }
    settle(&app).await;
    println!(
        "100 grants delivered as invites in {:?} ({})",
        started.elapsed(),
        backend.label
    );
    let invited = synapse.members(&room, "invite").await;
    for n in 0..100 {
        assert!(
            invited.contains(&mxid(&backend, &format!("fan{n:03}"))),
            "fan{n:03} was not invited"
        );
    }
    assert!(synapse
        .invites_seen_by(&mxid(&backend, "fan099"))
        .await
        .contains(&room));
    app.shutdown().await;
}

per_backend!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark; see bench/README.md"]
    matrix_grant_to_invite_latency
);
/// Benchmark: entitlement written → invite visible in the user's own `/sync`, one grant at a
/// time, over 100 grants, delivered by the background worker. Run with
/// `SYNAPSE_PYTHON=… cargo test --test api matrix_grant_to_invite_latency -- --ignored --nocapture`.
async fn matrix_grant_to_invite_latency(backend: Backend) {
    let Some(synapse) = Synapse::start("matrix_grant_to_invite_latency").await else {
        return;
    };
    let app = matrix_app(&backend, &synapse).await;
    let cast = stage(&app, "paid").await;
    let mut users = Vec::new();
    for n in 0..100 {
        let reply = app
            .admin(
                "/api/admin/users",
                json!({"handle": format!("bench{n:03}"), "email": format!("bench{n:03}@example.com")}),
            )
            .await;
        users.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    settle(&app).await;
    let room = synapse.resolve(&alias(&backend, &cast.room)).await.unwrap();
    let mut samples = Vec::new();
    for (n, id) in users.iter().enumerate() {
        let user = crate::synapse::enc(&mxid(&backend, &format!("bench{n:03}")));
        let first = synapse
            .ok(
                "GET",
                &format!("/_matrix/client/v3/sync?timeout=0&user_id={user}"),
                None,
            )
            .await;
        let mut since = first["next_batch"].as_str().unwrap().to_owned();
        let started = Instant::now();
        app.grant(id, json!({"kind": "room", "room": cast.room}), None)
            .await;
        loop {
            let body = synapse
                .ok(
                    "GET",
                    &format!("/_matrix/client/v3/sync?timeout=10000&since={since}&user_id={user}"),
                    None,
                )
                .await;
            if body["rooms"]["invite"].get(&room).is_some() {
                break;
            }
            since = body["next_batch"].as_str().unwrap().to_owned();
            assert!(started.elapsed() < Duration::from_secs(30), "no invite");
        }
        samples.push(started.elapsed());
    }
    samples.sort();
    let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    println!(
        "grant-to-invite ({}, {} grants): p50 {:?}  p99 {:?}  max {:?}",
        backend.label,
        samples.len(),
        pct(50),
        pct(99),
        samples[samples.len() - 1]
    );
    app.shutdown().await;
}

per_backend!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    matrix_link_an_existing_account_with_openid_proof
);
async fn matrix_link_an_existing_account_with_openid_proof(backend: Backend) {
    let Some(synapse) = Synapse::start("matrix_link_an_existing_account_with_openid_proof").await
    else {
        return;
    };
    let app = matrix_app(&backend, &synapse).await;
    let cast = stage(&app, "paid").await;
    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": cast.room}),
        None,
    )
    .await;
    settle(&app).await;
    let room = synapse.resolve(&alias(&backend, &cast.room)).await.unwrap();
    let provisioned = mxid(&backend, "viewer");
    assert_eq!(
        synapse.membership(&room, &provisioned).await.as_deref(),
        Some("invite")
    );

    // An account of its own on the homeserver, with an OpenID token from it.
    let (alice, alice_token) = synapse.register_user("alice").await;
    let openid = synapse.openid_token(&alice, &alice_token).await;
    assert_eq!(openid["matrix_server_name"], SERVER_NAME);

    // A forged token, another server, another user's token, a malformed id: refused.
    let forged = app
        .post(
            "/api/me/matrix",
            Some(&cast.viewer_session),
            json!({"matrix_user_id": alice, "openid": {"access_token": "forged-token", "token_type": "Bearer", "matrix_server_name": SERVER_NAME, "expires_in": 3600}}),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{forged:?}");
    assert_eq!(forged.body["error"]["code"], "matrix_proof_rejected");
    let elsewhere = app
        .post(
            "/api/me/matrix",
            Some(&cast.viewer_session),
            json!({"matrix_user_id": "@alice:elsewhere.example", "openid": {"access_token": "x", "matrix_server_name": "elsewhere.example"}}),
        )
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{elsewhere:?}"
    );
    assert_eq!(
        elsewhere.body["error"]["field"],
        "openid.matrix_server_name"
    );
    let (bob, bob_token) = synapse.register_user("bob").await;
    let bobs = synapse.openid_token(&bob, &bob_token).await;
    let stolen = app
        .post(
            "/api/me/matrix",
            Some(&cast.viewer_session),
            json!({"matrix_user_id": alice, "openid": bobs}),
        )
        .await;
    assert_eq!(stolen.status, StatusCode::FORBIDDEN, "{stolen:?}");
    let malformed = app
        .post(
            "/api/me/matrix",
            Some(&cast.viewer_session),
            json!({"matrix_user_id": "alice", "openid": openid}),
        )
        .await;
    assert_eq!(
        malformed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{malformed:?}"
    );

    // Linked: the entitled room's invite goes to the linked account, seen in its own
    // /sync, and the provisioned account leaves the room.
    let linked = app
        .post(
            "/api/me/matrix",
            Some(&cast.viewer_session),
            json!({"matrix_user_id": alice, "openid": openid}),
        )
        .await;
    assert_eq!(linked.status, StatusCode::OK, "{linked:?}");
    assert_eq!(
        linked.body,
        json!({"matrix_user_id": alice, "provisioned": false})
    );
    let me = app.get("/api/me", Some(&cast.viewer_session)).await;
    assert_eq!(me.body["matrix_user_id"], alice.as_str(), "{me:?}");
    settle(&app).await;
    assert!(synapse
        .invites_seen_with(&alice_token)
        .await
        .contains(&room));
    assert_eq!(
        synapse.membership(&room, &provisioned).await.as_deref(),
        Some("leave")
    );

    // Linking it again is no change; another user cannot link the same account.
    let again = app
        .post(
            "/api/me/matrix",
            Some(&cast.viewer_session),
            json!({"matrix_user_id": alice, "openid": synapse.openid_token(&alice, &alice_token).await}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    let (_, other_session) = app.register("other").await;
    let taken = app
        .post(
            "/api/me/matrix",
            Some(&other_session),
            json!({"matrix_user_id": alice, "openid": synapse.openid_token(&alice, &alice_token).await}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{taken:?}");
    assert_eq!(taken.body["error"]["field"], "matrix_user_id");

    // The linked account joins.
    synapse
        .request_with(
            &alice_token,
            "POST",
            &format!("/_matrix/client/v3/join/{}", crate::synapse::enc(&room)),
            Some(json!({})),
        )
        .await
        .unwrap();
    assert_eq!(
        synapse.membership(&room, &alice).await.as_deref(),
        Some("join")
    );

    // Unlinked: back to the provisioned account, and the linked one leaves.
    let unlinked = app
        .call(
            axum::http::Method::DELETE,
            "/api/me/matrix",
            Some(&cast.viewer_session),
            None,
        )
        .await;
    assert_eq!(unlinked.status, StatusCode::OK, "{unlinked:?}");
    assert_eq!(
        unlinked.body,
        json!({"matrix_user_id": provisioned, "provisioned": true})
    );
    settle(&app).await;
    assert_eq!(
        synapse.membership(&room, &alice).await.as_deref(),
        Some("leave")
    );
    assert_eq!(
        synapse.membership(&room, &provisioned).await.as_deref(),
        Some("invite")
    );

    // A performer who links their account moderates their room with it.
    let (carol, carol_token) = synapse.register_user("carol").await;
    let linked = app
        .post(
            "/api/me/matrix",
            Some(&cast.performer_session),
            json!({"matrix_user_id": carol, "openid": synapse.openid_token(&carol, &carol_token).await}),
        )
        .await;
    assert_eq!(linked.status, StatusCode::OK, "{linked:?}");
    settle(&app).await;
    let levels = synapse.power_levels(&room).await;
    assert_eq!(levels["users"][&carol], 50, "{levels}");
    assert!(
        levels["users"].get(mxid(&backend, "alex")).is_none(),
        "{levels}"
    );
    assert!(synapse
        .invites_seen_with(&carol_token)
        .await
        .contains(&room));
    app.shutdown().await;
}

async fn put_community(app: &TestApp, name: &str, rule: &str) -> crate::helpers::Reply {
    app.call(
        axum::http::Method::PUT,
        &format!("/api/admin/matrix/rooms/{name}"),
        Some(crate::helpers::ADMIN_KEY),
        Some(json!({"title": format!("The {name} room"), "rule": rule})),
    )
    .await
}

per_backend!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    matrix_community_rooms_follow_their_rules_roles_and_global_bans
);
async fn matrix_community_rooms_follow_their_rules_roles_and_global_bans(backend: Backend) {
    let Some(synapse) =
        Synapse::start("matrix_community_rooms_follow_their_rules_roles_and_global_bans").await
    else {
        return;
    };
    let app = matrix_app(&backend, &synapse).await;
    let cast = stage(&app, "paid").await;
    let (moderator_id, _) = app.user_with_role("mod", "moderator").await;
    let verify = |user: &str, step: &str, note: &str| {
        let path = format!("/api/admin/performers/{user}/verification/{step}");
        let body = json!({"note": note});
        let app = &app;
        async move {
            let reply = app.admin(&path, body).await;
            assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        }
    };
    verify(&cast.performer_id, "approve", "id checked").await;
    for (name, rule) in [
        ("general", "signed_in"),
        ("performers", "verified_performers"),
        ("staffroom", "staff"),
    ] {
        let reply = put_community(&app, name, rule).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
        assert_eq!(reply.body["alias"], alias(&backend, name));
        assert_eq!(reply.body["rule"], rule);
    }
    settle(&app).await;
    let general = synapse.resolve(&alias(&backend, "general")).await.unwrap();
    let performers = synapse
        .resolve(&alias(&backend, "performers"))
        .await
        .unwrap();
    let staffroom = synapse
        .resolve(&alias(&backend, "staffroom"))
        .await
        .unwrap();
    let (viewer, alex, moderator) = (
        mxid(&backend, "viewer"),
        mxid(&backend, "alex"),
        mxid(&backend, "mod"),
    );
    let membership = |room: &str, user: &str| {
        let (room, user) = (room.to_owned(), user.to_owned());
        let synapse = &synapse;
        async move { synapse.membership(&room, &user).await }
    };
    assert_eq!(
        membership(&general, &viewer).await.as_deref(),
        Some("invite")
    );
    assert_eq!(membership(&performers, &viewer).await, None);
    assert_eq!(
        membership(&performers, &alex).await.as_deref(),
        Some("invite")
    );
    assert_eq!(membership(&staffroom, &alex).await, None);
    assert_eq!(
        membership(&staffroom, &moderator).await.as_deref(),
        Some("invite")
    );
    assert_eq!(
        synapse.power_levels(&general).await["users"][&moderator],
        50
    );

    // Registering again changes nothing on the homeserver; a live room's alias and
    // an unknown rule are refused.
    assert_eq!(
        put_community(&app, "general", "signed_in").await.status,
        StatusCode::ACCEPTED
    );
    settle(&app).await;
    assert_eq!(
        synapse
            .resolve(&alias(&backend, "general"))
            .await
            .as_deref(),
        Some(general.as_str())
    );
    let taken = put_community(&app, &cast.room, "signed_in").await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{taken:?}");
    let bad = put_community(&app, "general", "everyone").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    assert_eq!(bad.body["error"]["field"], "rule");

    // A live room cannot take a community room's alias either.
    let reply = app
        .admin(
            "/api/admin/rooms",
            json!({"name": "general", "title": "Show", "owner_id": cast.performer_id, "access": "free"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{reply:?}");

    // A new user is invited where the rule admits them.
    app.register("newcomer").await;
    settle(&app).await;
    assert_eq!(
        membership(&general, &mxid(&backend, "newcomer"))
            .await
            .as_deref(),
        Some("invite")
    );

    // Roles move people in and out.
    let role = |user: &str, role: &str| {
        let path = format!("/api/admin/users/{user}/role");
        let body = json!({"role": role});
        let app = &app;
        async move {
            let reply = app.admin(&path, body).await;
            assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        }
    };
    role(&cast.viewer_id, "performer").await;
    settle(&app).await;
    assert_eq!(
        membership(&performers, &viewer).await,
        None,
        "a performer staff have not verified stays out"
    );
    verify(&cast.viewer_id, "approve", "ok").await;
    settle(&app).await;
    assert_eq!(
        membership(&performers, &viewer).await.as_deref(),
        Some("invite")
    );
    synapse.join_as(&viewer, &performers).await;
    verify(&cast.viewer_id, "revoke", "impersonation").await;
    settle(&app).await;
    assert_eq!(
        membership(&performers, &viewer).await.as_deref(),
        Some("leave")
    );
    role(&cast.viewer_id, "viewer").await;
    settle(&app).await;
    assert_eq!(
        membership(&performers, &viewer).await.as_deref(),
        Some("leave")
    );
    role(&moderator_id, "viewer").await;
    settle(&app).await;
    assert_eq!(
        membership(&staffroom, &moderator).await.as_deref(),
        Some("leave")
    );
    assert!(synapse.power_levels(&general).await["users"]
        .get(&moderator)
        .is_none());

    // A global ban is a Matrix ban; its lift invites again.
    synapse.join_as(&viewer, &general).await;
    let ban = app
        .admin(
            "/api/admin/bans",
            json!({"user_id": cast.viewer_id, "scope": {"kind": "global"}, "reason": "spam"}),
        )
        .await;
    assert_eq!(ban.status, StatusCode::CREATED, "{ban:?}");
    settle(&app).await;
    assert_eq!(membership(&general, &viewer).await.as_deref(), Some("ban"));
    let lift = app
        .admin(
            &format!("/api/admin/bans/{}/lift", ban.body["id"].as_str().unwrap()),
            json!({"reason": "appeal"}),
        )
        .await;
    assert_eq!(lift.status, StatusCode::OK, "{lift:?}");
    settle(&app).await;
    assert_eq!(
        membership(&general, &viewer).await.as_deref(),
        Some("invite")
    );

    // The reconcile finds nothing to mend, then mends a member who left.
    let report = app.app.state().matrix.reconcile_once().await.unwrap();
    assert_eq!(
        (report.removals, report.invites_queued),
        (0, 0),
        "{report:?}"
    );
    synapse
        .ok(
            "POST",
            &format!(
                "/_matrix/client/v3/rooms/{}/leave?user_id={}",
                crate::synapse::enc(&general),
                crate::synapse::enc(&viewer)
            ),
            Some(json!({})),
        )
        .await;
    let report = app.app.state().matrix.reconcile_once().await.unwrap();
    assert_eq!(report.invites_queued, 1, "{report:?}");
    settle(&app).await;
    assert_eq!(
        membership(&general, &viewer).await.as_deref(),
        Some("invite")
    );

    // A change of rule removes those the new rule leaves out at once.
    synapse.join_as(&alex, &performers).await;
    assert_eq!(
        put_community(&app, "performers", "staff").await.status,
        StatusCode::ACCEPTED
    );
    settle(&app).await;
    assert_eq!(
        membership(&performers, &alex).await.as_deref(),
        Some("leave")
    );
    app.shutdown().await;
}

per_backend!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    matrix_staff_moderate_and_an_ended_show_is_archived_read_only
);
async fn matrix_staff_moderate_and_an_ended_show_is_archived_read_only(backend: Backend) {
    let Some(synapse) =
        Synapse::start("matrix_staff_moderate_and_an_ended_show_is_archived_read_only").await
    else {
        return;
    };
    let app = matrix_app(&backend, &synapse).await;
    app.user_with_role("mod", "moderator").await;
    let cast = stage(&app, "paid").await;
    settle(&app).await;
    let room = synapse.resolve(&alias(&backend, &cast.room)).await.unwrap();

    // At creation: the performer and staff at moderator power.
    let levels = synapse.power_levels(&room).await;
    assert_eq!(levels["users"][mxid(&backend, "alex")], 50, "{levels}");
    assert_eq!(levels["users"][mxid(&backend, "mod")], 50, "{levels}");

    // Kept in step with role changes.
    let (helper_id, _) = app.user_with_role("helper", "admin").await;
    settle(&app).await;
    assert_eq!(
        synapse.power_levels(&room).await["users"][mxid(&backend, "helper")],
        50
    );
    let reply = app
        .admin(
            &format!("/api/admin/users/{helper_id}/role"),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    settle(&app).await;
    let levels = synapse.power_levels(&room).await;
    assert!(
        levels["users"].get(mxid(&backend, "helper")).is_none(),
        "{levels}"
    );
    assert_eq!(levels["users"][mxid(&backend, "alex")], 50, "{levels}");

    // A member talks during the show.
    let viewer = mxid(&backend, "viewer");
    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": cast.room}),
        None,
    )
    .await;
    settle(&app).await;
    synapse.join_as(&viewer, &room).await;
    synapse.join_as(&mxid(&backend, "alex"), &room).await;
    assert_eq!(synapse.say(&viewer, &room, "great show").await, 200);

    // The show ends: read-only, with the history kept.
    let reply = app
        .admin(
            &format!("/api/rooms/{}/end", cast.room),
            json!({"reason": "the show is over"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    settle(&app).await;
    assert_eq!(synapse.power_levels(&room).await["events_default"], 100);
    assert_eq!(synapse.say(&viewer, &room, "still here?").await, 403);
    assert_eq!(
        synapse.say(&mxid(&backend, "alex"), &room, "bye").await,
        403
    );
    assert!(synapse
        .history_seen_by(&viewer, &room)
        .await
        .contains(&"great show".to_owned()));

    // Ending again, and the reconcile, leave it as it is: members stay.
    let stored = app
        .app
        .state()
        .store
        .find_room_by_name(&roomkey::domain::RoomName::parse(&cast.room).unwrap())
        .await
        .unwrap()
        .unwrap();
    let ended = roomkey::changes::Change::RoomEnded {
        room: stored,
        reason: "again".into(),
    };
    roomkey::changes::Subscriber::on_change(&*app.app.state().matrix, &ended)
        .await
        .unwrap();
    settle(&app).await;
    let report = app.app.state().matrix.reconcile_once().await.unwrap();
    assert_eq!(report.removals, 0, "{report:?}");
    settle(&app).await;
    assert_eq!(
        synapse.membership(&room, &viewer).await.as_deref(),
        Some("join")
    );

    // A show that ends by its schedule is archived by the reconcile.
    let ends_at = roomkey::clock::rfc3339(app.clock_now() + 600);
    let reply = app
        .admin(
            "/api/admin/rooms",
            json!({"name": "latenight", "title": "Late", "owner_id": cast.performer_id, "access": "free", "ends_at": ends_at}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    settle(&app).await;
    let late = synapse
        .resolve(&alias(&backend, "latenight"))
        .await
        .unwrap();
    assert_eq!(synapse.power_levels(&late).await["events_default"], 0);
    app.clock.advance(601);
    app.app.state().matrix.reconcile_once().await.unwrap();
    settle(&app).await;
    assert_eq!(synapse.power_levels(&late).await["events_default"], 100);
    app.app.state().matrix.reconcile_once().await.unwrap();
    assert_eq!(app.app.state().matrix.pending().await.unwrap(), 0);
    app.shutdown().await;
}

per_backend!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    matrix_a_show_gets_its_chat_with_its_room_and_loses_the_floor_when_it_ends
);
async fn matrix_a_show_gets_its_chat_with_its_room_and_loses_the_floor_when_it_ends(
    backend: Backend,
) {
    let Some(synapse) = Synapse::start(
        "matrix_a_show_gets_its_chat_with_its_room_and_loses_the_floor_when_it_ends",
    )
    .await
    else {
        return;
    };
    let app = matrix_app(&backend, &synapse).await;
    let (_, alex) = crate::events::verified_performer(&app, "alex").await;
    let (viewer_id, _) = app.register("viewer").await;
    let show = app
        .post(
            "/api/events",
            Some(&alex),
            json!({
                "title": "Chat show",
                "room": "chatshow",
                "starts_at": roomkey::clock::rfc3339(app.clock_now() + 60),
                "price": {"amount_minor": 5_000_000, "currency": "COP"},
            }),
        )
        .await;
    assert_eq!(show.status, StatusCode::CREATED, "{show:?}");
    assert_eq!(show.body["chat_alias"], alias(&backend, "chatshow"));
    settle(&app).await;
    let room = synapse.resolve(&alias(&backend, "chatshow")).await.unwrap();
    assert_eq!(
        synapse.power_levels(&room).await["users"][mxid(&backend, "alex")],
        50
    );
    app.grant(
        &viewer_id,
        json!({"kind": "room", "room": "chatshow"}),
        None,
    )
    .await;
    settle(&app).await;
    let viewer = mxid(&backend, "viewer");
    assert_eq!(
        synapse.membership(&room, &viewer).await.as_deref(),
        Some("invite")
    );
    synapse.join_as(&viewer, &room).await;
    let id = show.body["id"].as_str().unwrap();
    let ended = app
        .post(&format!("/api/events/{id}/end"), Some(&alex), json!({}))
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{ended:?}");
    settle(&app).await;
    assert_eq!(synapse.say(&viewer, &room, "hello?").await, 403);
    app.shutdown().await;
}
