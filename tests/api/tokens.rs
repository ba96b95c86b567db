//! The token endpoint: who gets a Jitsi JWT, with which claims, and who is refused how.

use axum::http::StatusCode;
use roomkey::config::SigningMode;
use serde_json::json;

use crate::helpers::*;

per_backend!(a_free_room_token_carries_every_claim_stock_prosody_checks);
async fn a_free_room_token_carries_every_claim_stock_prosody_checks(backend: Backend) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "free").await;
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(reply.status, StatusCode::OK, "{}: {reply:?}", backend.label);

    let jwt = reply.body["jwt"].as_str().unwrap();
    let (header, claims, _, _) = decode_jwt(jwt);
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    assert!(
        verify_hs256(jwt, &hs256_secret(&app)),
        "signature verifies with the app secret"
    );
    assert_eq!(claims["iss"], "roomkey");
    assert_eq!(
        claims["aud"], "jitsi",
        "aud is a single string, never an array"
    );
    assert_eq!(claims["sub"], "meet.jitsi");
    assert_eq!(claims["room"], "livealex2026");
    assert_eq!(claims["iat"], START);
    assert_eq!(
        claims["nbf"],
        START - 30,
        "nbf sits in the past: Prosody allows no skew"
    );
    assert_eq!(claims["exp"], START + 600);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
    assert_eq!(
        claims["context"]["user"],
        json!({"id": cast.viewer_id, "name": "VIEWER", "email": "viewer@example.com", "avatar": "", "moderator": "false", "affiliation": "member", "verified": "false"})
    );

    assert_eq!(reply.body["room"], "livealex2026");
    assert_eq!(
        reply.body["expires_at"],
        roomkey::clock::rfc3339(START + 600)
    );
    assert_eq!(
        reply.body["join_url"],
        format!("https://meet.example.com/livealex2026#jwt=%22{jwt}%22")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn rs256_tokens_name_a_kid_whose_public_key_is_served_where_prosody_looks() {
    let backend = &Backend::sqlite();
    let app = spawn_app_with(backend, signing(SigningMode::Rs256)).await;
    let cast = stage(&app, "free").await;
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let jwt = reply.body["jwt"].as_str().unwrap();
    let (header, claims, _, _) = decode_jwt(jwt);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let kid = header["kid"].as_str().unwrap();

    use sha2::Digest as _;
    let file = format!("{}.pem", hex::encode(sha2::Sha256::digest(kid.as_bytes())));
    let pem = app.get(&format!("/jitsi/keys/{file}"), None).await;
    assert_eq!(pem.status, StatusCode::OK);
    assert_eq!(pem.headers["content-type"], "application/x-pem-file");
    let pem = pem.body.as_str().unwrap().to_owned();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(
        verify_rs256(jwt, &pem),
        "signature verifies with the served key"
    );
    assert_eq!(claims["room"], "livealex2026");

    let jwks = app.get("/.well-known/jwks.json", None).await;
    let keys = jwks.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], kid);
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["kty"], "RSA");

    assert_eq!(
        app.get("/jitsi/keys/0000.pem", None).await.status,
        StatusCode::NOT_FOUND
    );
    app.shutdown().await;
}

per_backend!(a_paid_room_without_entitlement_answers_402_with_price_and_how_to_pay);
async fn a_paid_room_without_entitlement_answers_402_with_price_and_how_to_pay(backend: Backend) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "paid").await;
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        backend.label
    );
    let error = &reply.body["error"];
    assert_eq!(error["code"], "entitlement_required");
    assert_eq!(
        error["price"],
        json!({"amount_minor": 5_000_000, "currency": "COP"})
    );
    assert_eq!(
        error["pay"],
        json!({"method": "POST", "url": "http://127.0.0.1:8080/api/rooms/livealex2026/pay"})
    );
    assert_eq!(
        error["request_id"].as_str().unwrap(),
        reply.headers["x-request-id"].to_str().unwrap()
    );
    app.shutdown().await;
}

