//! Sign-up, login and the credentials roomkey accepts — and the ones it must not.

use axum::http::StatusCode;
use roomkey::config::SigningMode;
use serde_json::json;

use crate::helpers::*;

per_backend!(register_then_login_with_handle_or_email);
async fn register_then_login_with_handle_or_email(backend: Backend) {
    let app = spawn_app(&backend).await;
    let (id, session) = app.register("viewer").await;
    let me = app.get("/api/me", Some(&session)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], id.as_str());
    assert_eq!(me.body["role"], "viewer");

    for login in ["viewer", "VIEWER@example.com"] {
        let reply = app
            .post(
                "/api/auth/login",
                None,
                json!({"login": login, "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {reply:?}", backend.label);
        assert_eq!(reply.body["user"]["id"], id.as_str());
    }
    app.shutdown().await;
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_look_the_same() {
    let app = spawn_app(&Backend::sqlite()).await;
    app.register("viewer").await;
    let wrong = app
        .post(
            "/api/auth/login",
            None,
            json!({"login": "viewer", "password": "not the password"}),
        )
        .await;
    let unknown = app
        .post(
            "/api/auth/login",
            None,
            json!({"login": "nobody", "password": "not the password"}),
        )
        .await;
    for reply in [&wrong, &unknown] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body["error"]["code"], "invalid_credentials");
        assert_eq!(reply.body["error"]["message"], "wrong login or password");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn registration_validates_every_field_and_refuses_duplicates() {
    let app = spawn_app(&Backend::sqlite()).await;
    app.register("viewer").await;
    let cases = [
        (
            json!({"handle": "x", "email": "x@example.com", "password": "correct horse battery"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "handle",
        ),
        (
            json!({"handle": "newbie", "email": "not-an-email", "password": "correct horse battery"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            json!({"handle": "newbie", "email": "n@example.com", "password": "short"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
        (
            json!({"handle": "viewer", "email": "other@example.com", "password": "correct horse battery"}),
            StatusCode::CONFLICT,
            "handle",
        ),
        (
            json!({"handle": "other", "email": "viewer@example.com", "password": "correct horse battery"}),
            StatusCode::CONFLICT,
            "email",
        ),
    ];
    for (body, status, field) in cases {
        let reply = app.post("/api/auth/register", None, body).await;
        assert_eq!(reply.status, status, "{reply:?}");
        assert_eq!(reply.body["error"]["field"], field, "{reply:?}");
    }
    let reply = app
        .post("/api/auth/register", None, json!({"handle": "newbie"}))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing field"));
    let reply = app.post("/api/auth/register", None, json!({"handle": "n", "email": "n@example.com", "password": "correct horse battery", "role": "admin"})).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nobody registers themselves as admin"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn sign_up_and_login_are_rate_limited_per_address() {
    let app = spawn_app_with(&Backend::sqlite(), |c| c.rate_limit.auth_per_minute = 3).await;
    for _ in 0..3 {
        let reply = app
            .post(
                "/api/auth/login",
                None,
                json!({"login": "nobody", "password": "whatever12345"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let reply = app
        .post(
            "/api/auth/login",
            None,
            json!({"login": "nobody", "password": "whatever12345"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.body["error"]["code"], "rate_limited");
    assert!(reply.headers.contains_key("retry-after"));
    app.shutdown().await;
}

async fn login_from(app: &TestApp, address: &str, login: &str, password: &str) -> Reply {
    let request = axum::http::Request::post("/api/auth/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", address)
        .body(axum::body::Body::from(
            json!({"login": login, "password": password}).to_string(),
        ))
        .unwrap();
    app.send(request).await
}

per_backend!(guessing_one_accounts_password_from_many_addresses_is_slowed_not_banned);
/// One account guessed at from many addresses: the per-address limit never trips, the
/// per-account one does, and it slows the guessing without locking the owner out.
async fn guessing_one_accounts_password_from_many_addresses_is_slowed_not_banned(backend: Backend) {
    let app = spawn_app_with(&backend, |c| c.http.trust_forwarded_for = true).await;
    let sibling = if backend.has_redis() {
        Some(app.sibling().await)
    } else {
        None
    };
    let register = axum::http::Request::post("/api/auth/register")
        .header("content-type", "application/json")
        .header("x-forwarded-for", "198.51.100.7")
        .body(axum::body::Body::from(
            json!({"handle": "victim", "email": "victim@example.com", "password": "correct horse battery"}).to_string(),
        ))
        .unwrap();
    assert_eq!(app.send(register).await.status, StatusCode::CREATED);

    let mut statuses = Vec::new();
    for attempt in 0..100 {
        let address = format!("203.0.113.{}", attempt % 10);
        // alternate instances: with Redis the count is shared
        let target = match (&sibling, attempt % 2) {
            (Some(sibling), 1) => sibling,
            _ => &app,
        };
        statuses.push(login_from(target, &address, "victim", "wrong guess 123").await);
    }
    let unauthorized = statuses
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    let limited: Vec<&Reply> = statuses
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(
        (unauthorized, limited.len()),
        (5, 95),
        "{}: five free guesses, then a wait",
        backend.label
    );
    assert_eq!(limited[0].body["error"]["code"], "rate_limited");
    assert_eq!(limited[0].headers["retry-after"], "1");

    // the owner's own address is not held up, even now
    let owner = login_from(&app, "198.51.100.7", "victim", "correct horse battery").await;
    assert_eq!(owner.status, StatusCode::OK, "{}: {owner:?}", backend.label);
    // and the right password from a new address works once the wait is over
    for _ in 0..6 {
        let _ = login_from(&app, "192.0.2.1", "victim", "wrong guess 123").await;
        app.clock.advance(60);
    }
    app.clock.advance(60);
    let new_device = login_from(&app, "192.0.2.99", "victim", "correct horse battery").await;
    assert_eq!(
        new_device.status,
        StatusCode::OK,
        "{}: {new_device:?}",
        backend.label
    );

    // an unknown login is slowed the same way, so 429 does not reveal an account
    for _ in 0..5 {
        assert_eq!(
            login_from(&app, "203.0.113.50", "nobody", "wrong guess 123")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, "203.0.113.51", "nobody", "wrong guess 123")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    if let Some(sibling) = sibling {
        sibling.shutdown().await;
    }
    app.shutdown().await;
}

#[tokio::test]
async fn missing_forged_and_expired_sessions_are_refused() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "free").await;
    let reply = app
        .call(
            axum::http::Method::POST,
            "/api/rooms/livealex2026/token",
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.headers["www-authenticate"], "Bearer");
    assert_eq!(reply.body["error"]["code"], "unauthenticated");

    // Signed with another key.
    let other = roomkey::identity::SessionTokens::new(&[9; 32], 3600);
    let (forged, _) = other.issue(&cast.viewer_id, 0, START);
    assert_eq!(
        app.token(&cast.room, &forged).await.status,
        StatusCode::UNAUTHORIZED
    );

    // alg: none, claiming to be the viewer.
    let (header, claims, _, _) = decode_jwt(&cast.viewer_session);
    let _ = header;
    let b64 = |v: &serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    assert_eq!(
        app.token(&cast.room, &none).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Expired: a day later.
    app.clock.advance(86_400);
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
    app.shutdown().await;
}

#[tokio::test]
async fn a_jitsi_token_is_never_a_session_and_a_session_is_never_a_jitsi_token() {
    for mode in [SigningMode::Hs256, SigningMode::Rs256] {
        let app = spawn_app_with(&Backend::sqlite(), signing(mode)).await;
        let cast = stage(&app, "free").await;
        let jitsi = app.token(&cast.room, &cast.viewer_session).await.body["jwt"]
            .as_str()
            .unwrap()
            .to_owned();

        let reply = app.token(&cast.room, &jitsi).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{mode:?}: a Jitsi token is not a session"
        );

        let introspect = |token: &str| {
            app.post(
                "/api/tokens/introspect",
                Some(SERVICE_KEY),
                json!({"token": token}),
            )
        };
        let reply = introspect(&jitsi).await;
        assert_eq!(reply.body["active"], true, "{mode:?}: {reply:?}");
        assert_eq!(reply.body["claims"]["room"], "livealex2026");
        let reply = introspect(&cast.viewer_session).await;
        assert_eq!(
            reply.body["active"], false,
            "{mode:?}: a session is not a Jitsi token"
        );

        app.clock.advance(600);
        assert_eq!(
            introspect(&jitsi).await.body["active"],
            false,
            "expired at exp"
        );
        assert_eq!(
            app.post(
                "/api/tokens/introspect",
                Some(&cast.viewer_session),
                json!({"token": jitsi})
            )
            .await
            .status,
            StatusCode::UNAUTHORIZED
        );
        app.shutdown().await;
    }
}

#[tokio::test]
async fn hs256_tokens_forged_with_the_rs256_public_key_are_refused() {
    let app = spawn_app_with(&Backend::sqlite(), signing(SigningMode::Rs256)).await;
    let cast = stage(&app, "free").await;
    let genuine = app.token(&cast.room, &cast.viewer_session).await.body["jwt"]
        .as_str()
        .unwrap()
        .to_owned();
    let (header, claims, _, _) = decode_jwt(&genuine);
    use sha2::Digest as _;
    let file = format!(
        "{}.pem",
        hex::encode(sha2::Sha256::digest(
            header["kid"].as_str().unwrap().as_bytes()
        ))
    );
    let pem = app
        .get(&format!("/jitsi/keys/{file}"), None)
        .await
        .body
        .as_str()
        .unwrap()
        .to_owned();

    use base64::Engine as _;
    use hmac::Mac as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let forged_header = json!({"alg": "HS256", "typ": "JWT", "kid": header["kid"]});
    let input = format!(
        "{}.{}",
        b64(forged_header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(pem.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    let forged = format!("{input}.{}", b64(&mac.finalize().into_bytes()));

    let reply = app
        .post(
            "/api/tokens/introspect",
            Some(SERVICE_KEY),
            json!({"token": forged}),
        )
        .await;
    assert_eq!(reply.body["active"], false);
    assert!(
        reply.body["reason"].as_str().unwrap().contains("algorithm"),
        "{reply:?}"
    );
    app.shutdown().await;
}

per_backend!(a_custom_avatar_needs_the_custom_profile_feature_and_reaches_the_token);
async fn a_custom_avatar_needs_the_custom_profile_feature_and_reaches_the_token(backend: Backend) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "free").await;
    let me = "/api/me";
    let patch = |body: serde_json::Value| {
        app.call(
            axum::http::Method::PATCH,
            me,
            Some(&cast.viewer_session),
            Some(body),
        )
    };
    // A display name is anyone's to change; an avatar is a premium feature.
    let reply = patch(json!({"display_name": "Vee"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["display_name"], "Vee");
    let avatar = "https://cdn.example.com/vee.png";
    let reply = patch(json!({"avatar_url": avatar})).await;
    assert_eq!(reply.status, StatusCode::PAYMENT_REQUIRED, "{reply:?}");
    assert_eq!(reply.body["error"]["feature"], "custom_profile");
    assert_eq!(
        reply.body["error"]["pay"],
        "/api/features/custom_profile/pay"
    );
    let reply = patch(json!({"avatar_url": "http://plain.example.com/x.png"})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");

    // Bought (here granted as the payment would): the avatar is kept and signed in.
    app.grant(
        &cast.viewer_id,
        json!({"kind": "plan", "plan": "custom_profile"}),
        Some(app.clock_now() + 30 * 86_400),
    )
    .await;
    let reply = patch(json!({"avatar_url": avatar})).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let profile = app.get(me, Some(&cast.viewer_session)).await;
    assert_eq!(profile.body["avatar_url"], avatar);
    assert_eq!(profile.body["verified"], false);
    assert_eq!(
        profile.body["plans"][0]["name"], "custom_profile",
        "{profile:?}"
    );
    let token = app.token(&cast.room, &cast.viewer_session).await;
    let (_, claims, _, _) = decode_jwt(token.body["jwt"].as_str().unwrap());
    assert_eq!(claims["context"]["user"]["avatar"], avatar);
    assert_eq!(claims["context"]["user"]["name"], "Vee");
    // Clearing never needs the feature.
    let reply = patch(json!({"avatar_url": null})).await;
    assert_eq!(reply.body["avatar_url"], serde_json::Value::Null);
    app.shutdown().await;
}
