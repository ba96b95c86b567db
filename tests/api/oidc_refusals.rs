//! What the OpenID Provider refuses, each case its own test: redirect URIs that are not
//! registered (no redirect at all), code replay, PKCE, expiry, client authentication,
//! forged and crossed tokens, `prompt=none`, and CSRF on the sign-in and consent forms.

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;

use crate::helpers::*;
use crate::oidc::*;

per_backend!(unregistered_and_near_miss_redirect_uris_never_redirect);
async fn unregistered_and_near_miss_redirect_uris_never_redirect(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("ivan").await;
    let mut browser = Browser::signed_in(&app, &session);
    for uri in [
        "https://evil.example.com/callback",
        "https://chat.example.com/_synapse/client/oidc/callback/",
        "https://chat.example.com/_synapse/client/oidc/callback?x=1",
        "https://chat.example.com/_synapse/client/oidc/callbackx",
        "https://CHAT.example.com/_synapse/client/oidc/callback",
        "http://chat.example.com/_synapse/client/oidc/callback",
        "https://chat.example.com.evil.com/_synapse/client/oidc/callback",
        APP_REDIRECT,
        "",
    ] {
        let query = encode(&[
            ("client_id", CHAT),
            ("redirect_uri", uri),
            ("response_type", "token"),
            ("scope", "openid"),
            ("state", "s"),
        ]);
        let reply = browser.get(&format!("/oidc/authorize?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}: {reply:?}");
        assert!(reply.headers.get("location").is_none(), "{uri}");
    }
    let query = encode(&[
        ("client_id", "nobody"),
        ("redirect_uri", CHAT_REDIRECT),
        ("response_type", "code"),
    ]);
    let reply = browser.get(&format!("/oidc/authorize?{query}")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.headers.get("location").is_none(), "unknown client");
    app.shutdown().await;
}

per_backend!(refusals_after_a_registered_uri_go_back_with_the_state);
async fn refusals_after_a_registered_uri_go_back_with_the_state(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("judy").await;
    let mut browser = Browser::signed_in(&app, &session);
    let query = encode(&[
        ("client_id", CHAT),
        ("redirect_uri", CHAT_REDIRECT),
        ("response_type", "token"),
        ("scope", "openid"),
        ("state", "s9"),
    ]);
    let reply = browser.get(&format!("/oidc/authorize?{query}")).await;
    let params = query_of(&location(&reply));
    assert_eq!(params["error"], "unsupported_response_type");
    assert_eq!(params["state"], "s9");
    assert!(location(&reply).starts_with(CHAT_REDIRECT));

    // A public client without PKCE, and a plain challenge.
    for extra in [
        &[][..],
        &[
            ("code_challenge", VERIFIER),
            ("code_challenge_method", "plain"),
        ][..],
    ] {
        let mut fields = vec![
            ("client_id", APP),
            ("redirect_uri", APP_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
        ];
        fields.extend_from_slice(extra);
        let reply = browser
            .get(&format!("/oidc/authorize?{}", encode(&fields)))
            .await;
        assert_eq!(
            query_of(&location(&reply))["error"],
            "invalid_request",
            "{extra:?}"
        );
    }
    app.shutdown().await;
}

per_backend!(prompt_none_without_a_session_is_login_required);
async fn prompt_none_without_a_session_is_login_required(backend: Backend) {
    let app = provider(&backend).await;
    let mut browser = Browser::new(&app);
    let reply = browser.get(&chat_authorize(&[("prompt", "none")])).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let params = query_of(&location(&reply));
    assert_eq!(
        (params["error"].as_str(), params["state"].as_str()),
        ("login_required", "st-123")
    );

    // Signed in long ago: max_age asks for a fresh sign-in, which prompt=none forbids.
    let (_, session) = app.register("kate").await;
    app.clock.advance(120);
    let mut browser = Browser::signed_in(&app, &session);
    let reply = browser
        .get(&chat_authorize(&[("prompt", "none"), ("max_age", "60")]))
        .await;
    assert_eq!(query_of(&location(&reply))["error"], "login_required");
    let reply = browser.get(&chat_authorize(&[("max_age", "60")])).await;
    assert_eq!(reply.status, StatusCode::OK, "the sign-in page: {reply:?}");
    let reply = browser.get(&chat_authorize(&[("prompt", "login")])).await;
    assert_eq!(reply.status, StatusCode::OK, "prompt=login signs in again");
    let reply = browser.get(&chat_authorize(&[("prompt", "none")])).await;
    assert!(
        query_of(&location(&reply)).contains_key("code"),
        "a session is enough"
    );
    app.shutdown().await;
}

per_backend!(a_replayed_code_revokes_what_its_first_use_issued);
async fn a_replayed_code_revokes_what_its_first_use_issued(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("liam").await;
    let code = chat_code(&app, &session).await;
    let first = exchange(&app, &code).await;
    assert_eq!(first.status, StatusCode::OK);
    let replay = exchange(&app, &code).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.body["error"], "invalid_grant");
    assert_eq!(
        userinfo(&app, &field(&first, "access_token")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&app, &field(&first, "refresh_token")).await.body["error"],
        "invalid_grant"
    );
    app.shutdown().await;
}

per_backend!(pkce_mismatch_and_missing_verifier_are_refused);
async fn pkce_mismatch_and_missing_verifier_are_refused(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("mona").await;
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx";
    for verifier in [Some(wrong), None] {
        let code = chat_code(&app, &session).await;
        let mut fields = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CHAT_REDIRECT),
        ];
        if let Some(verifier) = verifier {
            fields.push(("code_verifier", verifier));
        }
        let reply = token_request(&app, Some((CHAT, CHAT_SECRET)), &fields).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{verifier:?}");
        assert_eq!(reply.body["error"], "invalid_grant", "{verifier:?}");
        assert_eq!(
            exchange(&app, &code).await.body["error"],
            "invalid_grant",
            "spent"
        );
    }
    // A redirect URI other than the request's is refused too.
    let code = chat_code(&app, &session).await;
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://chat.example.com/other"),
        ("code_verifier", VERIFIER),
    ];
    let reply = token_request(&app, Some((CHAT, CHAT_SECRET)), &fields).await;
    assert_eq!(reply.body["error"], "invalid_grant");
    app.shutdown().await;
}

