//! Payments to entitlements through ePayco's real confirmation format: form, query string or
//! JSON, signed with `sha256(cust_id^p_key^ref^txid^amount^currency)`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::epayco_server;
use crate::helpers::*;

const CUSTOMER: &str = "12345";
const P_KEY: &str = "0123456789abcdef0123456789abcdef";
const MERU_SECRET: &str = "whsec_MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA=";
const CARDS_SECRET: &str = "whsec_cards_current_secret";

async fn payments_app(backend: &Backend, test_mode: bool) -> TestApp {
    payments_app_with(backend, test_mode, |_| {}).await
}

pub(crate) async fn payments_app_with(
    backend: &Backend,
    test_mode: bool,
    tweak: impl FnOnce(&mut roomkey::config::Config),
) -> TestApp {
    spawn_app_with(backend, |c| {
        c.payments.epayco.validation_url = epayco_server::new_validation_url();
        c.payments.epayco.customer_id = CUSTOMER.into();
        c.payments.epayco.p_key = roomkey::config::Secret::new(P_KEY);
        c.payments.epayco.public_key = "pk_test_491d6a0b6e992cf924edd8d3d088aff1".into();
        c.payments.epayco.test_mode = test_mode;
        c.payments.providers.insert(
            "meru".into(),
            roomkey::config::SignedProviderConfig {
                scheme: roomkey::config::WebhookScheme::Standard,
                secrets: vec![roomkey::config::Secret::new(MERU_SECRET)],
                tolerance_secs: 300,
            },
        );
        c.payments.providers.insert(
            "cards".into(),
            roomkey::config::SignedProviderConfig {
                scheme: roomkey::config::WebhookScheme::Stripe,
                secrets: vec![
                    roomkey::config::Secret::new("whsec_old_secret_0123"),
                    roomkey::config::Secret::new(CARDS_SECRET),
                ],
                tolerance_secs: 300,
            },
        );
        c.payments.features.insert(
            "verified_badge".into(),
            roomkey::config::FeaturePrice {
                amount_minor: 990,
                currency: "USD".into(),
                days: 30,
                call_minutes: None,
            },
        );
        tweak(c);
    })
    .await
}

/// A confirmation as ePayco sends it, signed the way its plugins check it.
pub(crate) fn notification(
    reference: Option<&str>,
    ref_payco: &str,
    state: u32,
    amount: &str,
    currency: &str,
) -> BTreeMap<String, String> {
    let txid = format!("tx{ref_payco}");
    let signature = hex::encode(sha2::Sha256::digest(format!(
        "{CUSTOMER}^{P_KEY}^{ref_payco}^{txid}^{amount}^{currency}"
    )));
    let mut fields = BTreeMap::from([
        ("x_cust_id_cliente".to_owned(), CUSTOMER.to_owned()),
        ("x_ref_payco".to_owned(), ref_payco.to_owned()),
        ("x_transaction_id".to_owned(), txid),
        ("x_amount".to_owned(), amount.to_owned()),
        ("x_currency_code".to_owned(), currency.to_owned()),
        ("x_signature".to_owned(), signature),
        ("x_cod_transaction_state".to_owned(), state.to_string()),
        ("x_transaction_state".to_owned(), "Aceptada".to_owned()),
        ("x_response".to_owned(), "Aceptada por el banco".to_owned()),
        ("x_test_request".to_owned(), "FALSE".to_owned()),
        ("x_approval_code".to_owned(), "123456".to_owned()),
    ]);
    if let Some(reference) = reference {
        fields.insert("x_extra1".to_owned(), reference.to_owned());
    }
    fields
}

fn form(fields: &BTreeMap<String, String>) -> String {
    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A genuine confirmation: ePayco's records say what the notification says.
pub(crate) async fn confirm(app: &TestApp, fields: &BTreeMap<String, String>) -> Reply {
    epayco_records(app).record(fields);
    confirm_forged(app, fields).await
}

/// ePayco's records behind `app`.
pub(crate) fn epayco_records(app: &TestApp) -> epayco_server::Records<'_> {
    epayco_server::Records::behind(&app.config.payments.epayco.validation_url)
}

/// A notification posted as it is, whatever ePayco's records say.
pub(crate) async fn confirm_forged(app: &TestApp, fields: &BTreeMap<String, String>) -> Reply {
    let request = Request::post("/api/webhooks/epayco")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form(fields)))
        .unwrap();
    app.send(request).await
}

