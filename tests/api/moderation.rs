//! The moderation audit trail: every moderation action, by whom and why, filterable and
//! paged, readable by the people who moderate.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn audit(app: &TestApp, query: &str, bearer: &str) -> Reply {
    app.get(&format!("/api/moderation/audit{query}"), Some(bearer))
        .await
}

fn actions(reply: &Reply) -> Vec<&str> {
    reply.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

per_backend!(every_moderation_action_is_in_the_trail_with_who_and_why);
async fn every_moderation_action_is_in_the_trail_with_who_and_why(backend: Backend) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "paid").await;
    let (moderator_id, moderator_session) = app.user_with_role("mod", "moderator").await;
    let comp = app
        .grant(
            &cast.viewer_id,
            json!({"kind": "room", "room": "livealex2026"}),
            None,
        )
        .await;
    let revoke = app
        .admin(
            &format!(
                "/api/admin/entitlements/{}/revoke",
                comp["id"].as_str().unwrap()
            ),
            json!({"reason": "comp given by mistake"}),
        )
        .await;
    assert_eq!(revoke.status, StatusCode::OK);
    let ban = app
        .post(
            "/api/rooms/livealex2026/ban",
            Some(&cast.performer_session),
            json!({"user_id": cast.viewer_id, "reason": "spam in chat"}),
        )
        .await;
    assert_eq!(ban.status, StatusCode::CREATED);
    let lift = app
        .post(
            &format!("/api/admin/bans/{}/lift", ban.body["id"].as_str().unwrap()),
            Some(&moderator_session),
            json!({"reason": "apologised"}),
        )
        .await;
    // lifting is an admin action; moderators read the trail but do not lift
    assert_eq!(lift.status, StatusCode::FORBIDDEN, "{lift:?}");
    app.admin(
        &format!("/api/admin/bans/{}/lift", ban.body["id"].as_str().unwrap()),
        json!({"reason": "apologised"}),
    )
    .await;
    let kick = app
        .post(
            "/api/rooms/livealex2026/kick",
            Some(&moderator_session),
            json!({"user_id": cast.viewer_id, "reason": "shouting"}),
        )
        .await;
    assert_eq!(kick.status, StatusCode::ACCEPTED);
    let end = app
        .post(
            "/api/rooms/livealex2026/end",
            Some(&cast.performer_session),
            json!({"reason": "Thanks for coming"}),
        )
        .await;
    assert_eq!(end.status, StatusCode::OK);

    let all = audit(&app, "", ADMIN_KEY).await;
    assert_eq!(all.status, StatusCode::OK, "{}: {all:?}", backend.label);
    assert_eq!(
        actions(&all),
        ["end_room", "kick", "unban", "ban", "revoke", "grant", "set_role", "set_role"],
        "newest first: {}",
        all.body
    );
    let ban_entry = &audit(&app, "?action=ban", &moderator_session).await.body["entries"][0];
    assert_eq!(ban_entry["actor"], cast.performer_id.as_str());
    assert_eq!(ban_entry["user_id"], cast.viewer_id.as_str());
    assert_eq!(ban_entry["room"], "livealex2026");
    assert_eq!(ban_entry["reason"], "spam in chat");
    assert_eq!(ban_entry["details"]["scope"]["kind"], "room");
    let kick_entry = &audit(&app, "?action=kick", ADMIN_KEY).await.body["entries"][0];
    assert_eq!(kick_entry["actor"], moderator_id.as_str());
    let revoke_entry = &audit(&app, "?action=revoke", ADMIN_KEY).await.body["entries"][0];
    assert_eq!(
        (
            &revoke_entry["actor"],
            &revoke_entry["reason"],
            &revoke_entry["room"]
        ),
        (
            &json!("admin-key"),
            &json!("comp given by mistake"),
            &json!("livealex2026")
        )
    );

    // filters narrow, pages follow one another without overlap
    let viewer_only = audit(&app, &format!("?user_id={}", cast.viewer_id), ADMIN_KEY).await;
    assert_eq!(
        actions(&viewer_only),
        ["kick", "unban", "ban", "revoke", "grant"]
    );
    let first = audit(&app, "?limit=3", ADMIN_KEY).await;
    assert_eq!(actions(&first), ["end_room", "kick", "unban"]);
    let before = first.body["next_before"].as_str().unwrap();
    let second = audit(&app, &format!("?limit=3&before={before}"), ADMIN_KEY).await;
    assert_eq!(actions(&second), ["ban", "revoke", "grant"]);

    // a performer reads their own room's entries, nobody else's; viewers nothing
    let own = audit(&app, "?room=livealex2026", &cast.performer_session).await;
    assert_eq!(
        actions(&own),
        ["end_room", "kick", "unban", "ban", "revoke", "grant"]
    );
    let everything = audit(&app, "", &cast.performer_session).await;
    assert_eq!(everything.status, StatusCode::FORBIDDEN);
    let viewer = audit(&app, "?room=livealex2026", &cast.viewer_session).await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    for bad in ["?action=smite", "?limit=0", "?limit=201", "?colour=red"] {
        let reply = audit(&app, bad, ADMIN_KEY).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {reply:?}"
        );
        assert_eq!(
            reply.body["error"]["code"],
            Value::from("validation_failed")
        );
    }
    app.shutdown().await;
}

