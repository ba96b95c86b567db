//! The Mastodon link: a user who signs in to Mastodon through roomkey has their Mastodon
//! account recorded, and a global ban acts on exactly that account, not on whichever one
//! bears their handle.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::mastodon_mock::{MastodonMock, ANNOUNCER_TOKEN, MODERATOR_TOKEN};
use crate::oidc::*;

per_backend!(a_ban_acts_on_the_account_the_users_sign_in_to_mastodon_landed_in);
async fn a_ban_acts_on_the_account_the_users_sign_in_to_mastodon_landed_in(backend: Backend) {
    // `wendy` was taken before she signed in, so Mastodon named her account `wendy_1`; it
    // has the address roomkey gave it. `xena` never signed in through roomkey.
    let Some(mastodon) = MastodonMock::start_with_emails(
        "a_ban_acts_on_the_account_the_users_sign_in_to_mastodon_landed_in",
        &[
            ("wendy", Some("not-wendy@example.net")),
            ("wendy_1", Some("wendy@example.com")),
            ("xena", None),
            ("xena_2", Some("xena@example.com")),
        ],
    )
    .await
    else {
        return;
    };
    let url = mastodon.url();
    // The chat client plays Mastodon's part here.
    let app = provider_with(&backend, move |c| {
        c.mastodon.base_url = url;
        c.mastodon.access_token = roomkey::config::Secret::new(ANNOUNCER_TOKEN);
        c.mastodon.admin_token = roomkey::config::Secret::new(MODERATOR_TOKEN);
        c.mastodon.oidc_client = CHAT.into();
    })
    .await;
    let state = app.app.state();
    let worker = state.mastodon.clone();
    let settle = || async {
        for _ in 0..200 {
            worker.try_once().await.unwrap();
            if worker.pending().await.unwrap() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("Mastodon calls still pending");
    };
    let (wendy, session) = app.register("wendy").await;
    let tokens = exchange(&app, &chat_code(&app, &session).await).await;
    assert_eq!(tokens.status, StatusCode::OK, "{tokens:?}");
    settle().await;
    let wendy_1 = mastodon.admin_account("wendy_1").await["id"].clone();
    let linked = state.store.find_mastodon_account(&wendy).await.unwrap();
    assert_eq!(linked.as_deref(), wendy_1.as_str());

    let (_, moderator) = app.user_with_role("mod", "moderator").await;
    let ban = |user: String| {
        let moderator = moderator.clone();
        let app = &app;
        async move {
            let body = json!({"user_id": user, "scope": {"kind": "global"}, "reason": "abuse"});
            let reply = app
                .post("/api/moderation/ban", Some(&moderator), body)
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
            reply.body["id"].as_str().unwrap().to_owned()
        }
    };
    let ban_id = ban(wendy.clone()).await;
    settle().await;
    assert_eq!(mastodon.admin_account("wendy_1").await["silenced"], true);
    assert_eq!(
        mastodon.admin_account("wendy").await["silenced"],
        false,
        "the account bearing the handle is someone else's"
    );
    let reply = app
        .post(
            "/api/moderation/unban",
            Some(&moderator),
            json!({"ban_id": ban_id, "reason": "appeal"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    settle().await;
    assert_eq!(mastodon.admin_account("wendy_1").await["silenced"], false);

    // No sign-in recorded: the ban finds the account by the address, and links it.
    let (xena, _) = app.register("xena").await;
    ban(xena.clone()).await;
    settle().await;
    assert_eq!(mastodon.admin_account("xena_2").await["silenced"], true);
    assert_eq!(mastodon.admin_account("xena").await["silenced"], false);
    let linked = state.store.find_mastodon_account(&xena).await.unwrap();
    assert_eq!(
        linked.as_deref(),
        mastodon.admin_account("xena_2").await["id"].as_str()
    );
    app.shutdown().await;
}