async fn pay(app: &TestApp, session: &str, room: &str) -> String {
    let reply = app
        .call(
            Method::POST,
            &format!("/api/rooms/{room}/pay"),
            Some(session),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body["reference"].as_str().unwrap().to_owned()
}

async fn earnings(app: &TestApp, performer: &str) -> Value {
    let reply = app
        .get(
            &format!("/api/performers/{performer}/earnings"),
            Some(ADMIN_KEY),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body["currencies"].clone()
}

async fn assert_books_balance(app: &TestApp) {
    for (currency, total) in app.app.state().store.ledger_imbalance().await.unwrap() {
        assert_eq!(total, 0, "{currency} ledger does not balance");
    }
}

#[tokio::test]
async fn checkout_returns_epaycos_parameters_with_our_reference() {
    let app = payments_app(&Backend::sqlite(), false).await;
    let cast = stage(&app, "paid").await;
    let reply = app
        .call(
            Method::POST,
            "/api/rooms/livealex2026/pay",
            Some(&cast.viewer_session),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let reference = reply.body["reference"].as_str().unwrap();
    let parameters = &reply.body["parameters"];
    assert_eq!(parameters["invoice"], reference);
    assert_eq!(parameters["extra1"], reference);
    assert_eq!(parameters["amount"], "50000.00");
    assert_eq!(parameters["currency"], "cop");
    assert_eq!(
        parameters["key"],
        "pk_test_491d6a0b6e992cf924edd8d3d088aff1"
    );
    assert_eq!(
        parameters["confirmation"],
        "http://127.0.0.1:8080/api/webhooks/epayco"
    );
    assert_eq!(parameters["test"], "false");

    app.create_room("freeshow", &cast.performer_id, "free")
        .await;
    let reply = app
        .call(
            Method::POST,
            "/api/rooms/freeshow/pay",
            Some(&cast.viewer_session),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.body["error"]["code"], "not_for_sale");
    app.shutdown().await;
}

per_backend!(an_accepted_payment_opens_the_room_books_70_30_and_a_reversal_closes_it);
async fn an_accepted_payment_opens_the_room_books_70_30_and_a_reversal_closes_it(backend: Backend) {
    let app = payments_app(&backend, false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );

    let reply = confirm(
        &app,
        &notification(Some(&reference), "1001", 1, "50000.00", "COP"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}: {reply:?}", backend.label);
    assert_eq!(reply.body["status"], "granted");
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK,
        "{}",
        backend.label
    );
    assert_eq!(
        earnings(&app, &cast.performer_id).await,
        json!([{"currency": "COP", "gross_minor": 5_000_000, "performer_share_minor": 3_500_000,
                "platform_share_minor": 1_500_000, "refunded_minor": 0, "tips_minor": 0}])
    );

    // A late "pending" after "accepted" changes nothing; the extras may be gone by then.
    let reply = confirm(&app, &notification(None, "1001", 3, "50000.00", "COP")).await;
    assert_eq!(reply.body["status"], "ignored");
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );

    let reply = confirm(&app, &notification(None, "1001", 6, "50000.00", "COP")).await;
    assert_eq!(reply.body["status"], "revoked", "{reply:?}");
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    assert_eq!(
        earnings(&app, &cast.performer_id).await,
        json!([{"currency": "COP", "gross_minor": 5_000_000, "performer_share_minor": 0,
                "platform_share_minor": 0, "refunded_minor": 5_000_000, "tips_minor": 0}])
    );
    let reply = confirm(&app, &notification(None, "1001", 1, "50000.00", "COP")).await;
    assert_eq!(
        reply.body["status"], "duplicate",
        "the same accepted event again"
    );
    assert_books_balance(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn every_state_code_holds_denies_or_grants() {
    let app = payments_app(&Backend::sqlite(), false).await;
    let cast = stage(&app, "paid").await;
    for (i, (code, expected)) in [
        (2, "denied"),
        (4, "denied"),
        (9, "denied"),
        (10, "denied"),
        (11, "denied"),
        (12, "denied"),
        (3, "held"),
        (7, "held"),
        (8, "held"),
        (42, "held"),
    ]
    .into_iter()
    .enumerate()
    {
        let reference = pay(&app, &cast.viewer_session, &cast.room).await;
        let reply = confirm(
            &app,
            &notification(Some(&reference), &format!("20{i}"), code, "50000", "COP"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{code}: {reply:?}");
        assert_eq!(reply.body["status"], expected, "state {code}");
        assert_eq!(
            app.token(&cast.room, &cast.viewer_session).await.status,
            StatusCode::PAYMENT_REQUIRED,
            "state {code} grants nothing"
        );
    }
    // A held payment is granted when it is accepted.
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    assert_eq!(
        confirm(
            &app,
            &notification(Some(&reference), "300", 3, "50000", "COP")
        )
        .await
        .body["status"],
        "held"
    );
    assert_eq!(
        confirm(&app, &notification(None, "300", 1, "50000", "COP"))
            .await
            .body["status"],
        "granted"
    );
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    app.shutdown().await;
}

per_backend!(ten_concurrent_deliveries_grant_once_and_book_once);
async fn ten_concurrent_deliveries_grant_once_and_book_once(backend: Backend) {
    let app = payments_app(&backend, false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    let fields = notification(Some(&reference), "4001", 1, "50000.00", "COP");
    let replies = futures_util::future::join_all((0..10).map(|_| confirm(&app, &fields))).await;
    let mut statuses: Vec<String> = replies
        .iter()
        .map(|r| r.body["status"].as_str().unwrap_or("error").to_owned())
        .collect();
    statuses.sort();
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "{}: {replies:?}",
        backend.label
    );
    assert_eq!(
        statuses.iter().filter(|s| *s == "granted").count(),
        1,
        "{}: {statuses:?}",
        backend.label
    );
    assert_eq!(statuses.iter().filter(|s| *s == "duplicate").count(), 9);

    let record = app
        .get(
            &format!("/api/admin/users/{}/access", cast.viewer_id),
            Some(ADMIN_KEY),
        )
        .await;
    assert_eq!(record.body["entitlements"].as_array().unwrap().len(), 1);
    assert_eq!(
        earnings(&app, &cast.performer_id).await[0]["gross_minor"],
        5_000_000
    );
    assert_books_balance(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn forged_mismatched_unknown_and_test_notifications_change_nothing() {
    let app = payments_app(&Backend::sqlite(), false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;

    let mut forged = notification(Some(&reference), "5001", 1, "50000.00", "COP");
    forged.insert("x_signature".into(), "0".repeat(64));
    let reply = confirm(&app, &forged).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["code"], "invalid_signature");

    // Signed correctly, but not what we asked for.
    let reply = confirm(
        &app,
        &notification(Some(&reference), "5001", 1, "5000.00", "COP"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["error"]["code"], "amount_mismatch");
    let reply = confirm(
        &app,
        &notification(Some(&reference), "5001", 1, "50000.00", "USD"),
    )
    .await;
    assert_eq!(reply.body["error"]["code"], "amount_mismatch");

    let reply = confirm(
        &app,
        &notification(Some("no-such-reference"), "5002", 1, "50000.00", "COP"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["error"]["code"], "unknown_reference");
    let reply = confirm(&app, &notification(None, "5003", 1, "50000.00", "COP")).await;
    assert_eq!(reply.body["error"]["code"], "unknown_reference");

    let mut test = notification(Some(&reference), "5001", 1, "50000.00", "COP");
    test.insert("x_test_request".into(), "TRUE".into());
    let reply = confirm(&app, &test).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["error"]["code"], "test_transaction_refused");

    let mut missing = notification(Some(&reference), "5001", 1, "50000.00", "COP");
    missing.remove("x_amount");
    assert_eq!(
        confirm(&app, &missing).await.status,
        StatusCode::BAD_REQUEST
    );

    let reply = app
        .send(
            Request::post("/api/webhooks/epayco")
                .header("content-type", "text/plain")
                .body(Body::from("x=1"))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    assert_eq!(earnings(&app, &cast.performer_id).await, json!([]));
    let metrics = app
        .get("/metrics", None)
        .await
        .body
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        metrics
            .contains("roomkey_payment_webhooks_total{provider=\"epayco\",outcome=\"rejected\"} 7"),
        "{metrics}"
    );

    // The same reference, genuinely paid, still goes through afterwards.
    let reply = confirm(
        &app,
        &notification(Some(&reference), "5001", 1, "50000.00", "COP"),
    )
    .await;
    assert_eq!(reply.body["status"], "granted");
    app.shutdown().await;
}

per_backend!(a_declined_confirmation_re_sent_as_accepted_grants_nothing);
/// ePayco signs the reference, transaction, amount and currency, not the state: a genuine
/// declined confirmation re-sent as accepted keeps the signature. What counts is ePayco's
/// own record of the transaction.
async fn a_declined_confirmation_re_sent_as_accepted_grants_nothing(backend: Backend) {
    let app = payments_app(&backend, false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    let declined = notification(Some(&reference), "5101", 2, "50000.00", "COP");
    assert_eq!(confirm(&app, &declined).await.body["status"], "denied");

    let mut edited = declined.clone();
    edited.insert("x_cod_transaction_state".into(), "1".into());
    edited.insert("x_cod_response".into(), "1".into());
    let reply = confirm_forged(&app, &edited).await;
    assert_eq!(reply.status, StatusCode::OK, "{}: {reply:?}", backend.label);
    assert_eq!(
        reply.body["status"], "duplicate",
        "ePayco's record still says declined"
    );
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        backend.label
    );
    assert_eq!(earnings(&app, &cast.performer_id).await, json!([]));
    app.shutdown().await;
}

per_backend!(an_accepted_confirmation_re_sent_as_reversed_revokes_nothing);
async fn an_accepted_confirmation_re_sent_as_reversed_revokes_nothing(backend: Backend) {
    let app = payments_app(&backend, false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    let accepted = notification(Some(&reference), "5201", 1, "50000.00", "COP");
    assert_eq!(confirm(&app, &accepted).await.body["status"], "granted");

    let mut edited = accepted.clone();
    edited.insert("x_cod_transaction_state".into(), "6".into());
    let reply = confirm_forged(&app, &edited).await;
    assert_eq!(
        reply.body["status"], "duplicate",
        "{}: {reply:?}",
        backend.label
    );
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK,
        "{}: the buyer keeps the room",
        backend.label
    );
    let books = earnings(&app, &cast.performer_id).await;
    assert_eq!(books[0]["refunded_minor"], 0, "{books}");
    assert_books_balance(&app).await;
    app.shutdown().await;
}

/// `x_test_request` and the extras are unsigned too: a sandbox payment relabelled as a
/// production one is still a test transaction, and our reference is ePayco's copy.
#[tokio::test]
async fn unsigned_fields_are_read_from_epaycos_record() {
    let app = payments_app(&Backend::sqlite(), false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    let mut sandbox = notification(Some(&reference), "5301", 1, "50000.00", "COP");
    sandbox.insert("x_test_request".into(), "TRUE".into());
    epayco_records(&app).record(&sandbox);
    let mut relabelled = sandbox.clone();
    relabelled.insert("x_test_request".into(), "FALSE".into());
    let reply = confirm_forged(&app, &relabelled).await;
    assert_eq!(
        reply.body["error"]["code"], "test_transaction_refused",
        "{reply:?}"
    );

    // A signed notification for a transaction ePayco's record describes differently
    let (_, other_session) = app.register("other").await;
    let other = pay(&app, &other_session, &cast.room).await;
    let genuine = notification(Some(&other), "5302", 1, "50000.00", "COP");
    let mut record = genuine.clone();
    record.insert("x_transaction_id".into(), "another".into());
    epayco_records(&app).record(&record);
    let reply = confirm_forged(&app, &genuine).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    assert_eq!(reply.body["error"]["code"], "record_mismatch");
    assert_eq!(
        app.token(&cast.room, &other_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    app.shutdown().await;
}

per_backend!(a_confirmation_whose_state_cannot_be_looked_up_is_retried_and_settled_later);
/// Without ePayco's record nothing is granted: the notification is answered 503 so that
/// ePayco sends it again, and the payment waits as pending for the reconcile pass.
async fn a_confirmation_whose_state_cannot_be_looked_up_is_retried_and_settled_later(
    backend: Backend,
) {
    let app = payments_app(&backend, false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    let accepted = notification(Some(&reference), "5401", 1, "50000.00", "COP");
    let reply = confirm_forged(&app, &accepted).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}: {reply:?}",
        backend.label
    );
    assert_eq!(reply.body["error"]["code"], "unavailable");
    assert!(reply.headers.contains_key("retry-after"));
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );

    // ePayco's retries stop; its record now answers, and the reconcile pass settles it
    epayco_records(&app).record(&accepted);
    app.clock.advance(601);
    let report = app.app.state().payments.reconcile_pending().await.unwrap();
    assert_eq!(
        (report.checked, report.changed),
        (1, 1),
        "{}",
        backend.label
    );
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    assert_eq!(confirm(&app, &accepted).await.body["status"], "duplicate");
    assert_books_balance(&app).await;
    app.shutdown().await;
}

/// A lookup that cannot connect answers at once, not after the provider's timeout.
#[tokio::test]
async fn an_unreachable_lookup_answers_503_promptly() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/validation/v1/reference",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let app = payments_app_with(&Backend::sqlite(), false, |c| {
        c.payments.epayco.validation_url = url;
    })
    .await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    let started = std::time::Instant::now();
    let reply = confirm_forged(
        &app,
        &notification(Some(&reference), "5501", 1, "50000.00", "COP"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    app.shutdown().await;
}

#[tokio::test]
async fn test_transactions_are_accepted_in_test_mode() {
    let app = payments_app(&Backend::sqlite(), true).await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    let mut test = notification(Some(&reference), "6001", 1, "50000.00", "COP");
    test.insert("x_test_request".into(), "TRUE".into());
    assert_eq!(confirm(&app, &test).await.body["status"], "granted");
    app.shutdown().await;
}

#[tokio::test]
async fn get_and_json_confirmations_work_like_the_form() {
    let app = payments_app(&Backend::sqlite(), false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    let pending = notification(Some(&reference), "7001", 3, "50000.00", "COP");
    epayco_records(&app).record(&pending);
    let query = form(&pending);
    let reply = app
        .get(&format!("/api/webhooks/epayco?{query}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["status"], "held");
    let fields = notification(None, "7001", 1, "50000.00", "COP");
    epayco_records(&app).record(&fields);
    let reply = app
        .post(
            "/api/webhooks/epayco",
            None,
            serde_json::to_value(&fields).unwrap(),
        )
        .await;
    assert_eq!(reply.body["status"], "granted", "{reply:?}");
    app.shutdown().await;
}

per_backend!(a_database_outage_mid_webhook_answers_503_and_the_retry_loses_nothing);
async fn a_database_outage_mid_webhook_answers_503_and_the_retry_loses_nothing(backend: Backend) {
    let app = payments_app(&backend, false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    let fields = notification(Some(&reference), "8001", 1, "50000.00", "COP");

    let restarted = app.sibling().await;
    app.app.state().store.close().await;
    let reply = confirm(&app, &fields).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}: {reply:?}",
        backend.label
    );
    assert!(reply.headers.contains_key("retry-after"));

    // ePayco retries; the instance that answers now has a working database.
    let reply = confirm(&restarted, &fields).await;
    assert_eq!(
        reply.body["status"], "granted",
        "{}: {reply:?}",
        backend.label
    );
    assert_eq!(
        restarted
            .token(&cast.room, &cast.viewer_session)
            .await
            .status,
        StatusCode::OK
    );
    assert_books_balance(&restarted).await;
    restarted.shutdown().await;
    app.shutdown().await;
}

per_backend!(each_subscription_payment_extends_access_by_one_period);
async fn each_subscription_payment_extends_access_by_one_period(backend: Backend) {
    let app = payments_app(&backend, false).await;
    let cast = stage(&app, "paid").await;
    let terms = app
        .call(Method::PUT, &format!("/api/admin/performers/{}/terms", cast.performer_id), Some(ADMIN_KEY),
            Some(json!({"performer_share_bps": 8000, "subscription_price": {"amount_minor": 2_000_000, "currency": "COP"}})))
        .await;
    assert_eq!(terms.status, StatusCode::OK, "{terms:?}");

    for (i, ref_payco) in ["9001", "9002"].into_iter().enumerate() {
        let reply = app
            .call(
                Method::POST,
                &format!("/api/performers/{}/subscribe", cast.performer_id),
                Some(&cast.viewer_session),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        let reference = reply.body["reference"].as_str().unwrap().to_owned();
        let reply = confirm(
            &app,
            &notification(Some(&reference), ref_payco, 1, "20000.00", "COP"),
        )
        .await;
        assert_eq!(reply.body["status"], "granted", "payment {i}");
    }
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK,
        "a subscription covers the performer's rooms"
    );
    let record = app
        .get(
            &format!("/api/admin/users/{}/access", cast.viewer_id),
            Some(ADMIN_KEY),
        )
        .await;
    let periods = record.body["entitlements"].as_array().unwrap();
    assert_eq!(periods.len(), 2);
    let period = 30 * 86_400;
    assert_eq!(
        periods[1]["valid_until"],
        roomkey::clock::rfc3339(START + period),
        "{}",
        backend.label
    );
    assert_eq!(
        periods[0]["valid_from"],
        roomkey::clock::rfc3339(START + period),
        "the renewal starts where the first ends"
    );
    assert_eq!(
        periods[0]["valid_until"],
        roomkey::clock::rfc3339(START + 2 * period)
    );
    let totals = &earnings(&app, &cast.performer_id).await[0];
    assert_eq!(
        totals["performer_share_minor"], 3_200_000,
        "80 % by the performer's own terms"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn tips_and_features_are_booked_and_features_granted() {
    let app = payments_app(&Backend::sqlite(), false).await;
    let cast = stage(&app, "paid").await;
    let reply = app
        .post(
            "/api/rooms/livealex2026/tip",
            Some(&cast.viewer_session),
            json!({"amount_minor": 1_001, "currency": "USD"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let reference = reply.body["reference"].as_str().unwrap().to_owned();
    assert_eq!(
        confirm(
            &app,
            &notification(Some(&reference), "9101", 1, "10.01", "USD")
        )
        .await
        .body["status"],
        "recorded"
    );
    let totals = &earnings(&app, &cast.performer_id).await[0];
    assert_eq!(totals["tips_minor"], 1_001);
    assert_eq!(
        totals["performer_share_minor"], 700,
        "floor(1001 × 70 %) to the performer"
    );
    assert_eq!(
        totals["platform_share_minor"], 301,
        "the odd unit to the platform"
    );
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED,
        "a tip buys no access"
    );
    let reply = app
        .post(
            "/api/rooms/livealex2026/tip",
            Some(&cast.viewer_session),
            json!({"amount_minor": 5, "currency": "USD"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);

    let reply = app
        .call(
            Method::POST,
            "/api/features/verified_badge/pay",
            Some(&cast.viewer_session),
            None,
        )
        .await;
    let reference = reply.body["reference"].as_str().unwrap().to_owned();
    assert_eq!(
        confirm(
            &app,
            &notification(Some(&reference), "9102", 1, "9.90", "USD")
        )
        .await
        .body["status"],
        "granted"
    );
    let record = app
        .get(
            &format!("/api/admin/users/{}/access", cast.viewer_id),
            Some(ADMIN_KEY),
        )
        .await;
    assert_eq!(
        record.body["entitlements"][0]["scope"],
        json!({"kind": "plan", "ref": "verified_badge"})
    );
    let reply = app
        .call(
            Method::POST,
            "/api/features/teleport/pay",
            Some(&cast.viewer_session),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_books_balance(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn only_the_performer_and_admins_see_earnings() {
    let app = payments_app(&Backend::sqlite(), false).await;
    let cast = stage(&app, "paid").await;
    let path = format!("/api/performers/{}/earnings", cast.performer_id);
    assert_eq!(
        app.get(&path, Some(&cast.performer_session)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&path, Some(&cast.viewer_session)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(
            "/api/rooms/livealex2026/revenue",
            Some(&cast.performer_session)
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(
            "/api/rooms/livealex2026/revenue",
            Some(&cast.viewer_session)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let (_, admin) = app.user_with_role("root", "admin").await;
    assert_eq!(app.get(&path, Some(&admin)).await.status, StatusCode::OK);
    app.shutdown().await;
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn event(
    id: &str,
    kind: &str,
    reference: &str,
    provider_ref: &str,
    amount_minor: i64,
    currency: &str,
) -> String {
    json!({"id": id, "type": kind, "data": {"reference": reference, "provider_ref": provider_ref, "amount_minor": amount_minor, "currency": currency}}).to_string()
}

/// A Standard Webhooks delivery signed as the spec says.
async fn meru(app: &TestApp, delivery: &str, body: &str, timestamp: i64, secret: &str) -> Reply {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.trim_start_matches("whsec_")).unwrap();
    let signature = b64.encode(hmac_sha256(
        &key,
        format!("{delivery}.{timestamp}.{body}").as_bytes(),
    ));
    let request = Request::post("/api/webhooks/meru")
        .header("content-type", "application/json")
        .header("webhook-id", delivery)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", format!("v1,{signature}"))
        .body(Body::from(body.to_owned()))
        .unwrap();
    app.send(request).await
}

/// A Stripe-style delivery.
async fn cards(app: &TestApp, body: &str, timestamp: i64, secret: &str) -> Reply {
    let signature = hex::encode(hmac_sha256(
        secret.as_bytes(),
        format!("{timestamp}.{body}").as_bytes(),
    ));
    let request = Request::post("/api/webhooks/cards")
        .header("content-type", "application/json")
        .header("stripe-signature", format!("t={timestamp},v1={signature}"))
        .body(Body::from(body.to_owned()))
        .unwrap();
    app.send(request).await
}

async fn pay_with(app: &TestApp, session: &str, provider: &str) -> String {
    let reply = app
        .post(
            "/api/rooms/livealex2026/pay",
            Some(session),
            json!({"provider": provider}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["provider"], provider);
    reply.body["reference"].as_str().unwrap().to_owned()
}

per_backend!(standard_webhooks_grant_once_and_refuse_forged_or_stale_deliveries);
async fn standard_webhooks_grant_once_and_refuse_forged_or_stale_deliveries(backend: Backend) {
    let app = payments_app(&backend, false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay_with(&app, &cast.viewer_session, "meru").await;
    let body = event(
        "evt_1",
        "payment.succeeded",
        &reference,
        "pay_1",
        5_000_000,
        "COP",
    );

    let forged = meru(
        &app,
        "msg_1",
        &body,
        START,
        "whsec_MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=",
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert_eq!(forged.body["error"]["code"], "invalid_signature");
    let stale = meru(&app, "msg_1", &body, START - 301, MERU_SECRET).await;
    assert_eq!(stale.status, StatusCode::BAD_REQUEST, "{stale:?}");
    let wrong_amount = event(
        "evt_1",
        "payment.succeeded",
        &reference,
        "pay_1",
        4_000_000,
        "COP",
    );
    assert_eq!(
        meru(&app, "msg_0", &wrong_amount, START, MERU_SECRET)
            .await
            .body["error"]["code"],
        "amount_mismatch"
    );
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );

    assert_eq!(
        meru(&app, "msg_1", &body, START + 100, MERU_SECRET)
            .await
            .body["status"],
        "granted",
        "{}",
        backend.label
    );
    assert_eq!(
        meru(&app, "msg_1", &body, START + 200, MERU_SECRET)
            .await
            .body["status"],
        "duplicate",
        "a retry keeps its webhook-id"
    );
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );

    let refund = event(
        "evt_2",
        "payment.refunded",
        &reference,
        "pay_1",
        5_000_000,
        "COP",
    );
    assert_eq!(
        meru(&app, "msg_2", &refund, START, MERU_SECRET).await.body["status"],
        "revoked"
    );
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    assert_books_balance(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn stripe_style_webhooks_verify_under_any_active_secret_and_book_chargebacks() {
    let app = payments_app(&Backend::sqlite(), false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay_with(&app, &cast.viewer_session, "cards").await;
    let body = event(
        "evt_10",
        "payment.succeeded",
        &reference,
        "ch_10",
        5_000_000,
        "COP",
    );
    assert_eq!(
        cards(&app, &body, START, "whsec_wrong").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        cards(&app, &body, START, "whsec_old_secret_0123")
            .await
            .body["status"],
        "granted",
        "a rotated-out secret still works while listed"
    );
    let chargeback = event(
        "evt_11",
        "payment.chargeback",
        &reference,
        "ch_10",
        5_000_000,
        "COP",
    );
    assert_eq!(
        cards(&app, &chargeback, START, CARDS_SECRET).await.body["status"],
        "revoked"
    );
    let totals = &earnings(&app, &cast.performer_id).await[0];
    assert_eq!(totals["refunded_minor"], 5_000_000);
    assert_eq!(totals["performer_share_minor"], 0);
    let unknown = event(
        "evt_12",
        "payment.teleported",
        &reference,
        "ch_10",
        5_000_000,
        "COP",
    );
    assert_eq!(
        cards(&app, &unknown, START, CARDS_SECRET).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let reply = app.post("/api/webhooks/nobody", None, json!({})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_books_balance(&app).await;
    app.shutdown().await;
}

per_backend!(admins_record_link_payments_and_emailed_chargebacks_through_the_same_path);
async fn admins_record_link_payments_and_emailed_chargebacks_through_the_same_path(
    backend: Backend,
) {
    let app = payments_app(&backend, false).await;
    let cast = stage(&app, "paid").await;
    let body = json!({"user_id": cast.viewer_id, "purchase": {"kind": "room", "room": "livealex2026"},
        "provider": "meru", "provider_ref": "link-4F7K", "amount_minor": 2_500, "currency": "USD"});
    let reply = app.admin("/api/admin/payments", body.clone()).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}: {reply:?}",
        backend.label
    );
    assert_eq!(reply.body["status"], "granted");
    let reference = reply.body["reference"].as_str().unwrap().to_owned();
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    let again = app.admin("/api/admin/payments", body).await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the same link cannot be recorded twice"
    );

    let (_, viewer) = app.register("other").await;
    let forbidden = app
        .post("/api/admin/payments", Some(&viewer), json!({}))
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    let reply = app
        .admin(
            &format!("/api/admin/payments/{reference}/chargeback"),
            json!({}),
        )
        .await;
    assert_eq!(reply.body["status"], "revoked", "{reply:?}");
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    let record = app
        .get(
            &format!("/api/admin/users/{}/access", cast.viewer_id),
            Some(ADMIN_KEY),
        )
        .await;
    assert_eq!(record.body["entitlements"][0]["revoked"]["by"], "admin-key");
    let totals = &earnings(&app, &cast.performer_id).await[0];
    assert_eq!(totals["currency"], "USD");
    assert_eq!(totals["gross_minor"], 2_500);
    assert_eq!(totals["refunded_minor"], 2_500);
    assert_books_balance(&app).await;
    app.shutdown().await;
}

per_backend!(a_payment_left_pending_is_settled_by_the_reconcile_pass);
async fn a_payment_left_pending_is_settled_by_the_reconcile_pass(backend: Backend) {
    let app = payments_app(&backend, false).await;
    let lookup = epayco_records(&app);
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    let held = confirm(
        &app,
        &notification(Some(&reference), "7001", 3, "50000.00", "COP"),
    )
    .await;
    assert_eq!(held.body["status"], "held", "{}: {held:?}", backend.label);
    let (_, other_session) = app.register("other").await;
    let other_reference = pay(&app, &other_session, &cast.room).await;
    confirm(
        &app,
        &notification(Some(&other_reference), "7002", 3, "50000.00", "COP"),
    )
    .await;

    // ePayco's final confirmation never arrives; the lookup knows better
    lookup.set("7001", 1, 50000.0, "COP");
    lookup.set("7002", 1, 1.0, "COP");
    let report = app.app.state().payments.reconcile_pending().await.unwrap();
    assert_eq!(report.checked, 0, "too recent to look up yet");

    app.clock.advance(601);
    let report = app.app.state().payments.reconcile_pending().await.unwrap();
    assert_eq!(
        (report.checked, report.changed, report.failed),
        (2, 1, 1),
        "{}: the lookup whose amount differs grants nothing",
        backend.label
    );
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.token(&cast.room, &other_session).await.status,
        StatusCode::PAYMENT_REQUIRED
    );

    // the same answer again, or the late confirmation, changes nothing
    let report = app.app.state().payments.reconcile_pending().await.unwrap();
    assert_eq!((report.checked, report.changed), (1, 0));
    let late = confirm(
        &app,
        &notification(Some(&reference), "7001", 1, "50000.00", "COP"),
    )
    .await;
    assert_eq!(late.body["status"], "duplicate", "{late:?}");
    assert_eq!(
        earnings(&app, &cast.performer_id).await[0]["gross_minor"],
        5_000_000,
        "booked once"
    );
    assert_books_balance(&app).await;
    app.shutdown().await;
}

per_backend!(a_second_attempt_after_a_declined_card_grants_the_same_checkout);
async fn a_second_attempt_after_a_declined_card_grants_the_same_checkout(backend: Backend) {
    let app = payments_app(&backend, false).await;
    let cast = stage(&app, "paid").await;
    let reference = pay(&app, &cast.viewer_session, &cast.room).await;
    let declined = confirm(
        &app,
        &notification(Some(&reference), "8001", 2, "50000.00", "COP"),
    )
    .await;
    assert_eq!(
        declined.body["status"], "denied",
        "{}: {declined:?}",
        backend.label
    );
    let retried = confirm(
        &app,
        &notification(Some(&reference), "8002", 1, "50000.00", "COP"),
    )
    .await;
    assert_eq!(retried.status, StatusCode::OK, "{retried:?}");
    assert_eq!(retried.body["status"], "granted");
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK
    );
    // a second successful attempt for a paid checkout is not silently taken
    let twice = confirm(
        &app,
        &notification(Some(&reference), "8003", 1, "50000.00", "COP"),
    )
    .await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND, "{twice:?}");
    assert_books_balance(&app).await;
    app.shutdown().await;
}