per_backend!(an_expired_code_is_refused);
async fn an_expired_code_is_refused(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("nina").await;
    let code = chat_code(&app, &session).await;
    app.clock.advance(60);
    let reply = exchange(&app, &code).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"], "invalid_grant");
    assert!(reply.body["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));
    app.shutdown().await;
}

per_backend!(a_wrong_client_secret_or_another_clients_code_is_refused);
async fn a_wrong_client_secret_or_another_clients_code_is_refused(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("omar").await;
    let code = chat_code(&app, &session).await;
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CHAT_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    for (id, secret) in [(CHAT, "wrong-secret"), (CHAT, ""), ("nobody", CHAT_SECRET)] {
        let reply = token_request(&app, Some((id, secret)), &fields).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{id}:{secret}");
        assert_eq!(reply.body["error"], "invalid_client");
        assert!(reply.headers.contains_key("www-authenticate"));
    }
    // client_secret_post with the wrong secret, and no credentials at all.
    let mut post = fields.to_vec();
    post.extend([("client_id", CHAT), ("client_secret", "wrong")]);
    assert_eq!(
        token_request(&app, None, &post).await.body["error"],
        "invalid_client"
    );
    assert_eq!(
        token_request(&app, None, &fields).await.body["error"],
        "invalid_client"
    );
    // The public client presenting the chat client's code.
    let mut as_app = fields.to_vec();
    as_app.push(("client_id", APP));
    assert_eq!(
        token_request(&app, None, &as_app).await.body["error"],
        "invalid_grant"
    );
    assert_eq!(
        exchange(&app, &code).await.body["error"],
        "invalid_grant",
        "spent"
    );
    // The right secret by client_secret_post works.
    let code = chat_code(&app, &session).await;
    let post = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CHAT_REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", CHAT),
        ("client_secret", CHAT_SECRET),
    ];
    assert_eq!(
        token_request(&app, None, &post).await.status,
        StatusCode::OK
    );
    app.shutdown().await;
}

/// A compact JWS from raw parts, for forgeries.
fn forge(header: &serde_json::Value, claims: &serde_json::Value, signature: &[u8]) -> String {
    let part = |value: &serde_json::Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.{}",
        part(header),
        part(claims),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

per_backend!(alg_none_and_key_confusion_are_refused_everywhere);
async fn alg_none_and_key_confusion_are_refused_everywhere(backend: Backend) {
    let app = provider(&backend).await;
    let (user_id, session) = app.register("pete").await;
    let jwks = app.get("/oidc/jwks", None).await.body;
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    let claims = json!({
        "iss": ISSUER, "sub": user_id, "aud": APP, "exp": START + 600, "iat": START,
        "auth_time": START, "sid": "x",
    });
    let none = forge(
        &json!({"alg": "none", "typ": "JWT", "kid": kid}),
        &claims,
        b"",
    );
    // HS256 "signed" with the public key's modulus, as a confused verifier would accept.
    let modulus = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["n"].as_str().unwrap())
        .unwrap();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    let unsigned = forge(&header, &claims, b"");
    let input = unsigned.rsplit_once('.').unwrap().0;
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &modulus),
        input.as_bytes(),
    );
    let confused = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    for forged in [&none, &confused] {
        // As an id_token_hint: no redirect to the client.
        let query = encode(&[
            ("id_token_hint", forged),
            ("post_logout_redirect_uri", APP_AFTER_LOGOUT),
        ]);
        let reply = Browser::new(&app)
            .get(&format!("/oidc/logout?{query}"))
            .await;
        assert!(reply.headers.get("location").is_none(), "{reply:?}");
        assert_eq!(
            userinfo(&app, forged).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get("/api/me", Some(forged.as_str())).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // A genuine ID token as the hint does redirect (so the refusals above are the forgery's).
    let mut browser = Browser::signed_in(&app, &session);
    let page = browser
        .get(&format!(
            "/oidc/authorize?{}",
            encode(&[
                ("client_id", APP),
                ("redirect_uri", APP_REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ])
        ))
        .await;
    let approve = [
        ("csrf", hidden(&page, "csrf")),
        ("authorize", hidden(&page, "authorize")),
        ("decision", "approve".into()),
    ];
    let approve: Vec<(&str, &str)> = approve.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let code = query_of(&location(&browser.post("/oidc/consent", &approve).await))["code"].clone();
    let fields = [
        ("grant_type", "authorization_code"),
        ("client_id", APP),
        ("code", &code),
        ("redirect_uri", APP_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let id_token = field(&token_request(&app, None, &fields).await, "id_token");
    let query = encode(&[
        ("id_token_hint", &id_token),
        ("post_logout_redirect_uri", APP_AFTER_LOGOUT),
    ]);
    let reply = Browser::new(&app)
        .get(&format!("/oidc/logout?{query}"))
        .await;
    assert_eq!(location(&reply), APP_AFTER_LOGOUT);
    app.shutdown().await;
}

per_backend!(no_token_type_is_accepted_in_another_ones_place);
async fn no_token_type_is_accepted_in_another_ones_place(backend: Backend) {
    let app = provider(&backend).await;
    let (performer, _) = app.user_with_role("quinn", "performer").await;
    app.create_room("oidcroom", &performer, "free").await;
    let (_, session) = app.register("rita").await;
    let jitsi = field(&app.token("oidcroom", &session).await, "jwt");
    let tokens = exchange(&app, &chat_code(&app, &session).await).await;
    let (id_token, access, refresh_token) = (
        field(&tokens, "id_token"),
        field(&tokens, "access_token"),
        field(&tokens, "refresh_token"),
    );
    let all = [
        ("session", &session),
        ("jitsi", &jitsi),
        ("id", &id_token),
        ("access", &access),
        ("refresh", &refresh_token),
    ];
    for (kind, token) in all {
        let as_session = app.get("/api/me", Some(token.as_str())).await.status == StatusCode::OK;
        assert_eq!(as_session, kind == "session", "{kind} as a session");
        let as_access = userinfo(&app, token).await.status == StatusCode::OK;
        assert_eq!(as_access, kind == "access", "{kind} as an access token");
        let introspected = app
            .post(
                "/api/tokens/introspect",
                Some(SERVICE_KEY),
                json!({"token": token}),
            )
            .await;
        assert_eq!(
            introspected.body["active"] == true,
            kind == "jitsi",
            "{kind} as a Jitsi token"
        );
        let query = encode(&[
            ("id_token_hint", token.as_str()),
            ("post_logout_redirect_uri", CHAT_AFTER_LOGOUT),
        ]);
        let hint = Browser::new(&app)
            .get(&format!("/oidc/logout?{query}"))
            .await;
        let as_id_token = hint.headers.get("location").is_some();
        assert_eq!(as_id_token, kind == "id", "{kind} as an ID token");
        if kind != "refresh" {
            assert_eq!(
                refresh(&app, token).await.body["error"],
                "invalid_grant",
                "{kind} as a refresh token"
            );
        }
    }
    assert_eq!(
        refresh(&app, &refresh_token).await.status,
        StatusCode::OK,
        "the refresh token itself works"
    );
    app.shutdown().await;
}

per_backend!(the_sign_in_and_consent_forms_need_their_csrf_token);
async fn the_sign_in_and_consent_forms_need_their_csrf_token(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("sam").await;
    let mut browser = Browser::new(&app);
    let page = browser.get(&chat_authorize(&[])).await;
    let authorize = hidden(&page, "authorize");
    for csrf in ["", "forged-token"] {
        let fields = [
            ("csrf", csrf),
            ("authorize", authorize.as_str()),
            ("login", "sam"),
            ("password", "correct horse battery"),
        ];
        let reply = browser.post("/oidc/sign-in", &fields).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{csrf:?}: {reply:?}");
        assert!(
            !browser.cookies.contains_key("roomkey_session"),
            "not signed in"
        );
    }

    // Consent: the token of another browser (another nonce) does not pass.
    let path = format!(
        "/oidc/authorize?{}",
        encode(&[
            ("client_id", APP),
            ("redirect_uri", APP_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
    );
    let mut victim = Browser::signed_in(&app, &session);
    let page = victim.get(&path).await;
    let authorize = hidden(&page, "authorize");
    let mut attacker = Browser::signed_in(&app, &session);
    let attacker_csrf = hidden(&attacker.get(&path).await, "csrf");
    for csrf in ["", attacker_csrf.as_str()] {
        let fields = [
            ("csrf", csrf),
            ("authorize", authorize.as_str()),
            ("decision", "approve"),
        ];
        let reply = victim.post("/oidc/consent", &fields).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
        assert!(reply.headers.get("location").is_none());
    }
    app.shutdown().await;
}

per_backend!(each_endpoint_group_is_rate_limited_per_address);
async fn each_endpoint_group_is_rate_limited_per_address(backend: Backend) {
    let app = provider_with(&backend, |config| config.oidc.requests_per_minute = 3).await;
    let (_, session) = app.register("rita").await;
    // Wrong secrets, as a guesser would send them: three are answered, the fourth is not.
    let guess = [("grant_type", "authorization_code"), ("code", "rkc_x")];
    for _ in 0..3 {
        let reply = token_request(&app, Some((CHAT, "a-guess")), &guess).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    }
    let limited = token_request(&app, Some((CHAT, CHAT_SECRET)), &guess).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{limited:?}");
    assert_eq!(limited.body["error"], "temporarily_unavailable");
    assert!(limited.body["error_description"].is_string());
    assert_eq!(limited.headers["cache-control"], "no-store");
    let wait: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Revocation shares the token endpoint's budget.
    let revoke = app
        .send(
            axum::http::Request::post("/oidc/revoke")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from("token=x&client_id=app"))
                .unwrap(),
        )
        .await;
    assert_eq!(revoke.status, StatusCode::TOO_MANY_REQUESTS, "{revoke:?}");

    // Userinfo counts on its own, and answers in roomkey's envelope.
    for _ in 0..3 {
        let reply = userinfo(&app, "rka_unknown").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    }
    let limited = userinfo(&app, "rka_unknown").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{limited:?}");
    assert_eq!(limited.body["error"]["code"], "rate_limited");
    assert!(limited.headers.get("retry-after").is_some());

    // So do the browser's pages: each authorization writes a code.
    let mut browser = Browser::signed_in(&app, &session);
    for _ in 0..3 {
        let reply = browser.get(&chat_authorize(&[])).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    }
    let limited = browser.get(&chat_authorize(&[])).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{limited:?}");
    assert!(limited.headers.get("location").is_none());

    // The next minute, the budget is back.
    app.clock.advance(60);
    let reply = browser.get(&chat_authorize(&[])).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let code = query_of(&location(&reply))["code"].clone();
    assert_eq!(exchange(&app, &code).await.status, StatusCode::OK);
    app.shutdown().await;
}
