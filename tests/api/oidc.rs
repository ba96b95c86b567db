//! roomkey as an OpenID Provider, driven as a browser and a relying party would: the
//! authorization request with the join page's sign-in, consent, the token endpoint,
//! userinfo, refresh rotation, revocation and logout. The refusals are in
//! `oidc_refusals.rs`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use roomkey::config::Config;
use serde_json::Value;

use crate::helpers::*;

pub const ISSUER: &str = "https://id.example.com";
/// The platform's own client (confidential, first party: no consent page).
pub const CHAT: &str = "chat";
pub const CHAT_SECRET: &str = "chat-client-secret-0123456789abcdef-xyz";
pub const CHAT_REDIRECT: &str = "https://chat.example.com/_synapse/client/oidc/callback";
pub const CHAT_AFTER_LOGOUT: &str = "https://chat.example.com/signed-out";
/// A third-party public client: PKCE required, consent asked.
pub const APP: &str = "app";
pub const APP_REDIRECT: &str = "https://app.example.net/callback";
pub const APP_AFTER_LOGOUT: &str = "https://app.example.net/signed-out";
/// RFC 7636 appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// An app with the two clients registered.
pub async fn provider(backend: &Backend) -> TestApp {
    provider_with(backend, |_| {}).await
}

/// [`provider`], with `tweak` applied to the config after the clients are registered.
pub async fn provider_with(backend: &Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let hash = roomkey::identity::password::hash(CHAT_SECRET.into())
        .await
        .unwrap();
    spawn_app_with(backend, move |config| {
        config.http.public_url = ISSUER.into();
        let client = |id: &str, redirect: &str| roomkey::config::OidcClientConfig {
            id: id.into(),
            name: String::new(),
            secret_hash: None,
            redirect_uris: vec![redirect.into()],
            post_logout_redirect_uris: vec![],
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            backchannel_logout_uri: None,
            first_party: false,
        };
        let mut chat = client(CHAT, CHAT_REDIRECT);
        chat.secret_hash = Some(hash);
        chat.first_party = true;
        chat.post_logout_redirect_uris = vec![CHAT_AFTER_LOGOUT.into()];
        let mut app = client(APP, APP_REDIRECT);
        app.name = "Third Party App".into();
        app.post_logout_redirect_uris = vec![APP_AFTER_LOGOUT.into()];
        config.oidc.clients = vec![chat, app];
        tweak(config);
    })
    .await
}

/// A browser: its cookies, and the requests it makes.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
        }
    }

    /// A browser already signed in with `session` (as after the join page's sign-in).
    pub fn signed_in(app: &'a TestApp, session: &str) -> Self {
        let mut browser = Self::new(app);
        browser
            .cookies
            .insert("roomkey_session".into(), session.to_owned());
        browser
    }

    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            let header: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("cookie", header.join("; "));
        }
        let request = match form {
            Some(fields) => request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(encode(fields))),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let reply = self.app.send(request).await;
        for value in reply.headers.get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let (pair, _) = value.split_once(';').unwrap_or((value, ""));
            let (name, content) = pair.split_once('=').unwrap();
            if value.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), content.to_owned());
            }
        }
        reply
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        self.request(Method::POST, path, Some(fields)).await
    }
}

pub fn encode(fields: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

pub fn html(reply: &Reply) -> &str {
    reply.body.as_str().unwrap_or_default()
}

/// A hidden field's value in a page's first form.
pub fn hidden(reply: &Reply, name: &str) -> String {
    let html = html(reply);
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let raw = &html[start..start + html[start..].find('"').unwrap()];
    raw.replace("&amp;", "&").replace("&quot;", "\"")
}

pub fn location(reply: &Reply) -> String {
    reply.headers["location"].to_str().unwrap().to_owned()
}

/// The query parameters of a redirect.
pub fn query_of(url: &str) -> BTreeMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    serde_urlencoded::from_str(query).unwrap()
}