#[tokio::test]
async fn every_entitlement_scope_opens_a_paid_room() {
    let backend = &Backend::sqlite();
    let app = spawn_app(backend).await;
    let cast = stage(&app, "paid").await;
    let reply = app
        .call(
            axum::http::Method::PATCH,
            "/api/admin/rooms/livealex2026",
            Some(ADMIN_KEY),
            Some(json!({"plans": ["prime"]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");

    let scopes = [
        json!({"kind": "room", "room": "livealex2026"}),
        json!({"kind": "performer", "performer_id": cast.performer_id}),
        json!({"kind": "plan", "plan": "prime"}),
    ];
    for (i, scope) in scopes.into_iter().enumerate() {
        let (user, session) = app.register(&format!("fan{i}")).await;
        assert_eq!(
            app.token(&cast.room, &session).await.status,
            StatusCode::PAYMENT_REQUIRED
        );
        app.grant(&user, scope.clone(), None).await;
        let reply = app.token(&cast.room, &session).await;
        assert_eq!(reply.status, StatusCode::OK, "{scope}: {reply:?}");
        let (_, claims, _, _) = decode_jwt(reply.body["jwt"].as_str().unwrap());
        assert_eq!(claims["exp"], START + 600);
        assert_eq!(claims["context"]["user"]["moderator"], "false");
    }
    app.shutdown().await;
}

per_backend!(exp_is_clipped_to_an_entitlement_that_ends_mid_ttl);
async fn exp_is_clipped_to_an_entitlement_that_ends_mid_ttl(backend: Backend) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "paid").await;
    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": "livealex2026"}),
        Some(START + 120),
    )
    .await;
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(reply.status, StatusCode::OK);
    let (_, claims, _, _) = decode_jwt(reply.body["jwt"].as_str().unwrap());
    assert_eq!(claims["exp"], START + 120, "{}", backend.label);
    assert_eq!(
        reply.body["expires_at"],
        roomkey::clock::rfc3339(START + 120)
    );

    app.clock.advance(120);
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYMENT_REQUIRED,
        "an ended entitlement opens nothing"
    );
    app.shutdown().await;
}

per_backend!(a_viewer_with_many_past_tickets_is_judged_by_the_live_ones_of_both_kinds);
async fn a_viewer_with_many_past_tickets_is_judged_by_the_live_ones_of_both_kinds(
    backend: Backend,
) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "paid").await;
    for room in ["livealex2025", "livealex2027"] {
        app.create_room(room, &cast.performer_id, "paid").await;
    }
    let ticket = |room: &str| json!({"kind": "room", "room": room});
    for ended in 1..=5 {
        app.grant(&cast.viewer_id, ticket("livealex2025"), Some(START + ended))
            .await;
    }
    app.grant(&cast.viewer_id, ticket("livealex2026"), Some(START + 300))
        .await;
    app.grant(&cast.viewer_id, ticket("livealex2027"), None)
        .await;
    app.clock.advance(10);

    let ending = app.token("livealex2026", &cast.viewer_session).await;
    assert_eq!(ending.status, StatusCode::OK, "{}", backend.label);
    let (_, claims, _, _) = decode_jwt(ending.body["jwt"].as_str().unwrap());
    assert_eq!(claims["exp"], START + 300, "{}", backend.label);
    let open_ended = app.token("livealex2027", &cast.viewer_session).await;
    assert_eq!(open_ended.status, StatusCode::OK, "{}", backend.label);
    let past = app.token("livealex2025", &cast.viewer_session).await;
    assert_eq!(
        past.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        backend.label
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_future_entitlement_says_when_it_starts() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "paid").await;
    let body = json!({"user_id": cast.viewer_id, "scope": {"kind": "room", "room": "livealex2026"},
        "valid_from": roomkey::clock::rfc3339(START + 900), "valid_until": roomkey::clock::rfc3339(START + 2700)});
    assert_eq!(
        app.admin("/api/admin/entitlements", body).await.status,
        StatusCode::CREATED
    );
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["error"]["code"], "entitlement_not_yet_valid");
    assert_eq!(
        reply.body["error"]["starts_at"],
        roomkey::clock::rfc3339(START + 900)
    );
    app.clock.advance(900);
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    app.shutdown().await;
}

per_backend!(a_revoked_entitlement_is_refused_on_the_next_request);
async fn a_revoked_entitlement_is_refused_on_the_next_request(backend: Backend) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "paid").await;
    let entitlement = app
        .grant(
            &cast.viewer_id,
            json!({"kind": "room", "room": "livealex2026"}),
            None,
        )
        .await;
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    let id = entitlement["id"].as_str().unwrap();
    let reply = app
        .admin(
            &format!("/api/admin/entitlements/{id}/revoke"),
            json!({"reason": "refund"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["revoked"]["reason"], "refund");
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        backend.label
    );
    app.shutdown().await;
}

#[tokio::test]
async fn invite_only_rooms_refuse_without_offering_a_price() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "invite_only").await;
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["error"]["code"], "invite_required");
    assert!(reply.body["error"].get("price").is_none());
    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": "livealex2026"}),
        None,
    )
    .await;
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    app.shutdown().await;
}

