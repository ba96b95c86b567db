//! Back-channel logout: when a user's sessions end (a global ban, signing out everywhere, a
//! password change, an admin's revocation), each client holding a session for them
//! receives a signed logout token at its `backchannel_logout_uri`, delivered durably.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::oidc::*;
use roomkey::telemetry::metrics::DeliveryOutcome;

/// A relying party's back-channel logout endpoint: it records what it is sent and answers
/// with the statuses it is given, then 200.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<(String, String)>>>,
    answers: Arc<Mutex<VecDeque<StatusCode>>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    receiver.received.lock().unwrap().push((content_type, body));
    let answer = receiver.answers.lock().unwrap().pop_front();
    answer.unwrap_or(StatusCode::OK)
}

impl Receiver {
    /// Listens on loopback; returns the receiver and its logout URI.
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let router = axum::Router::new()
            .route("/backchannel_logout", post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (
            receiver,
            format!("http://127.0.0.1:{port}/backchannel_logout"),
        )
    }

    /// Waits (up to ten seconds) until `n` requests have arrived, and returns them.
    async fn wait_for(&self, n: usize) -> Vec<(String, String)> {
        for _ in 0..200 {
            let received = self.received.lock().unwrap().clone();
            if received.len() >= n {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{n} logout requests expected, got {:?}",
            self.received.lock().unwrap()
        );
    }
}

/// The provider, with the chat client listening for logouts at `uri`.
async fn listening_provider(backend: &Backend, uri: String) -> TestApp {
    provider_with(backend, move |config| {
        config.oidc.clients[0].backchannel_logout_uri = Some(uri);
    })
    .await
}

/// Signs in to the chat client; returns the session's `sid` from the ID token.
async fn chat_sign_in(app: &TestApp, session: &str) -> String {
    let tokens = exchange(app, &chat_code(app, session).await).await;
    assert_eq!(tokens.status, StatusCode::OK, "{tokens:?}");
    let claims = verified_id_token(app, &field(&tokens, "id_token"), CHAT).await;
    claims["sid"].as_str().unwrap().to_owned()
}

/// A logout token's header and claims, after checking it as a relying party must
/// (Back-Channel Logout 1.0 §2.6): RS256 against the JWKS, issuer, audience, `typ`.
async fn verified_logout_token(app: &TestApp, request: &(String, String)) -> (Value, Value) {
    let (content_type, body) = request;
    assert_eq!(content_type, "application/x-www-form-urlencoded");
    let form: std::collections::BTreeMap<String, String> =
        serde_urlencoded::from_str(body).unwrap();
    let token = &form["logout_token"];
    let jwks = app.get("/oidc/jwks", None).await.body;
    let key = &jwks["keys"][0];
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[CHAT]);
    // The tokens carry the test's manual clock, not the wall clock.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iss", "aud", "exp"]);
    let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .expect("the logout token verifies against the JWKS")
        .claims;
    let (header, _, _, _) = decode_jwt(token);
    (header, claims)
}