per_backend!(moderators_ban_anywhere_performers_only_in_their_own_rooms_viewers_never);
async fn moderators_ban_anywhere_performers_only_in_their_own_rooms_viewers_never(
    backend: Backend,
) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "paid").await;
    let (other_performer, other_session) = app.user_with_role("bea", "performer").await;
    let (moderator_id, moderator) = app.user_with_role("mod", "moderator").await;
    let (troll, _) = app.register("troll").await;
    let ban = |scope: Value| json!({"user_id": troll, "scope": scope, "reason": "spam", "duration_secs": 3600});

    // Viewers never; a performer not in someone else's room, nor platform-wide.
    let room_scope = json!({"kind": "room", "room": cast.room});
    let reply = app
        .post(
            "/api/moderation/ban",
            Some(&cast.viewer_session),
            ban(room_scope.clone()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    let reply = app
        .post(
            "/api/moderation/ban",
            Some(&other_session),
            ban(room_scope.clone()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    let reply = app
        .post(
            "/api/moderation/ban",
            Some(&cast.performer_session),
            ban(json!({"kind": "global"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    let reply = app
        .post(
            "/api/moderation/ban",
            Some(&cast.performer_session),
            ban(json!({"kind": "performer", "performer_id": other_performer})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    // …nor against staff.
    let mut against_staff = ban(room_scope.clone());
    against_staff["user_id"] = json!(moderator_id);
    let reply = app
        .post(
            "/api/moderation/ban",
            Some(&cast.performer_session),
            against_staff,
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");

    // The performer bans from their room and from all their rooms; for an hour.
    let reply = app
        .post(
            "/api/moderation/ban",
            Some(&cast.performer_session),
            ban(room_scope),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(
        reply.body["until"],
        roomkey::clock::rfc3339(app.clock_now() + 3600)
    );
    let reply = app
        .post(
            "/api/moderation/ban",
            Some(&cast.performer_session),
            ban(json!({"kind": "performer", "performer_id": cast.performer_id})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    // Moderators anywhere; until and duration together are refused.
    let mut both = ban(json!({"kind": "global"}));
    both["until"] = json!("2030-01-01T00:00:00Z");
    let reply = app
        .post("/api/moderation/ban", Some(&moderator), both)
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    let reply = app
        .post(
            "/api/moderation/ban",
            Some(&moderator),
            ban(json!({"kind": "global"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let global = reply.body["id"].as_str().unwrap().to_owned();

    // Unban is for staff.
    let lift = json!({"ban_id": global, "reason": "appeal accepted"});
    let reply = app
        .post(
            "/api/moderation/unban",
            Some(&cast.performer_session),
            lift.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    let reply = app
        .post("/api/moderation/unban", Some(&moderator), lift)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["lifted"]["reason"], "appeal accepted");

    let trail = audit(&app, &format!("?user_id={troll}"), &moderator).await;
    assert_eq!(actions(&trail), ["unban", "ban", "ban", "ban"], "{trail:?}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_global_ban_limits_the_mastodon_account_and_its_lift_restores_it() {
    use crate::mastodon_mock::{MastodonMock, ANNOUNCER_TOKEN, MODERATOR_TOKEN};
    let Some(mastodon) = MastodonMock::start(
        "a_global_ban_limits_the_mastodon_account_and_its_lift_restores_it",
        &["troll", "trolley"],
    )
    .await
    else {
        return;
    };
    let url = mastodon.url();
    let app = spawn_app_with(&Backend::sqlite(), move |c| {
        c.mastodon.base_url = url;
        c.mastodon.access_token = roomkey::config::Secret::new(ANNOUNCER_TOKEN);
        c.mastodon.admin_token = roomkey::config::Secret::new(MODERATOR_TOKEN);
    })
    .await;
    let (troll, _) = app.register("troll").await;
    let (_, moderator) = app.user_with_role("mod", "moderator").await;
    let worker = app.app.state().mastodon.clone();
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

    // A room ban leaves the account alone.
    let cast_room = app
        .create_room(
            "quiet",
            &app.user_with_role("alex", "performer").await.0,
            "free",
        )
        .await;
    let reply = app
        .post("/api/moderation/ban", Some(&moderator), json!({"user_id": troll, "scope": {"kind": "room", "room": cast_room["name"]}, "reason": "spam"}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    settle().await;
    assert_eq!(mastodon.admin_account("troll").await["silenced"], false);

    let reply = app
        .post(
            "/api/moderation/ban",
            Some(&moderator),
            json!({"user_id": troll, "scope": {"kind": "global"}, "reason": "harassment"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let ban_id = reply.body["id"].as_str().unwrap().to_owned();
    settle().await;
    assert_eq!(mastodon.admin_account("troll").await["silenced"], true);
    // Only the exact username: `trolley` is someone else.
    assert_eq!(mastodon.admin_account("trolley").await["silenced"], false);

    let reply = app
        .post(
            "/api/moderation/unban",
            Some(&moderator),
            json!({"ban_id": ban_id, "reason": "appeal"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    settle().await;
    assert_eq!(mastodon.admin_account("troll").await["silenced"], false);
    app.shutdown().await;
}
