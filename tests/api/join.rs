//! The join page over HTTP: statuses, cookies, CSRF, languages, and the redirect into
//! the Jitsi room with a token that verifies. (`tests/join_browser.rs` walks the same
//! paths in a real Chromium.)

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::helpers::*;

const CUSTOMER: &str = "12345";
const P_KEY: &str = "0123456789abcdef0123456789abcdef";
const CHECKOUT_URL: &str = "https://secure.payco.co/checkout.php";

/// A browser, as far as the page can tell: its cookies and its language.
struct Browser<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
    language: Option<&'a str>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
            language: None,
        }
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            let header = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header("cookie", header);
        }
        if let Some(language) = self.language {
            request = request.header("accept-language", language);
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

    async fn get(&mut self, path: &str) -> Reply {
        self.request(Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        self.request(Method::POST, path, Some(fields)).await
    }

    /// Opens the page and signs up through its form; returns the page's reply after.
    async fn sign_up(&mut self, room: &str, handle: &str) -> Reply {
        let page = self.get(&format!("/join/{room}")).await;
        let csrf = csrf(&page);
        let email = format!("{handle}@example.com");
        let reply = self
            .post(
                &format!("/join/{room}/sign-up"),
                &[
                    ("csrf", &csrf),
                    ("handle", handle),
                    ("email", &email),
                    ("password", "correct horse battery"),
                    ("display_name", ""),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
        assert_eq!(location(&reply), format!("/join/{room}"));
        reply
    }
}

fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let value: String = v
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn html(reply: &Reply) -> &str {
    reply.body.as_str().unwrap_or_default()
}

/// The CSRF token the page's forms carry.
fn csrf(reply: &Reply) -> String {
    let html = html(reply);
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + "name=\"csrf\" value=\"".len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

fn location(reply: &Reply) -> String {
    reply.headers["location"].to_str().unwrap().to_owned()
}

fn set_cookie(reply: &Reply, name: &str) -> String {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", reply.headers))
}

/// The token in a join URL's fragment, read the way jitsi-meet reads it: the value of
/// `jwt`, percent-decoded, parsed as JSON.
fn fragment_jwt(url: &str) -> String {
    let (address, fragment) = url.split_once('#').expect("a fragment");
    assert!(!address.contains('?'), "no query string: {url}");
    let value = fragment.strip_prefix("jwt=").expect("#jwt=");
    let decoded = value.replace("%22", "\"");
    serde_json::from_str::<String>(&decoded).expect("a JSON string")
}

async fn payments_app(backend: &Backend) -> TestApp {
    crate::payments::payments_app_with(backend, false, |_| {}).await
}

/// An accepted ePayco confirmation for `reference`, as ePayco sends it.
async fn confirm_payment(app: &TestApp, reference: &str, amount: &str) {
    let fields = crate::payments::notification(
        Some(reference),
        &format!("ref{reference}"),
        1,
        amount,
        "COP",
    );
    let reply = crate::payments::confirm(app, &fields).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

per_backend!(a_visitor_without_a_session_is_asked_to_sign_in_in_their_language);
async fn a_visitor_without_a_session_is_asked_to_sign_in_in_their_language(backend: Backend) {
    let app = spawn_app(&backend).await;
    stage(&app, "free").await;
    let mut browser = Browser::new(&app);

    let page = browser.get("/join/livealex2026").await;
    assert_eq!(page.status, StatusCode::OK, "{}", backend.label);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert_eq!(page.headers["content-language"], "es");
    assert!(html(&page).starts_with("<!doctype html>\n<html lang=\"es\">"));
    assert!(html(&page).contains("Inicia sesión para entrar"));
    assert!(html(&page).contains("<strong>Show livealex2026</strong>"));
    let nonce = set_cookie(&page, "roomkey_csrf");
    assert!(
        nonce.ends_with("; Path=/; HttpOnly; SameSite=Lax"),
        "{nonce}"
    );

    for (header, lang, heading) in [
        ("en-US,en;q=0.9", "en", "Sign in to enter"),
        (
            "fr-FR, es-CO;q=0.7, en;q=0.5",
            "es",
            "Inicia sesión para entrar",
        ),
        ("es;q=0.2, en;q=0.8", "en", "Sign in to enter"),
        ("de, fr;q=0.5", "es", "Inicia sesión para entrar"),
    ] {
        browser.language = Some(header);
        let page = browser.get("/join/LiveAlex2026").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            html(&page).contains(&format!("<html lang=\"{lang}\">")),
            "{header}"
        );
        assert!(html(&page).contains(heading), "{header}");
        assert_eq!(page.headers["content-language"], lang);
    }

    browser.language = Some("en");
    let missing = browser.get("/join/nosuchroom").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(html(&missing).contains("<h1>Room not found</h1>"));
    app.shutdown().await;
}

#[tokio::test]
async fn the_default_language_is_configurable() {
    let backend = &Backend::sqlite();
    let app = spawn_app_with(backend, |c| {
        c.join.default_language = roomkey::join::Lang::En;
    })
    .await;
    stage(&app, "free").await;
    let page = Browser::new(&app).get("/join/livealex2026").await;
    assert!(html(&page).contains("<html lang=\"en\">"));
    app.shutdown().await;
}

per_backend!(
    signing_up_on_the_page_sends_the_visitor_into_a_free_room_with_the_token_in_the_fragment
);
async fn signing_up_on_the_page_sends_the_visitor_into_a_free_room_with_the_token_in_the_fragment(
    backend: Backend,
) {
    let app = spawn_app(&backend).await;
    stage(&app, "free").await;
    let mut browser = Browser::new(&app);
    let signed_up = browser.sign_up("livealex2026", "newviewer").await;
    let session = set_cookie(&signed_up, "roomkey_session");
    assert!(
        session.ends_with("; Max-Age=86400; Path=/; HttpOnly; SameSite=Lax"),
        "{session}"
    );

    let enter = browser.get("/join/livealex2026").await;
    assert_eq!(enter.status, StatusCode::SEE_OTHER, "{}", backend.label);
    assert_eq!(enter.headers["cache-control"], "no-store");
    let url = location(&enter);
    assert!(
        url.starts_with("https://meet.example.com/livealex2026#jwt=%22ey"),
        "{url}"
    );
    let jwt = fragment_jwt(&url);
    assert!(verify_hs256(&jwt, &hs256_secret(&app)));
    let (_, claims, _, _) = decode_jwt(&jwt);
    assert_eq!(claims["room"], "livealex2026");
    assert_eq!(claims["context"]["user"]["name"], "newviewer");
    assert_eq!(claims["context"]["user"]["moderator"], "false");
    app.shutdown().await;
}

per_backend!(signing_in_sets_a_session_cookie_and_forms_without_a_valid_csrf_token_are_refused);
async fn signing_in_sets_a_session_cookie_and_forms_without_a_valid_csrf_token_are_refused(
    backend: Backend,
) {
    let app = spawn_app(&backend).await;
    stage(&app, "free").await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/join/livealex2026").await;
    let token = csrf(&page);
    let login = [("login", "viewer"), ("password", "correct horse battery")];

    // No token, a forged one, and another browser's token are all refused.
    let missing = browser.post("/join/livealex2026/sign-in", &login).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "{}", backend.label);
    assert!(html(&missing).contains("role=\"alert\""));
    assert!(!missing.headers.contains_key("location"));
    let forged = [("csrf", "AAAA"), login[0], login[1]];
    let reply = browser.post("/join/livealex2026/sign-in", &forged).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let mut other = Browser::new(&app);
    let theirs = csrf(&other.get("/join/livealex2026").await);
    let stolen = [("csrf", theirs.as_str()), login[0], login[1]];
    let reply = browser.post("/join/livealex2026/sign-in", &stolen).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Without the nonce cookie, even the right token is refused.
    let mut cookieless = Browser::new(&app);
    let right = [("csrf", token.as_str()), login[0], login[1]];
    let reply = cookieless.post("/join/livealex2026/sign-in", &right).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(!browser.cookies.contains_key("roomkey_session"));

    // A wrong password: 401, the form again with the login kept, no session.
    let wrong = [
        ("csrf", token.as_str()),
        ("login", "viewer"),
        ("password", "wrong password!"),
    ];
    let reply = browser.post("/join/livealex2026/sign-in", &wrong).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(html(&reply).contains("Usuario o contraseña incorrectos."));
    assert!(html(&reply).contains("value=\"viewer\""));
    assert!(!browser.cookies.contains_key("roomkey_session"));

    let reply = browser.post("/join/livealex2026/sign-in", &right).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&reply), "/join/livealex2026");
    assert!(browser.cookies.contains_key("roomkey_session"));
    let enter = browser.get("/join/livealex2026").await;
    assert_eq!(enter.status, StatusCode::SEE_OTHER);

    // The session cookie is not an API credential.
    let me = app
        .send(
            Request::get("/api/me")
                .header(
                    "cookie",
                    format!("roomkey_session={}", browser.cookies["roomkey_session"]),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);

    // Signing out needs a token bound to the session; the anonymous one is refused.
    let reply = browser
        .post("/join/livealex2026/sign-out", &[("csrf", token.as_str())])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(browser.cookies.contains_key("roomkey_session"));
    app.shutdown().await;
}

#[tokio::test]
async fn a_refused_sign_up_says_why_and_keeps_what_was_typed() {
    let backend = &Backend::sqlite();
    let app = spawn_app(backend).await;
    stage(&app, "free").await;
    let mut browser = Browser::new(&app);
    browser.language = Some("en");
    let token = csrf(&browser.get("/join/livealex2026").await);
    let reply = browser
        .post(
            "/join/livealex2026/sign-up",
            &[
                ("csrf", &token),
                ("handle", "viewer"),
                ("email", "other@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(html(&reply).contains("That username is already registered."));
    assert!(html(&reply).contains("value=\"other@example.com\""));
    let reply = browser
        .post(
            "/join/livealex2026/sign-up",
            &[
                ("csrf", &token),
                ("handle", "x\"><b>"),
                ("email", "x@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&reply).contains("value=\"x&quot;&gt;&lt;b&gt;\""));
    assert!(!html(&reply).contains("<b>"));
    app.shutdown().await;
}

per_backend!(a_paid_room_shows_the_price_and_the_checkout_and_lets_the_visitor_in_once_paid);
async fn a_paid_room_shows_the_price_and_the_checkout_and_lets_the_visitor_in_once_paid(
    backend: Backend,
) {
    let app = payments_app(&backend).await;
    stage(&app, "paid").await;
    let mut browser = Browser::new(&app);
    browser.sign_up("livealex2026", "payer").await;

    let pay = browser.get("/join/livealex2026").await;
    assert_eq!(
        pay.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        backend.label
    );
    assert!(html(&pay).contains("<h1>Paga para entrar</h1>"));
    assert!(html(&pay).contains("<p class=\"price\">50.000,00 COP</p>"));
    browser.language = Some("en");
    let pay = browser.get("/join/livealex2026").await;
    assert!(html(&pay).contains("<p class=\"price\">50,000.00 COP</p>"));
    assert!(html(&pay).contains("Signed in as <strong>payer</strong>"));

    // A pay form without the session-bound token is refused.
    let reply = browser
        .post("/join/livealex2026/pay", &[("csrf", "x")])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    let checkout = browser
        .post("/join/livealex2026/pay", &[("csrf", &csrf(&pay))])
        .await;
    assert_eq!(checkout.status, StatusCode::OK);
    let page = html(&checkout);
    assert!(page.contains(&format!("<form method=\"post\" action=\"{CHECKOUT_URL}\">")));
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = page.find(&marker).unwrap_or_else(|| panic!("{name}")) + marker.len();
        page[start..start + page[start..].find('"').unwrap()].to_owned()
    };
    let reference = field("p_id_invoice");
    assert_eq!(field("p_extra1"), reference);
    assert_eq!(field("p_amount"), "50000.00");
    assert_eq!(field("p_currency_code"), "COP");
    assert_eq!(field("p_cust_id_cliente"), CUSTOMER);
    assert_eq!(
        field("p_url_response"),
        "http://127.0.0.1:8080/join/livealex2026"
    );
    assert_eq!(
        field("p_url_confirmation"),
        "http://127.0.0.1:8080/api/webhooks/epayco"
    );
    assert_eq!(
        field("p_signature"),
        md5_hex(&format!("{CUSTOMER}^{P_KEY}^{reference}^50000.00^COP"))
    );
    assert!(!page.contains(P_KEY), "P_KEY never reaches the browser");

    // Not paid yet: the page still asks to pay.
    assert_eq!(
        browser.get("/join/livealex2026").await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    confirm_payment(&app, &reference, "50000.00").await;
    let enter = browser.get("/join/livealex2026").await;
    assert_eq!(enter.status, StatusCode::SEE_OTHER);
    let jwt = fragment_jwt(&location(&enter));
    assert!(verify_hs256(&jwt, &hs256_secret(&app)));
    // Entitled now: the pay button sends them to the room's page, not to a new checkout.
    let again = browser
        .post("/join/livealex2026/pay", &[("csrf", &csrf(&pay))])
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&again), "/join/livealex2026");
    app.shutdown().await;
}

fn md5_hex(text: &str) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(text.as_bytes()))
}

per_backend!(a_banned_visitor_sees_the_reason_and_the_end_and_gets_no_token);
async fn a_banned_visitor_sees_the_reason_and_the_end_and_gets_no_token(backend: Backend) {
    let app = spawn_app(&backend).await;
    stage(&app, "free").await;
    let mut browser = Browser::new(&app);
    browser.language = Some("en");
    browser.sign_up("livealex2026", "troll").await;
    let me = browser.get("/join/livealex2026").await;
    assert_eq!(me.status, StatusCode::SEE_OTHER);
    let user = decode_jwt(&fragment_jwt(&location(&me))).1["context"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ban = app
        .admin(
            "/api/admin/bans",
            json!({"user_id": user, "scope": {"kind": "room", "room": "livealex2026"}, "reason": "spam <links>", "until": roomkey::clock::rfc3339(START + 86_400)}),
        )
        .await;
    assert_eq!(ban.status, StatusCode::CREATED, "{ban:?}");

    let page = browser.get("/join/livealex2026").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", backend.label);
    assert!(!page.headers.contains_key("location"));
    assert!(html(&page).contains("<h1>You cannot enter this room</h1>"));
    assert!(html(&page).contains("<dd>spam &lt;links&gt;</dd>"));
    assert!(html(&page).contains("<dd>2027-01-16 08:00 UTC</dd>"));
    app.shutdown().await;
}

#[tokio::test]
async fn an_ended_show_says_so_with_410() {
    let backend = &Backend::sqlite();
    let app = spawn_app(backend).await;
    stage(&app, "free").await;
    app.call(
        Method::PATCH,
        "/api/admin/rooms/livealex2026",
        Some(ADMIN_KEY),
        Some(json!({"ends_at": roomkey::clock::rfc3339(START + 60)})),
    )
    .await;
    app.clock.advance(120);
    let mut browser = Browser::new(&app);
    let page = browser.get("/join/livealex2026").await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(html(&page).contains("<h1>El show terminó</h1>"));
    assert!(html(&page).contains("2027-01-15 08:01 UTC"));
    // The performer may still enter an ended room, so the page still offers sign-in.
    assert!(html(&page).contains("/join/livealex2026/sign-in"));
    app.shutdown().await;
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let backend = &Backend::sqlite();
    let app = spawn_app_with(backend, |c| {
        c.http.public_url = "https://roomkey.example.com".into();
    })
    .await;
    stage(&app, "free").await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/join/livealex2026").await;
    assert!(set_cookie(&page, "roomkey_csrf").ends_with("; HttpOnly; SameSite=Lax; Secure"));
    let signed_up = browser.sign_up("livealex2026", "secure1").await;
    assert!(set_cookie(&signed_up, "roomkey_session").ends_with("; HttpOnly; SameSite=Lax; Secure"));
    app.shutdown().await;
}

/// Signing out ends the session itself, not only the cookie: a copy of the cookie taken
/// before (another tab, a stolen copy) no longer signs anyone in.
#[tokio::test]
async fn signing_out_ends_the_session_and_clears_its_cookie() {
    let backend = &Backend::sqlite();
    let app = spawn_app(backend).await;
    stage(&app, "paid").await;
    let mut browser = Browser::new(&app);
    browser.sign_up("livealex2026", "leaver").await;
    let copy = browser.cookies["roomkey_session"].clone();
    let pay = browser.get("/join/livealex2026").await;
    assert_eq!(pay.status, StatusCode::PAYMENT_REQUIRED);
    let reply = browser
        .post("/join/livealex2026/sign-out", &[("csrf", &csrf(&pay))])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(set_cookie(&reply, "roomkey_session").contains("Max-Age=0"));
    assert!(!browser.cookies.contains_key("roomkey_session"));
    assert_eq!(
        browser.get("/join/livealex2026").await.status,
        StatusCode::OK
    );

    let mut other_tab = Browser::new(&app);
    other_tab
        .cookies
        .insert("roomkey_session".into(), copy.clone());
    let page = other_tab.get("/join/livealex2026").await;
    assert_eq!(page.status, StatusCode::OK, "asked to sign in, not to pay");
    assert!(set_cookie(&page, "roomkey_session").contains("Max-Age=0"));
    assert_eq!(
        app.get("/api/me", Some(&copy)).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.shutdown().await;
}

#[tokio::test]
async fn invite_only_rooms_and_tickets_not_yet_valid_say_so_with_403() {
    let backend = &Backend::sqlite();
    let app = spawn_app(backend).await;
    let cast = stage(&app, "invite_only").await;
    let mut browser = Browser::new(&app);
    browser.language = Some("en");
    let page = browser.get("/join/livealex2026").await;
    assert_eq!(page.status, StatusCode::OK, "anonymous: sign in first");
    let token = csrf(&page);
    let login = [
        ("csrf", token.as_str()),
        ("login", "viewer@example.com"),
        ("password", "correct horse battery"),
    ];
    let reply = browser.post("/join/livealex2026/sign-in", &login).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let page = browser.get("/join/livealex2026").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(html(&page).contains("<h1>Invitation-only room</h1>"));

    // An invitation that starts in an hour: not yet, with when.
    let reply = app
        .admin(
            "/api/admin/entitlements",
            json!({"user_id": cast.viewer_id, "scope": {"kind": "room", "room": "livealex2026"},
                   "valid_from": roomkey::clock::rfc3339(START + 3_600)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let page = browser.get("/join/livealex2026").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(html(&page).contains("<h1>Not open to you yet</h1>"));
    assert!(html(&page).contains("2027-01-15 09:00 UTC"));
    app.clock.advance(3_600);
    let enter = browser.get("/join/livealex2026").await;
    assert_eq!(enter.status, StatusCode::SEE_OTHER);
    app.shutdown().await;
}

#[tokio::test]
async fn sign_in_attempts_share_the_apis_per_address_limit() {
    let backend = &Backend::sqlite();
    let app = spawn_app_with(backend, |c| c.rate_limit.auth_per_minute = 2).await;
    stage(&app, "free").await;
    let mut browser = Browser::new(&app);
    let token = csrf(&browser.get("/join/livealex2026").await);
    let wrong = [
        ("csrf", token.as_str()),
        ("login", "viewer"),
        ("password", "not the password"),
    ];
    // The stage's two sign-ups already used this minute's allowance.
    let reply = browser.post("/join/livealex2026/sign-in", &wrong).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.headers.contains_key("retry-after"));
    assert!(html(&reply).contains("role=\"alert\""));
    app.shutdown().await;
}

per_backend!(without_the_in_process_tier_opening_the_page_reads_the_visitor_once);
async fn without_the_in_process_tier_opening_the_page_reads_the_visitor_once(backend: Backend) {
    let app = spawn_app_with(&backend, |c| c.cache.max_entries = 0).await;
    let cast = stage(&app, "free").await;
    let mut browser = Browser::new(&app);
    browser
        .cookies
        .insert("roomkey_session".into(), cast.viewer_session.clone());
    let facts_reads = || {
        app.app
            .state()
            .metrics
            .store_ops(roomkey::telemetry::metrics::StoreOp::FindUserFacts)
    };
    let before = facts_reads();
    let enter = browser.get("/join/livealex2026").await;
    assert_eq!(enter.status, StatusCode::SEE_OTHER, "{}", backend.label);
    assert_eq!(
        facts_reads() - before,
        1,
        "{}: the session check's read serves the page's decision too",
        backend.label
    );
    app.shutdown().await;
}
