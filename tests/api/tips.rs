//! Tips shown where the show happens: a confirmed tip becomes one `announce` command for
//! every Prosody shard (the chat line Jitsi Meet shows) and one `m.notice` in the show's
//! Matrix chat. The shards here are plain HTTP listeners that record what arrives; the
//! module itself shows the line to real XMPP clients in `tests/tips_live.rs`.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use hmac::{Hmac, Mac};
use roomkey::config::Secret;
use roomkey::telemetry::metrics::{TipChannel, TipNoticeOutcome};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::helpers::*;
use crate::payments::{confirm, notification, payments_app_with};
use crate::synapse::{Synapse, AS_TOKEN, HS_TOKEN, SERVER_NAME};

const SECRET: &str = "prosody-shared-secret-0123456789abcdef";

/// A Prosody shard stand-in: records each command it is sent.
struct Shard {
    url: String,
    received: mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
}

async fn shard() -> Shard {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/roomkey", listener.local_addr().unwrap());
    let (tx, received) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/roomkey/commands",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                (StatusCode::OK, "{\"ok\":true,\"affected\":1}")
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    Shard { url, received }
}

impl Shard {
    /// The next command, its signature checked independently.
    async fn next_command(&mut self) -> Value {
        let (headers, body) = tokio::time::timeout(Duration::from_secs(10), self.received.recv())
            .await
            .expect("a command arrives")
            .unwrap();
        let timestamp = headers["x-roomkey-timestamp"].to_str().unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("v1:command:{timestamp}:").as_bytes());
        mac.update(&body);
        let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(headers["x-roomkey-signature"], expected.as_str());
        serde_json::from_slice(&body).unwrap()
    }

    /// The commands that are not revalidations (a payment also asks the shards to re-ask
    /// about its payer; that is live enforcement's business, not the tip's).
    async fn announcements_within(&mut self, wait: Duration) -> Vec<Value> {
        let mut seen = Vec::new();
        while let Ok(Some((_, body))) = tokio::time::timeout(wait, self.received.recv()).await {
            let command: Value = serde_json::from_slice(&body).unwrap();
            if command["type"] == "announce" {
                seen.push(command);
            }
        }
        seen
    }
}

async fn tips_app(backend: &Backend, shard: &Shard) -> TestApp {
    let url = shard.url.clone();
    payments_app_with(backend, false, move |c| {
        c.prosody.secret = Secret::new(SECRET);
        c.prosody.shards = vec![url];
    })
    .await
}