#[tokio::test]
async fn only_the_rooms_performer_and_staff_are_moderators() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "paid").await;
    let (_, other_performer) = app.user_with_role("sam", "performer").await;
    let (_, moderator) = app.user_with_role("mod", "moderator").await;
    let (_, admin) = app.user_with_role("root", "admin").await;

    for session in [&cast.performer_session, &moderator, &admin] {
        let reply = app.token(&cast.room, session).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let (_, claims, _, _) = decode_jwt(reply.body["jwt"].as_str().unwrap());
        assert_eq!(claims["context"]["user"]["moderator"], "true");
        assert_eq!(claims["context"]["user"]["affiliation"], "owner");
        assert_eq!(reply.body["moderator"], true);
    }
    assert_eq!(
        app.token(&cast.room, &other_performer).await.status,
        StatusCode::PAYMENT_REQUIRED,
        "another performer pays like anyone"
    );
    app.shutdown().await;
}

per_backend!(each_ban_scope_refuses_with_reason_and_until_and_lifting_restores_access);
async fn each_ban_scope_refuses_with_reason_and_until_and_lifting_restores_access(
    backend: Backend,
) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "paid").await;
    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": "livealex2026"}),
        None,
    )
    .await;
    let until = roomkey::clock::rfc3339(START + 3600);
    let mut session = cast.viewer_session.clone();
    for (scope, kind) in [
        (json!({"kind": "global"}), "global"),
        (json!({"kind": "room", "room": "LiveAlex2026"}), "room"),
        (
            json!({"kind": "performer", "performer_id": cast.performer_id}),
            "performer",
        ),
    ] {
        assert_eq!(app.token(&cast.room, &session).await.status, StatusCode::OK);
        let ban = app
            .admin("/api/admin/bans", json!({"user_id": cast.viewer_id, "scope": scope, "reason": "harassment", "until": until}))
            .await;
        assert_eq!(ban.status, StatusCode::CREATED, "{ban:?}");
        if kind == "global" {
            // a global ban ends the user's sessions; signed in again, they learn why
            assert_eq!(
                app.token(&cast.room, &session).await.status,
                StatusCode::UNAUTHORIZED
            );
            session = sign_in(&app, "viewer").await;
        }

        let reply = app.token(&cast.room, &session).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{}: {kind}",
            backend.label
        );
        assert_eq!(reply.body["error"]["code"], "banned");
        assert_eq!(reply.body["error"]["reason"], "harassment");
        assert_eq!(reply.body["error"]["scope"], kind);
        assert_eq!(reply.body["error"]["until"], until);

        let id = ban.body["id"].as_str().unwrap();
        let lifted = app
            .admin(
                &format!("/api/admin/bans/{id}/lift"),
                json!({"reason": "appeal granted"}),
            )
            .await;
        assert_eq!(lifted.status, StatusCode::OK);
        assert_eq!(lifted.body["lifted"]["reason"], "appeal granted");
    }
    assert_eq!(app.token(&cast.room, &session).await.status, StatusCode::OK);
    app.shutdown().await;
}

