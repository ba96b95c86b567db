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

#[tokio::test]
async fn every_moderation_action_is_in_the_trail_with_who_and_why() {
    for backend in backends() {
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
}