/// The viewer's tip checkout; its reference.
async fn tip(app: &TestApp, session: &str, body: Value) -> String {
    let reply = app
        .call(
            Method::POST,
            "/api/rooms/livealex2026/tip",
            Some(session),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body["reference"].as_str().unwrap().to_owned()
}

/// An ePayco confirmation of `reference`: accepted (1) or refunded (6).
async fn confirmed(app: &TestApp, reference: &str, ref_payco: &str, state: u32) {
    let fields = notification(Some(reference), ref_payco, state, "25.00", "USD");
    let reply = confirm(app, &fields).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

fn tip_notices(app: &TestApp, channel: TipChannel, outcome: TipNoticeOutcome) -> u64 {
    app.app.state().metrics.tip_notices(channel, outcome)
}

per_backend!(a_confirmed_tip_is_announced_once_in_its_room_even_when_the_webhook_is_replayed);
async fn a_confirmed_tip_is_announced_once_in_its_room_even_when_the_webhook_is_replayed(
    backend: Backend,
) {
    let mut shard = shard().await;
    let app = tips_app(&backend, &shard).await;
    let cast = stage(&app, "paid").await;
    let reference = tip(
        &app,
        &cast.viewer_session,
        json!({"amount_minor": 2_500, "currency": "USD", "message": "  great\n\tshow! "}),
    )
    .await;

    confirmed(&app, &reference, "7001", 1).await;
    let command = shard.next_command().await;
    assert_eq!(
        command,
        json!({"id": format!("tip-{reference}"), "type": "announce", "room": "livealex2026",
               "message": "VIEWER tipped 25.00 USD: great show!", "display_name": "Tips"})
    );

    // ePayco sends the same confirmation again: applied once, announced once.
    confirmed(&app, &reference, "7001", 1).await;
    assert!(shard
        .announcements_within(Duration::from_millis(500))
        .await
        .is_empty());
    assert_eq!(
        tip_notices(&app, TipChannel::Jitsi, TipNoticeOutcome::Queued),
        1
    );

    // The payment's change delivered again (delivery is at least once) sends the same
    // command id, which a shard runs once; delivered after the delivery window, nothing.
    let notice = app
        .app
        .state()
        .store
        .find_tip_notice(&reference)
        .await
        .unwrap()
        .unwrap();
    let again = roomkey::domain::Change::PaymentApplied {
        payment_id: reference.clone(),
        user_id: cast.viewer_id.clone(),
        state: "accepted".into(),
        granted: None,
        revoked: None,
        tip: Some(Box::new(roomkey::domain::TipNotice {
            confirmed_at: app.clock_now(),
            ..notice
        })),
    };
    let live = app.app.state().live.clone();
    roomkey::changes::Subscriber::on_change(live.as_ref(), &again)
        .await
        .unwrap();
    assert_eq!(shard.next_command().await, command);
    app.clock.advance(roomkey::live::DELIVERY_WINDOW_SECS);
    roomkey::changes::Subscriber::on_change(live.as_ref(), &again)
        .await
        .unwrap();
    assert!(shard
        .announcements_within(Duration::from_millis(500))
        .await
        .is_empty());
    // (The worker may also have taken the stored change again once the clock moved past
    // the writer's hold: skipped as well.)
    assert!(tip_notices(&app, TipChannel::Jitsi, TipNoticeOutcome::Skipped) >= 1);

    let metrics = app.app.state().metrics.render();
    assert!(
        metrics.contains("roomkey_tip_notices_total{channel=\"jitsi\",outcome=\"queued\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("roomkey_live_commands_total{command=\"announce\",outcome=\"delivered\"} 2"),
        "{metrics}"
    );
}

per_backend!(a_refunded_or_unconfirmed_tip_is_not_announced);
async fn a_refunded_or_unconfirmed_tip_is_not_announced(backend: Backend) {
    let mut shard = shard().await;
    let app = tips_app(&backend, &shard).await;
    let cast = stage(&app, "paid").await;

    // Refunded before it was ever confirmed: nothing to show.
    let early = tip(
        &app,
        &cast.viewer_session,
        json!({"amount_minor": 2_500, "currency": "USD"}),
    )
    .await;
    confirmed(&app, &early, "7101", 6).await;
    assert!(shard
        .announcements_within(Duration::from_millis(500))
        .await
        .is_empty());

    // Confirmed, then refunded: the room saw the tip once, and hears nothing of the refund.
    let late = tip(
        &app,
        &cast.viewer_session,
        json!({"amount_minor": 2_500, "currency": "USD"}),
    )
    .await;
    confirmed(&app, &late, "7102", 1).await;
    confirmed(&app, &late, "7102", 6).await;
    let seen = shard.announcements_within(Duration::from_millis(500)).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["message"], "VIEWER tipped 25.00 USD");
    assert_eq!(
        tip_notices(&app, TipChannel::Jitsi, TipNoticeOutcome::Queued),
        1
    );
}

per_backend!(a_tip_may_stay_anonymous_and_its_message_is_bounded);
async fn a_tip_may_stay_anonymous_and_its_message_is_bounded(backend: Backend) {
    let mut shard = shard().await;
    let app = tips_app(&backend, &shard).await;
    let cast = stage(&app, "paid").await;

    let too_long = app
        .call(
            Method::POST,
            "/api/rooms/livealex2026/tip",
            Some(&cast.viewer_session),
            Some(json!({"amount_minor": 2_500, "currency": "USD", "message": "x".repeat(201)})),
        )
        .await;
    assert_eq!(
        too_long.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{too_long:?}"
    );
    assert_eq!(too_long.body["error"]["field"], "message", "{too_long:?}");

    let reference = tip(
        &app,
        &cast.viewer_session,
        json!({"amount_minor": 2_500, "currency": "USD", "message": "é".repeat(200), "anonymous": true}),
    )
    .await;
    confirmed(&app, &reference, "7201", 1).await;
    let seen = shard.announcements_within(Duration::from_millis(500)).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0]["message"],
        format!("Someone tipped 25.00 USD: {}", "é".repeat(200))
    );
}