#[tokio::test]
async fn a_timed_ban_ends_by_itself() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "free").await;
    let until = roomkey::clock::rfc3339(START + 60);
    let body = json!({"user_id": cast.viewer_id, "scope": {"kind": "global"}, "reason": "cool off", "until": until});
    assert_eq!(
        app.admin("/api/admin/bans", body).await.status,
        StatusCode::CREATED
    );
    let session = sign_in(&app, "viewer").await;
    assert_eq!(
        app.token(&cast.room, &session).await.status,
        StatusCode::FORBIDDEN
    );
    app.clock.advance(60);
    assert_eq!(app.token(&cast.room, &session).await.status, StatusCode::OK);
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_and_malformed_rooms_and_bodies_get_clear_errors() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "free").await;

    let reply = app.token("nosuchroom", &cast.viewer_session).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["error"]["code"], "room_not_found");

    let reply = app.token("bad%zzname", &cast.viewer_session).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["code"], "invalid_request");
    assert_eq!(reply.body["error"]["field"], "room");

    let path = format!("/api/rooms/{}/token", cast.room);
    let raw = |content_type: &'static str, body: &'static str| {
        axum::http::Request::post(path.clone())
            .header("authorization", format!("Bearer {}", cast.viewer_session))
            .header("content-type", content_type)
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    let reply = app.send(raw("application/json", "{not json")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["code"], "invalid_json");
    let reply = app.send(raw("application/json", r#"{"room": 5}"#)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["error"]["code"], "validation_failed");
    let reply = app.send(raw("text/plain", "hello")).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let reply = app.send(raw("application/json", "{}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    app.shutdown().await;
}

#[tokio::test]
async fn room_names_are_matched_as_prosody_stores_them() {
    let app = spawn_app(&Backend::sqlite()).await;
    let (performer, _) = app.user_with_role("alex", "performer").await;
    let (_, viewer) = app.register("viewer").await;
    let room = app.create_room("Täst", &performer, "free").await;
    assert_eq!(room["name"], "t%c3%a4st");
    for spelling in ["t%c3%a4st", "T%C3%A4ST", "t%C3%A4st"] {
        let reply = app.token(spelling, &viewer).await;
        assert_eq!(reply.status, StatusCode::OK, "{spelling}");
        let (_, claims, _, _) = decode_jwt(reply.body["jwt"].as_str().unwrap());
        assert_eq!(claims["room"], "t%c3%a4st");
        assert_eq!(
            reply.body["join_url"]
                .as_str()
                .unwrap()
                .split('#')
                .next()
                .unwrap(),
            "https://meet.example.com/t%c3%a4st"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_trusted_backend_can_ask_on_behalf_of_a_user() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "free").await;
    let request = |user: Option<&str>| {
        let mut builder = axum::http::Request::post(format!("/api/rooms/{}/token", cast.room))
            .header("authorization", format!("Bearer {SERVICE_KEY}"));
        if let Some(user) = user {
            builder = builder.header("x-roomkey-user", user);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    };
    let reply = app.send(request(Some(&cast.viewer_id))).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let (_, claims, _, _) = decode_jwt(reply.body["jwt"].as_str().unwrap());
    assert_eq!(claims["context"]["user"]["id"], cast.viewer_id.as_str());
    assert_eq!(
        app.send(request(None)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send(request(Some("no-such-user"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.shutdown().await;
}

#[tokio::test]
async fn rs256_tokens_are_reused_only_while_nothing_that_shaped_them_changed() {
    let app = spawn_app_with(&Backend::sqlite(), signing(SigningMode::Rs256)).await;
    let cast = stage(&app, "paid").await;
    let entitlement = app
        .grant(
            &cast.viewer_id,
            json!({"kind": "room", "room": "livealex2026"}),
            None,
        )
        .await;
    let first = app.token(&cast.room, &cast.viewer_session).await.body["jwt"].clone();
    app.clock.advance(60);
    let second = app.token(&cast.room, &cast.viewer_session).await.body["jwt"].clone();
    assert_eq!(first, second, "a fresh token is handed out again");

    app.clock.advance(300);
    let third = app.token(&cast.room, &cast.viewer_session).await.body["jwt"].clone();
    assert_ne!(second, third, "past half its lifetime it is signed anew");

    // A shorter grant must never be exceeded by a reused token.
    let id = entitlement["id"].as_str().unwrap();
    app.admin(
        &format!("/api/admin/entitlements/{id}/revoke"),
        json!({"reason": "downgrade"}),
    )
    .await;
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    app.grant(
        &cast.viewer_id,
        json!({"kind": "room", "room": "livealex2026"}),
        Some(app.clock_now() + 90),
    )
    .await;
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    let (_, claims, _, _) = decode_jwt(reply.body["jwt"].as_str().unwrap());
    assert_eq!(claims["exp"], app.clock_now() + 90);
    app.shutdown().await;
}

/// A reused RS256 token is the old signature on claims rebuilt from the user as they are
/// now: a profile change within the same second as the first token must still be signed
/// anew, or the token handed out would not verify.
#[tokio::test]
async fn a_profile_change_in_the_same_second_is_signed_anew() {
    let app = spawn_app_with(&Backend::sqlite(), signing(SigningMode::Rs256)).await;
    let cast = stage(&app, "free").await;
    let first = app.token(&cast.room, &cast.viewer_session).await;
    let (header, _, _, _) = decode_jwt(first.body["jwt"].as_str().unwrap());
    use sha2::Digest as _;
    let kid = header["kid"].as_str().unwrap();
    let file = format!("{}.pem", hex::encode(sha2::Sha256::digest(kid.as_bytes())));
    let pem = app.get(&format!("/jitsi/keys/{file}"), None).await;
    let pem = pem.body.as_str().unwrap().to_owned();

    let reply = app
        .call(
            axum::http::Method::PATCH,
            "/api/me",
            Some(&cast.viewer_session),
            Some(json!({"display_name": "Vee"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let second = app.token(&cast.room, &cast.viewer_session).await;
    let jwt = second.body["jwt"].as_str().unwrap();
    let (_, claims, _, _) = decode_jwt(jwt);
    assert_eq!(claims["context"]["user"]["name"], "Vee");
    assert!(verify_rs256(jwt, &pem), "the token handed out verifies");
    app.shutdown().await;
}