per_backend!(a_global_ban_sends_a_signed_logout_token_to_the_client);
async fn a_global_ban_sends_a_signed_logout_token_to_the_client(backend: Backend) {
    let (receiver, uri) = Receiver::start().await;
    let app = listening_provider(&backend, uri).await;
    let (user_id, session) = app.register("mallory").await;
    let sid = chat_sign_in(&app, &session).await;
    let banned = app
        .admin(
            "/api/admin/bans",
            json!({"user_id": user_id, "scope": {"kind": "global"}, "reason": "spam"}),
        )
        .await;
    assert_eq!(banned.status, StatusCode::CREATED, "{banned:?}");

    let received = receiver.wait_for(1).await;
    let (header, claims) = verified_logout_token(&app, &received[0]).await;
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(
        header["kid"],
        app.get("/oidc/jwks", None).await.body["keys"][0]["kid"]
    );
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], CHAT);
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(
        claims["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert!(claims.get("nonce").is_none(), "{claims}");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let iat = claims["iat"].as_i64().unwrap();
    assert!(claims["exp"].as_i64().unwrap() > iat);

    let state = app.app.state();
    assert!(state
        .store
        .find_active_oidc_sessions(&user_id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(state.logouts.pending().await.unwrap(), 0);
    assert_eq!(state.metrics.oidc_logouts(DeliveryOutcome::Delivered), 1);
    let metrics = state.metrics.render();
    assert!(
        metrics.contains("roomkey_oidc_backchannel_logouts_total{outcome=\"delivered\"} 1"),
        "{metrics}"
    );
    app.shutdown().await;
}

per_backend!(every_way_of_ending_sessions_logs_the_client_out);
async fn every_way_of_ending_sessions_logs_the_client_out(backend: Backend) {
    let (receiver, uri) = Receiver::start().await;
    let app = listening_provider(&backend, uri).await;
    let (user_id, session) = app.register("nadia").await;

    let first = chat_sign_in(&app, &session).await;
    let reply = app
        .call(Method::POST, "/api/auth/logout-all", Some(&session), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    let (_, claims) = verified_logout_token(&app, &receiver.wait_for(1).await[0]).await;
    assert_eq!(claims["sid"], first.as_str());

    let session = sign_in(&app, "nadia").await;
    let second = chat_sign_in(&app, &session).await;
    let changed = app
        .post(
            "/api/auth/password",
            Some(&session),
            json!({"current_password": "correct horse battery", "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    let (_, claims) = verified_logout_token(&app, &receiver.wait_for(2).await[1]).await;
    assert_eq!(claims["sid"], second.as_str());

    let session = changed.body["session_token"].as_str().unwrap().to_owned();
    let third = chat_sign_in(&app, &session).await;
    let revoked = app
        .admin(
            &format!("/api/admin/users/{user_id}/sessions/end"),
            json!({"reason": "stolen laptop"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{revoked:?}");
    let (_, claims) = verified_logout_token(&app, &receiver.wait_for(3).await[2]).await;
    assert_eq!(claims["sid"], third.as_str());
    assert_eq!(claims["sub"], user_id.as_str());

    // Each ending told the client once, and only about the sessions it ended.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received.lock().unwrap().len(), 3);
    app.shutdown().await;
}

per_backend!(a_client_that_fails_is_tried_again_with_a_fresh_token);
async fn a_client_that_fails_is_tried_again_with_a_fresh_token(backend: Backend) {
    let (receiver, uri) = Receiver::start().await;
    receiver
        .answers
        .lock()
        .unwrap()
        .push_back(StatusCode::SERVICE_UNAVAILABLE);
    let app = listening_provider(&backend, uri).await;
    let (user_id, session) = app.register("oscar").await;
    let sid = chat_sign_in(&app, &session).await;
    let reply = app
        .call(Method::POST, "/api/auth/logout-all", Some(&session), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    receiver.wait_for(1).await;
    let state = app.app.state();
    for _ in 0..100 {
        if state.metrics.oidc_logouts(DeliveryOutcome::Retried) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state.metrics.oidc_logouts(DeliveryOutcome::Retried), 1);
    assert_eq!(
        state.logouts.pending().await.unwrap(),
        1,
        "kept for a retry"
    );

    // The backoff passes: the same session is logged out again, with a fresh token.
    app.clock.advance(3);
    let received = receiver.wait_for(2).await;
    let (_, first) = verified_logout_token(&app, &received[0]).await;
    let (_, again) = verified_logout_token(&app, &received[1]).await;
    assert_eq!(again["sid"], sid.as_str());
    assert_ne!(first["jti"], again["jti"]);
    for _ in 0..100 {
        if state.logouts.pending().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state.logouts.pending().await.unwrap(), 0);
    assert_eq!(state.metrics.oidc_logouts(DeliveryOutcome::Delivered), 1);
    assert!(state
        .store
        .find_active_oidc_sessions(&user_id)
        .await
        .unwrap()
        .is_empty());
    app.shutdown().await;
}

per_backend!(discovery_advertises_back_channel_logout_with_sessions);
async fn discovery_advertises_back_channel_logout_with_sessions(backend: Backend) {
    let app = provider(&backend).await;
    let document = app
        .get("/.well-known/openid-configuration", None)
        .await
        .body;
    assert_eq!(document["backchannel_logout_supported"], true);
    assert_eq!(document["backchannel_logout_session_supported"], true);
    app.shutdown().await;
}

per_backend!(a_session_found_outlived_before_the_change_arrives_is_still_logged_out);
async fn a_session_found_outlived_before_the_change_arrives_is_still_logged_out(backend: Backend) {
    let (receiver, uri) = Receiver::start().await;
    let app = listening_provider(&backend, uri).await;
    let (user_id, session) = app.register("petra").await;
    let tokens = exchange(&app, &chat_code(&app, &session).await).await;
    let claims = verified_id_token(&app, &field(&tokens, "id_token"), CHAT).await;
    // The sessions end, but the change stays with its writer (this one never delivers it,
    // and the manual clock keeps the writer's hold from lapsing).
    let state = app.app.state();
    state
        .store
        .bump_session_generation(
            &user_id,
            roomkey::domain::SessionsEndedReason::RevokedByAdmin,
            app.clock_now(),
        )
        .await
        .unwrap()
        .unwrap();
    // The client uses its access token first: refused, and the logout is queued then.
    let refused = userinfo(&app, &field(&tokens, "access_token")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{refused:?}");
    let (_, logout) = verified_logout_token(&app, &receiver.wait_for(1).await[0]).await;
    assert_eq!(logout["sid"], claims["sid"]);
    app.shutdown().await;
}

/// The `sid`s of the logout tokens received so far, each checked against the JWKS.
async fn logged_out_sids(app: &TestApp, receiver: &Receiver, n: usize) -> Vec<String> {
    let mut sids = Vec::new();
    for request in receiver.wait_for(n).await {
        let (_, claims) = verified_logout_token(app, &request).await;
        sids.push(claims["sid"].as_str().unwrap().to_owned());
    }
    sids
}

per_backend!(rp_initiated_logout_tells_the_clients_of_that_browser_session_only);
async fn rp_initiated_logout_tells_the_clients_of_that_browser_session_only(backend: Backend) {
    let (receiver, uri) = Receiver::start().await;
    let app = listening_provider(&backend, uri).await;
    let (user_id, laptop) = app.register("quinn").await;
    let phone = sign_in(&app, "quinn").await;
    let on_laptop = exchange(&app, &chat_code(&app, &laptop).await).await;
    let laptop_sid = verified_id_token(&app, &field(&on_laptop, "id_token"), CHAT).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone_sid = chat_sign_in(&app, &phone).await;

    // The chat client signs the laptop out, naming it with the ID token it was given.
    let mut browser = Browser::signed_in(&app, &laptop);
    let hint = encode(&[("id_token_hint", &field(&on_laptop, "id_token"))]);
    let reply = browser.get(&format!("/oidc/logout?{hint}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");

    assert_eq!(logged_out_sids(&app, &receiver, 1).await, [laptop_sid]);
    let held = app
        .app
        .state()
        .store
        .find_active_oidc_sessions(&user_id)
        .await;
    let held: Vec<String> = held.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(held, [phone_sid], "the phone's sign-in stands");
    assert_eq!(
        userinfo(&app, &field(&on_laptop, "access_token"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received.lock().unwrap().len(), 1);
    app.shutdown().await;
}

per_backend!(revoking_a_refresh_token_logs_its_session_out);
async fn revoking_a_refresh_token_logs_its_session_out(backend: Backend) {
    let (receiver, uri) = Receiver::start().await;
    let app = listening_provider(&backend, uri).await;
    let (_, session) = app.register("rosa").await;
    let tokens = exchange(&app, &chat_code(&app, &session).await).await;
    let sid = verified_id_token(&app, &field(&tokens, "id_token"), CHAT).await["sid"].clone();
    let refresh_token = field(&tokens, "refresh_token");
    let reply = app
        .send(
            axum::http::Request::post("/oidc/revoke")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(encode(&[
                    ("token", refresh_token.as_str()),
                    ("client_id", CHAT),
                    ("client_secret", CHAT_SECRET),
                ])))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(
        logged_out_sids(&app, &receiver, 1).await,
        [sid.as_str().unwrap()]
    );
    app.shutdown().await;
}

per_backend!(a_reused_refresh_token_or_code_logs_its_session_out);
async fn a_reused_refresh_token_or_code_logs_its_session_out(backend: Backend) {
    let (receiver, uri) = Receiver::start().await;
    let app = listening_provider(&backend, uri).await;
    let (_, session) = app.register("saul").await;
    let first = exchange(&app, &chat_code(&app, &session).await).await;
    let first_sid = verified_id_token(&app, &field(&first, "id_token"), CHAT).await["sid"].clone();
    let old_refresh = field(&first, "refresh_token");
    assert_eq!(refresh(&app, &old_refresh).await.status, StatusCode::OK);
    let reused = refresh(&app, &old_refresh).await;
    assert_eq!(reused.body["error"], "invalid_grant", "{reused:?}");
    assert_eq!(
        logged_out_sids(&app, &receiver, 1).await,
        [first_sid.as_str().unwrap()]
    );

    let code = chat_code(&app, &session).await;
    let second = exchange(&app, &code).await;
    let second_sid =
        verified_id_token(&app, &field(&second, "id_token"), CHAT).await["sid"].clone();
    assert_eq!(exchange(&app, &code).await.body["error"], "invalid_grant");
    let sids = logged_out_sids(&app, &receiver, 2).await;
    assert_eq!(sids[1], second_sid.as_str().unwrap());
    // A session already ended is not logged out twice by a third presentation.
    assert_eq!(
        refresh(&app, &old_refresh).await.body["error"],
        "invalid_grant"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received.lock().unwrap().len(), 2);
    app.shutdown().await;
}

per_backend!(signing_out_through_the_api_or_the_join_page_logs_that_sessions_clients_out);
async fn signing_out_through_the_api_or_the_join_page_logs_that_sessions_clients_out(
    backend: Backend,
) {
    let (receiver, uri) = Receiver::start().await;
    let app = listening_provider(&backend, uri).await;
    let (_, api_session) = app.register("tariq").await;
    let join_session = sign_in(&app, "tariq").await;
    let api_sid = chat_sign_in(&app, &api_session).await;
    let join_sid = chat_sign_in(&app, &join_session).await;

    let reply = app
        .call(Method::POST, "/api/auth/logout", Some(&api_session), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    assert_eq!(
        logged_out_sids(&app, &receiver, 1).await,
        vec![api_sid.clone()]
    );

    // The join page's sign-out form, with a CSRF token bound to that session.
    let mut browser = Browser::signed_in(&app, &join_session);
    let page = browser.get("/oidc/logout").await;
    let csrf = hidden(&page, "csrf");
    let reply = browser
        .post("/join/somewhere/sign-out", &[("csrf", &csrf)])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(
        logged_out_sids(&app, &receiver, 2).await,
        [api_sid, join_sid]
    );
    app.shutdown().await;
}
