//! Remembered consent: a third-party client the user approved is not asked about again for
//! the same or fewer scopes, until `prompt=consent`, a revocation or the end of the user's
//! sessions.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

use crate::helpers::*;
use crate::oidc::*;

/// `/oidc/authorize` for the third-party (public) client with `scope`, plus `extra`.
fn app_authorize(scope: &str, extra: &[(&str, &str)]) -> String {
    let mut fields = vec![
        ("client_id", APP),
        ("redirect_uri", APP_REDIRECT),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "s"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    fields.extend_from_slice(extra);
    format!("/oidc/authorize?{}", encode(&fields))
}

/// Whether the browser was asked for consent (a page) or sent back with a code.
async fn asks(browser: &mut Browser<'_>, path: &str) -> bool {
    let reply = browser.get(path).await;
    match reply.status {
        StatusCode::OK => {
            assert!(
                html(&reply).contains("action=\"/oidc/consent\""),
                "{reply:?}"
            );
            true
        }
        StatusCode::SEE_OTHER => {
            let params = query_of(&location(&reply));
            assert!(params.contains_key("code"), "{params:?}");
            false
        }
        other => panic!("{other}: {reply:?}"),
    }
}

/// Approves the consent page at `path`; returns the code.
async fn approve(browser: &mut Browser<'_>, path: &str) -> String {
    let page = browser.get(path).await;
    let (csrf, authorize) = (hidden(&page, "csrf"), hidden(&page, "authorize"));
    let fields = [
        ("csrf", csrf.as_str()),
        ("authorize", &authorize),
        ("decision", "approve"),
    ];
    let reply = browser.post("/oidc/consent", &fields).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    query_of(&location(&reply))["code"].clone()
}

per_backend!(an_approval_is_remembered_for_the_same_or_fewer_scopes);
async fn an_approval_is_remembered_for_the_same_or_fewer_scopes(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("tess").await;
    let mut browser = Browser::signed_in(&app, &session);
    assert!(asks(&mut browser, &app_authorize("openid email", &[])).await);
    approve(&mut browser, &app_authorize("openid email", &[])).await;

    assert!(!asks(&mut browser, &app_authorize("openid email", &[])).await);
    assert!(!asks(&mut browser, &app_authorize("openid", &[])).await);
    // prompt=none is answered with a code, not consent_required.
    assert!(
        !asks(
            &mut browser,
            &app_authorize("openid", &[("prompt", "none")])
        )
        .await
    );
    // More than was approved: asked, and the answer covers both.
    assert!(asks(&mut browser, &app_authorize("openid profile", &[])).await);
    approve(&mut browser, &app_authorize("openid profile", &[])).await;
    assert!(!asks(&mut browser, &app_authorize("openid profile email", &[])).await);
    // The client may ask for the question again.
    let again = app_authorize("openid", &[("prompt", "consent")]);
    assert!(asks(&mut browser, &again).await);
    approve(&mut browser, &again).await;

    // Another user has approved nothing.
    let (_, other) = app.register("theo").await;
    let mut other = Browser::signed_in(&app, &other);
    assert!(asks(&mut other, &app_authorize("openid", &[])).await);
    app.shutdown().await;
}

per_backend!(revoking_the_grant_or_signing_out_everywhere_forgets_the_approval);
async fn revoking_the_grant_or_signing_out_everywhere_forgets_the_approval(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("uma").await;
    let mut browser = Browser::signed_in(&app, &session);
    let path = app_authorize("openid email", &[]);
    let code = approve(&mut browser, &path).await;
    let fields = [
        ("grant_type", "authorization_code"),
        ("client_id", APP),
        ("code", &code),
        ("redirect_uri", APP_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let tokens = token_request(&app, None, &fields).await;
    assert_eq!(tokens.status, StatusCode::OK, "{tokens:?}");
    assert!(!asks(&mut browser, &path).await, "remembered");

    let body = encode(&[
        ("token", &field(&tokens, "refresh_token")),
        ("client_id", APP),
    ]);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/oidc/revoke")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::OK);
    assert!(asks(&mut browser, &path).await, "forgotten with the grant");

    approve(&mut browser, &path).await;
    assert!(!asks(&mut browser, &path).await);
    let reply = app
        .call(Method::POST, "/api/auth/logout-all", Some(&session), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    let session = sign_in(&app, "uma").await;
    let mut browser = Browser::signed_in(&app, &session);
    assert!(
        asks(&mut browser, &path).await,
        "forgotten with the sessions"
    );
    app.shutdown().await;
}