/// `/oidc/authorize` for the chat client, with PKCE, `state` and `nonce`, plus `extra`.
pub fn chat_authorize(extra: &[(&str, &str)]) -> String {
    let mut fields = vec![
        ("client_id", CHAT),
        ("redirect_uri", CHAT_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    fields.extend_from_slice(extra);
    format!("/oidc/authorize?{}", encode(&fields))
}

/// A code for the chat client, from a signed-in browser.
pub async fn chat_code(app: &TestApp, session: &str) -> String {
    let mut browser = Browser::signed_in(app, session);
    let reply = browser.get(&chat_authorize(&[])).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let to = location(&reply);
    assert!(to.starts_with(&format!("{CHAT_REDIRECT}?")), "{to}");
    let params = query_of(&to);
    assert_eq!(params["state"], "st-123");
    assert_eq!(params["iss"], ISSUER);
    params["code"].clone()
}

/// `POST /oidc/token` with `client_secret_basic` credentials (when given) and `fields`.
pub async fn token_request(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    fields: &[(&str, &str)],
) -> Reply {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/oidc/token")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        let credentials = STANDARD.encode(format!("{id}:{secret}"));
        request = request.header("authorization", format!("Basic {credentials}"));
    }
    app.send(request.body(Body::from(encode(fields))).unwrap())
        .await
}

/// The chat client's code exchange.
pub async fn exchange(app: &TestApp, code: &str) -> Reply {
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CHAT_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    token_request(app, Some((CHAT, CHAT_SECRET)), &fields).await
}

pub async fn refresh(app: &TestApp, refresh_token: &str) -> Reply {
    let fields = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token_request(app, Some((CHAT, CHAT_SECRET)), &fields).await
}

pub fn field(reply: &Reply, name: &str) -> String {
    reply.body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name}: {reply:?}"))
        .to_owned()
}

/// An ID token's claims after checking its signature against the provider's JWKS.
pub async fn verified_id_token(app: &TestApp, token: &str, audience: &str) -> Value {
    let jwks = app.get("/oidc/jwks", None).await.body;
    let key = &jwks["keys"][0];
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[audience]);
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .expect("the ID token verifies against the JWKS")
        .claims
}

pub async fn userinfo(app: &TestApp, access_token: &str) -> Reply {
    app.get("/oidc/userinfo", Some(access_token)).await
}