/// Delivers the Matrix outbox until it is empty.
async fn settle(app: &TestApp) {
    let matrix = &app.app.state().matrix;
    let started = Instant::now();
    while matrix.pending().await.unwrap() > 0 {
        if matrix.try_once().await.unwrap() == 0 {
            app.clock.advance(1);
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the Matrix outbox did not drain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `(msgtype, body)` of every message the bot can read back in `room`, newest first.
async fn messages(synapse: &Synapse, room: &str) -> Vec<(String, String)> {
    let bot = format!("@roomkey:{SERVER_NAME}");
    let path = format!(
        "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50&user_id={}",
        crate::synapse::enc(room),
        crate::synapse::enc(&bot)
    );
    let body = synapse.ok("GET", &path, None).await;
    body["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .map(|e| {
            (
                e["content"]["msgtype"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e["content"]["body"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

per_backend!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_confirmed_tip_is_one_notice_in_the_show_chat
);
async fn a_confirmed_tip_is_one_notice_in_the_show_chat(backend: Backend) {
    let Some(synapse) = Synapse::start("a_confirmed_tip_is_one_notice_in_the_show_chat").await
    else {
        return;
    };
    let url = synapse.url();
    let app = payments_app_with(&backend, false, move |c| {
        c.matrix.homeserver_url = url;
        c.matrix.server_name = SERVER_NAME.into();
        c.matrix.as_token = Secret::new(AS_TOKEN);
        c.matrix.hs_token = Secret::new(HS_TOKEN);
        c.matrix.reconcile_secs = 86_400;
    })
    .await;
    let cast = stage(&app, "paid").await;
    settle(&app).await;
    let room = synapse
        .resolve(&format!("#livealex2026:{SERVER_NAME}"))
        .await
        .expect("the show's chat exists");

    let reference = tip(
        &app,
        &cast.viewer_session,
        json!({"amount_minor": 2_500, "currency": "USD", "message": "encore!"}),
    )
    .await;
    confirmed(&app, &reference, "7301", 1).await;
    settle(&app).await;
    // The change delivered a second time (delivery is at least once) queues the notice
    // again; the homeserver keeps one message for its transaction id.
    let again = roomkey::domain::Change::PaymentApplied {
        payment_id: reference.clone(),
        user_id: cast.viewer_id.clone(),
        state: "accepted".into(),
        granted: None,
        revoked: None,
        tip: app
            .app
            .state()
            .store
            .find_tip_notice(&reference)
            .await
            .unwrap()
            .map(Box::new),
    };
    roomkey::changes::Subscriber::on_change(app.app.state().matrix.as_ref(), &again)
        .await
        .unwrap();
    settle(&app).await;

    let notices: Vec<_> = messages(&synapse, &room)
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "m.notice")
        .collect();
    assert_eq!(
        notices,
        [(
            "m.notice".to_owned(),
            "VIEWER tipped 25.00 USD: encore!".to_owned()
        )]
    );
    assert_eq!(
        tip_notices(&app, TipChannel::Matrix, TipNoticeOutcome::Queued),
        2
    );
}
