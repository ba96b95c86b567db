//! Sessions that end: sign out, sign out everywhere, a password change, an admin's
//! revocation and a global ban, each refused on every instance from the next request.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn login(app: &TestApp, handle: &str, password: &str) -> Reply {
    app.post(
        "/api/auth/login",
        None,
        json!({"login": handle, "password": password}),
    )
    .await
}

/// `GET /api/me` with `session`, on `app` and (with Redis, which several instances need)
/// on a second instance.
async fn me_status(app: &TestApp, sibling: Option<&TestApp>, session: &str) -> Vec<StatusCode> {
    let mut statuses = vec![app.get("/api/me", Some(session)).await.status];
    if let Some(sibling) = sibling {
        statuses.push(sibling.get("/api/me", Some(session)).await.status);
    }
    statuses
}

async fn sibling_if_shared(app: &TestApp) -> Option<TestApp> {
    if app.backend.has_redis() {
        Some(app.sibling().await)
    } else {
        None
    }
}

fn all(statuses: &[StatusCode], expected: StatusCode) -> bool {
    statuses.iter().all(|s| *s == expected)
}

per_backend!(signing_out_ends_that_session_and_no_other);
async fn signing_out_ends_that_session_and_no_other(backend: Backend) {
    let app = spawn_app(&backend).await;
    let sibling = sibling_if_shared(&app).await;
    let (_, first) = app.register("viewer").await;
    let second = sign_in(&app, "viewer").await;
    // both instances have the user's facts cached before the sign-out
    assert!(all(
        &me_status(&app, sibling.as_ref(), &first).await,
        StatusCode::OK
    ));

    let reply = app
        .call(
            axum::http::Method::POST,
            "/api/auth/logout",
            Some(&first),
            None,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::NO_CONTENT,
        "{}: {reply:?}",
        backend.label
    );

    let ended = me_status(&app, sibling.as_ref(), &first).await;
    assert!(
        all(&ended, StatusCode::UNAUTHORIZED),
        "{}: {ended:?}",
        backend.label
    );
    let reply = app.get("/api/me", Some(&first)).await;
    assert_eq!(reply.body["error"]["code"], "unauthenticated");
    assert!(
        all(
            &me_status(&app, sibling.as_ref(), &second).await,
            StatusCode::OK
        ),
        "{}: the other session stands",
        backend.label
    );
    // signing out again with the ended session is refused, not an error
    let again = app
        .call(
            axum::http::Method::POST,
            "/api/auth/logout",
            Some(&first),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    if let Some(sibling) = sibling {
        sibling.shutdown().await;
    }
    app.shutdown().await;
}

per_backend!(signing_out_everywhere_ends_every_session_and_a_new_sign_in_works);
async fn signing_out_everywhere_ends_every_session_and_a_new_sign_in_works(backend: Backend) {
    let app = spawn_app(&backend).await;
    let sibling = sibling_if_shared(&app).await;
    let (_, first) = app.register("viewer").await;
    let second = sign_in(&app, "viewer").await;
    assert!(all(
        &me_status(&app, sibling.as_ref(), &second).await,
        StatusCode::OK
    ));

    let reply = app
        .call(
            axum::http::Method::POST,
            "/api/auth/logout-all",
            Some(&first),
            None,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::NO_CONTENT,
        "{}: {reply:?}",
        backend.label
    );
    for session in [&first, &second] {
        let statuses = me_status(&app, sibling.as_ref(), session).await;
        assert!(
            all(&statuses, StatusCode::UNAUTHORIZED),
            "{}: {statuses:?}",
            backend.label
        );
    }
    let fresh = sign_in(&app, "viewer").await;
    assert!(all(
        &me_status(&app, sibling.as_ref(), &fresh).await,
        StatusCode::OK
    ));
    if let Some(sibling) = sibling {
        sibling.shutdown().await;
    }
    app.shutdown().await;
}

per_backend!(a_password_change_ends_the_other_sessions_and_hands_out_a_fresh_one);
async fn a_password_change_ends_the_other_sessions_and_hands_out_a_fresh_one(backend: Backend) {
    let app = spawn_app(&backend).await;
    let (_, first) = app.register("viewer").await;
    let second = sign_in(&app, "viewer").await;

    let wrong = app
        .post(
            "/api/auth/password",
            Some(&first),
            json!({"current_password": "not it at all", "new_password": "a new long passphrase"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{wrong:?}");
    assert_eq!(wrong.body["error"]["code"], "invalid_credentials");
    let short = app
        .post(
            "/api/auth/password",
            Some(&first),
            json!({"current_password": "correct horse battery", "new_password": "short"}),
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get("/api/me", Some(&second)).await.status,
        StatusCode::OK
    );

    let changed = app
        .post(
            "/api/auth/password",
            Some(&first),
            json!({"current_password": "correct horse battery", "new_password": "a new long passphrase"}),
        )
        .await;
    assert_eq!(
        changed.status,
        StatusCode::OK,
        "{}: {changed:?}",
        backend.label
    );
    let fresh = changed.body["session_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/api/me", Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/me", Some(&second)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/me", Some(&fresh)).await.status,
        StatusCode::OK
    );

    assert_eq!(
        login(&app, "viewer", "correct horse battery").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "viewer", "a new long passphrase").await.status,
        StatusCode::OK
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_service_key_cannot_sign_a_session_out_or_change_a_password_but_can_end_all() {
    let app = spawn_app(&Backend::sqlite()).await;
    let (id, session) = app.register("viewer").await;
    let as_service = |path: &'static str, body: Option<serde_json::Value>| {
        let mut request = axum::http::Request::post(path)
            .header("authorization", format!("Bearer {SERVICE_KEY}"))
            .header("x-roomkey-user", id.as_str());
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        request
            .body(axum::body::Body::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            ))
            .unwrap()
    };
    let reply = app.send(as_service("/api/auth/logout", None)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    let reply = app
        .send(as_service(
            "/api/auth/password",
            Some(json!({"current_password": "correct horse battery", "new_password": "a new long passphrase"})),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert_eq!(
        app.get("/api/me", Some(&session)).await.status,
        StatusCode::OK
    );

    let reply = app.send(as_service("/api/auth/logout-all", None)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    assert_eq!(
        app.get("/api/me", Some(&session)).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.shutdown().await;
}

per_backend!(an_admin_ends_a_users_sessions_and_the_audit_trail_says_so);
async fn an_admin_ends_a_users_sessions_and_the_audit_trail_says_so(backend: Backend) {
    let app = spawn_app(&backend).await;
    let (id, session) = app.register("viewer").await;
    let (_, other) = app.register("bystander").await;
    let reply = app
        .admin(
            &format!("/api/admin/users/{id}/sessions/end"),
            json!({"reason": "reported stolen phone"}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::NO_CONTENT,
        "{}: {reply:?}",
        backend.label
    );
    assert_eq!(
        app.get("/api/me", Some(&session)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/me", Some(&other)).await.status,
        StatusCode::OK
    );

    let audit = app
        .get(
            &format!("/api/moderation/audit?user_id={id}"),
            Some(ADMIN_KEY),
        )
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{audit:?}");
    let entry = &audit.body["entries"][0];
    assert_eq!(entry["action"], "end_sessions", "{audit:?}");
    assert_eq!(entry["reason"], "reported stolen phone");

    let unknown = app
        .admin("/api/admin/users/nobody/sessions/end", json!({}))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let (_, viewer_session) = app.register("notadmin").await;
    let refused = app
        .post(
            &format!("/api/admin/users/{id}/sessions/end"),
            Some(&viewer_session),
            json!({}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    app.shutdown().await;
}

per_backend!(a_global_ban_ends_the_users_sessions_and_lifting_it_revives_none);
async fn a_global_ban_ends_the_users_sessions_and_lifting_it_revives_none(backend: Backend) {
    let app = spawn_app(&backend).await;
    let sibling = sibling_if_shared(&app).await;
    let cast = stage(&app, "free").await;
    assert!(all(
        &me_status(&app, sibling.as_ref(), &cast.viewer_session).await,
        StatusCode::OK
    ));

    let ban = app
        .admin(
            "/api/admin/bans",
            json!({"user_id": cast.viewer_id, "scope": {"kind": "global"}, "reason": "fraud"}),
        )
        .await;
    assert_eq!(
        ban.status,
        StatusCode::CREATED,
        "{}: {ban:?}",
        backend.label
    );
    let statuses = me_status(&app, sibling.as_ref(), &cast.viewer_session).await;
    assert!(
        all(&statuses, StatusCode::UNAUTHORIZED),
        "{}: {statuses:?}",
        backend.label
    );
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::UNAUTHORIZED
    );
    // signing in again says why the room stays closed
    let again = sign_in(&app, "viewer").await;
    let refused = app.token(&cast.room, &again).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert_eq!(refused.body["error"]["code"], "banned");

    let lift = app
        .admin(
            &format!("/api/admin/bans/{}/lift", ban.body["id"].as_str().unwrap()),
            json!({"reason": "appeal upheld"}),
        )
        .await;
    assert_eq!(lift.status, StatusCode::OK, "{lift:?}");
    assert_eq!(
        app.get("/api/me", Some(&cast.viewer_session)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.token(&cast.room, &again).await.status, StatusCode::OK);
    if let Some(sibling) = sibling {
        sibling.shutdown().await;
    }
    app.shutdown().await;
}

/// A room ban is not a sign-out.
#[tokio::test]
async fn a_room_ban_leaves_sessions_alone() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "free").await;
    let ban = app
        .admin(
            "/api/admin/bans",
            json!({"user_id": cast.viewer_id, "scope": {"kind": "room", "room": cast.room}, "reason": "spam"}),
        )
        .await;
    assert_eq!(ban.status, StatusCode::CREATED, "{ban:?}");
    assert_eq!(
        app.get("/api/me", Some(&cast.viewer_session)).await.status,
        StatusCode::OK
    );
    app.shutdown().await;
}