per_backend!(discovery_names_every_endpoint_under_the_issuer);
async fn discovery_names_every_endpoint_under_the_issuer(backend: Backend) {
    let app = provider(&backend).await;
    let reply = app.get("/.well-known/openid-configuration", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let document = &reply.body;
    assert_eq!(document["issuer"], ISSUER);
    for (key, path) in [
        ("authorization_endpoint", "/oidc/authorize"),
        ("token_endpoint", "/oidc/token"),
        ("userinfo_endpoint", "/oidc/userinfo"),
        ("jwks_uri", "/oidc/jwks"),
        ("revocation_endpoint", "/oidc/revoke"),
        ("end_session_endpoint", "/oidc/logout"),
    ] {
        assert_eq!(document[key], format!("{ISSUER}{path}"), "{key}");
    }
    assert_eq!(
        document["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        document["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    let jwks = app.get("/oidc/jwks", None).await.body;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert!(jwks["keys"][0].get("d").is_none(), "only the public half");
    app.shutdown().await;
}

per_backend!(a_signed_in_user_gets_a_code_tokens_and_claims);
async fn a_signed_in_user_gets_a_code_tokens_and_claims(backend: Backend) {
    let app = provider(&backend).await;
    let (user_id, session) = app.register("alice").await;
    let code = chat_code(&app, &session).await;
    let reply = exchange(&app, &code).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_eq!(reply.body["token_type"], "Bearer");
    let access = field(&reply, "access_token");
    let claims = verified_id_token(&app, &field(&reply, "id_token"), CHAT).await;
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["aud"], CHAT);
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["auth_time"], START);
    assert_eq!(claims["iat"], START);
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["name"], "ALICE");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], false);
    assert_eq!(claims["role"], "viewer");
    let digest = <sha2::Sha256 as sha2::Digest>::digest(access.as_bytes());
    assert_eq!(claims["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));

    let info = userinfo(&app, &access).await;
    assert_eq!(info.status, StatusCode::OK, "{info:?}");
    assert_eq!(info.body["sub"], user_id.as_str());
    assert_eq!(info.body["preferred_username"], "alice");
    assert_eq!(info.body["email"], "alice@example.com");

    app.clock.advance(600);
    assert_eq!(
        userinfo(&app, &access).await.status,
        StatusCode::UNAUTHORIZED,
        "expired"
    );
    app.shutdown().await;
}

per_backend!(the_sign_in_form_returns_to_the_authorization_request);
async fn the_sign_in_form_returns_to_the_authorization_request(backend: Backend) {
    let app = provider(&backend).await;
    app.register("bob").await;
    let mut browser = Browser::new(&app);
    let page = browser.get(&chat_authorize(&[])).await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(html(&page).contains("action=\"/oidc/sign-in\""));
    let csrf = hidden(&page, "csrf");
    let authorize = hidden(&page, "authorize");
    let reply = browser
        .post(
            "/oidc/sign-in",
            &[
                ("csrf", &csrf),
                ("authorize", &authorize),
                ("login", "bob"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let back = location(&reply);
    assert!(back.starts_with("/oidc/authorize?"), "{back}");
    assert!(browser.cookies.contains_key("roomkey_session"));
    let reply = browser.get(&back).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let code = query_of(&location(&reply))["code"].clone();
    assert_eq!(exchange(&app, &code).await.status, StatusCode::OK);
    app.shutdown().await;
}

per_backend!(sign_up_through_the_provider_creates_the_account);
async fn sign_up_through_the_provider_creates_the_account(backend: Backend) {
    let app = provider(&backend).await;
    let mut browser = Browser::new(&app);
    let page = browser.get(&chat_authorize(&[])).await;
    let (csrf, authorize) = (hidden(&page, "csrf"), hidden(&page, "authorize"));
    let fields = [
        ("csrf", csrf.as_str()),
        ("authorize", &authorize),
        ("handle", "carol"),
        ("email", "carol@example.com"),
        ("password", "correct horse battery"),
        ("display_name", "Carol"),
    ];
    let reply = browser.post("/oidc/sign-up", &fields).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let reply = browser.get(&location(&reply)).await;
    let code = query_of(&location(&reply))["code"].clone();
    let tokens = exchange(&app, &code).await;
    let claims = verified_id_token(&app, &field(&tokens, "id_token"), CHAT).await;
    assert_eq!(claims["preferred_username"], "carol");
    app.shutdown().await;
}

per_backend!(a_third_party_client_asks_for_consent);
async fn a_third_party_client_asks_for_consent(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("dave").await;
    let mut browser = Browser::signed_in(&app, &session);
    let query = encode(&[
        ("client_id", APP),
        ("redirect_uri", APP_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "s1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let page = browser.get(&format!("/oidc/authorize?{query}")).await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(html(&page).contains("Third Party App"));
    assert!(html(&page).contains("action=\"/oidc/consent\""));
    let (csrf, authorize) = (hidden(&page, "csrf"), hidden(&page, "authorize"));

    let deny = [
        ("csrf", csrf.as_str()),
        ("authorize", &authorize),
        ("decision", "deny"),
    ];
    let reply = browser.post("/oidc/consent", &deny).await;
    let params = query_of(&location(&reply));
    assert_eq!(
        (params["error"].as_str(), params["state"].as_str()),
        ("access_denied", "s1")
    );

    let approve = [
        ("csrf", csrf.as_str()),
        ("authorize", &authorize),
        ("decision", "approve"),
    ];
    let reply = browser.post("/oidc/consent", &approve).await;
    let to = location(&reply);
    assert!(to.starts_with(&format!("{APP_REDIRECT}?")), "{to}");
    let code = query_of(&to)["code"].clone();
    // A public client authenticates with nothing but its id and the PKCE verifier.
    let fields = [
        ("grant_type", "authorization_code"),
        ("client_id", APP),
        ("code", &code),
        ("redirect_uri", APP_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let tokens = token_request(&app, None, &fields).await;
    assert_eq!(tokens.status, StatusCode::OK, "{tokens:?}");
    let info = userinfo(&app, &field(&tokens, "access_token")).await;
    assert_eq!(info.body["email"], "dave@example.com");
    assert!(
        info.body.get("preferred_username").is_none(),
        "profile was not granted"
    );
    app.shutdown().await;
}

per_backend!(refresh_rotates_and_reuse_revokes_the_family);
async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("erin").await;
    let first = exchange(&app, &chat_code(&app, &session).await).await;
    let first_refresh = field(&first, "refresh_token");
    let second = refresh(&app, &first_refresh).await;
    assert_eq!(second.status, StatusCode::OK, "{second:?}");
    let second_refresh = field(&second, "refresh_token");
    assert_ne!(second_refresh, first_refresh, "rotated");
    let second_access = field(&second, "access_token");
    assert_eq!(userinfo(&app, &second_access).await.status, StatusCode::OK);

    let reused = refresh(&app, &first_refresh).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.body["error"], "invalid_grant");
    assert_eq!(
        refresh(&app, &second_refresh).await.body["error"],
        "invalid_grant",
        "family revoked"
    );
    assert_eq!(
        userinfo(&app, &second_access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        userinfo(&app, &field(&first, "access_token")).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.shutdown().await;
}

per_backend!(revocation_ends_the_grant_and_sessions_are_recorded);
async fn revocation_ends_the_grant_and_sessions_are_recorded(backend: Backend) {
    let app = provider(&backend).await;
    let (user_id, session) = app.register("frank").await;
    let tokens = exchange(&app, &chat_code(&app, &session).await).await;
    let state = app.app.state();
    let store = &state.store;
    let held = store.find_active_oidc_sessions(&user_id).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].client_id, CHAT);

    let refresh_token = field(&tokens, "refresh_token");
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/oidc/revoke")
        .header("content-type", "application/x-www-form-urlencoded");
    request = request.header(
        "authorization",
        format!("Basic {}", STANDARD.encode(format!("{CHAT}:{CHAT_SECRET}"))),
    );
    let body = encode(&[
        ("token", &refresh_token),
        ("token_type_hint", "refresh_token"),
    ]);
    let reply = app.send(request.body(Body::from(body)).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(
        userinfo(&app, &field(&tokens, "access_token")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&app, &refresh_token).await.body["error"],
        "invalid_grant"
    );
    assert!(store
        .find_active_oidc_sessions(&user_id)
        .await
        .unwrap()
        .is_empty());
    app.shutdown().await;
}

per_backend!(logout_ends_the_session_and_redirects_only_where_registered);
async fn logout_ends_the_session_and_redirects_only_where_registered(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("gina").await;
    let mut browser = Browser::signed_in(&app, &session);
    let query = encode(&[
        ("client_id", APP),
        ("post_logout_redirect_uri", APP_AFTER_LOGOUT),
        ("state", "bye"),
    ]);
    let reply = confirmed_logout(&mut browser, &query).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(location(&reply), format!("{APP_AFTER_LOGOUT}?state=bye"));
    assert!(
        !browser.cookies.contains_key("roomkey_session"),
        "cookie cleared"
    );
    assert_eq!(
        app.get("/api/me", Some(&session)).await.status,
        StatusCode::UNAUTHORIZED,
        "session ended"
    );

    for (handle, uri) in [
        ("hank", "https://evil.example.com/"),
        ("hope", "https://app.example.net/signed-out/x"),
    ] {
        let (_, session) = app.register(handle).await;
        let mut browser = Browser::signed_in(&app, &session);
        let query = encode(&[("client_id", APP), ("post_logout_redirect_uri", uri)]);
        let reply = confirmed_logout(&mut browser, &query).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {reply:?}");
        assert!(reply.headers.get("location").is_none(), "{uri}");
        assert!(html(&reply).contains("Signed out") || html(&reply).contains("Sesión cerrada"));
    }
    app.shutdown().await;
}

/// A logout request without a hint: the page asks first and nothing ends until the
/// visitor confirms; returns the answer to the confirmation.
async fn confirmed_logout(browser: &mut Browser<'_>, query: &str) -> Reply {
    let page = browser.get(&format!("/oidc/logout?{query}")).await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(
        html(&page).contains("action=\"/oidc/logout\""),
        "asked first: {page:?}"
    );
    let session = browser.cookies.get("roomkey_session").cloned().unwrap();
    let me = browser.app.get("/api/me", Some(&session)).await;
    assert_eq!(
        me.status,
        StatusCode::OK,
        "nothing ends before the visitor confirms"
    );
    let (csrf, carried) = (hidden(&page, "csrf"), hidden(&page, "authorize"));
    browser
        .post("/oidc/logout", &[("csrf", &csrf), ("authorize", &carried)])
        .await
}

per_backend!(another_site_cannot_sign_a_visitor_out);
async fn another_site_cannot_sign_a_visitor_out(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("iris").await;
    let (_, other_session) = app.register("ivan").await;
    let others_id_token = field(
        &exchange(&app, &chat_code(&app, &other_session).await).await,
        "id_token",
    );
    let mut browser = Browser::signed_in(&app, &session);
    // A link or an auto-submitted form from anywhere, a forged CSRF token, another user's
    // ID token: each is asked about, and the session stays.
    let attempts = [
        browser.get("/oidc/logout").await,
        browser.post("/oidc/logout", &[("csrf", "forged")]).await,
        browser
            .get(&format!(
                "/oidc/logout?{}",
                encode(&[("id_token_hint", &others_id_token)])
            ))
            .await,
    ];
    for reply in attempts {
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert!(
            html(&reply).contains("action=\"/oidc/logout\""),
            "{reply:?}"
        );
    }
    assert_eq!(
        app.get("/api/me", Some(&session)).await.status,
        StatusCode::OK
    );

    // The user's own relying party, with an ID token it was given for them: at once.
    let own_id_token = field(
        &exchange(&app, &chat_code(&app, &session).await).await,
        "id_token",
    );
    let hint = encode(&[("id_token_hint", &own_id_token)]);
    let reply = browser.get(&format!("/oidc/logout?{hint}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(
        !html(&reply).contains("action=\"/oidc/logout\""),
        "{reply:?}"
    );
    assert_eq!(
        app.get("/api/me", Some(&session)).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.shutdown().await;
}

per_backend!(signing_out_everywhere_ends_the_oidc_sessions_too);
async fn signing_out_everywhere_ends_the_oidc_sessions_too(backend: Backend) {
    let app = provider(&backend).await;
    let (user_id, session) = app.register("ursula").await;
    let tokens = exchange(&app, &chat_code(&app, &session).await).await;
    let access = field(&tokens, "access_token");
    assert_eq!(userinfo(&app, &access).await.status, StatusCode::OK);
    let reply = app
        .call(Method::POST, "/api/auth/logout-all", Some(&session), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    assert_eq!(
        userinfo(&app, &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = refresh(&app, &field(&tokens, "refresh_token")).await;
    assert_eq!(refreshed.body["error"], "invalid_grant", "{refreshed:?}");
    let state = app.app.state();
    let held = state
        .store
        .find_active_oidc_sessions(&user_id)
        .await
        .unwrap();
    assert!(held.is_empty(), "{held:?}");
    app.shutdown().await;
}

per_backend!(the_provider_pages_speak_spanish_and_english);
async fn the_provider_pages_speak_spanish_and_english(backend: Backend) {
    let app = provider(&backend).await;
    for (language, heading) in [
        ("en-GB,en;q=0.9", "Sign in to continue"),
        ("es-CO", "Inicia sesión para continuar"),
    ] {
        let request = Request::builder()
            .uri(chat_authorize(&[]))
            .header("accept-language", language)
            .body(Body::empty())
            .unwrap();
        let reply = app.send(request).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(html(&reply).contains(heading), "{language}");
        assert_eq!(reply.headers["cache-control"], "no-store");
        assert!(reply.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
    }
    app.shutdown().await;
}

per_backend!(auth_time_is_the_sign_in_and_max_age_is_measured_from_it);
async fn auth_time_is_the_sign_in_and_max_age_is_measured_from_it(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("olga").await;
    // The sign-in was at START; the relying party comes by 100 seconds later.
    app.clock.advance(100);
    let tokens = exchange(&app, &chat_code(&app, &session).await).await;
    let claims = verified_id_token(&app, &field(&tokens, "id_token"), CHAT).await;
    assert_eq!(claims["auth_time"], START);
    assert_eq!(claims["iat"], START + 100);
    // A refresh an hour on is a new ID token for the same sign-in.
    app.clock.advance(3600);
    let refreshed = refresh(&app, &field(&tokens, "refresh_token")).await;
    let claims = verified_id_token(&app, &field(&refreshed, "id_token"), CHAT).await;
    assert_eq!(claims["auth_time"], START);
    assert_eq!(claims["iat"], START + 3700);

    // max_age counts from the sign-in, not from the last authorization or token.
    let mut browser = Browser::signed_in(&app, &session);
    let stale = browser.get(&chat_authorize(&[("max_age", "3699")])).await;
    assert_eq!(stale.status, StatusCode::OK, "sign in again: {stale:?}");
    assert!(html(&stale).contains("action=\"/oidc/sign-in\""));
    let fresh = browser.get(&chat_authorize(&[("max_age", "3700")])).await;
    assert_eq!(fresh.status, StatusCode::SEE_OTHER, "{fresh:?}");

    // Signing in again resets it.
    let again = sign_in(&app, "olga").await;
    let tokens = exchange(&app, &chat_code(&app, &again).await).await;
    let claims = verified_id_token(&app, &field(&tokens, "id_token"), CHAT).await;
    assert_eq!(claims["auth_time"], START + 3700);
    app.shutdown().await;
}
