//! What a service key may do. A trusted platform backend acts for a user in what the user
//! does as a member of the platform; it never borrows a staff role, even naming an admin.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

async fn as_service(
    app: &TestApp,
    user: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {SERVICE_KEY}"))
        .header("x-roomkey-user", user);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body
        .map(|b| Body::from(b.to_string()))
        .unwrap_or_else(Body::empty);
    app.send(request.body(body).unwrap()).await
}

per_backend!(a_service_key_naming_staff_gets_no_staff_power);
async fn a_service_key_naming_staff_gets_no_staff_power(backend: Backend) {
    let app = spawn_app(&backend).await;
    let cast = stage(&app, "free").await;
    let (admin_id, admin_session) = app.user_with_role("root", "admin").await;
    let (moderator_id, _) = app.user_with_role("mod", "moderator").await;
    let (applicant, applicant_session) = app.register("hopeful").await;
    let applied = app
        .post(
            "/api/performers/verification",
            Some(&applicant_session),
            json!({}),
        )
        .await;
    assert_eq!(applied.status, StatusCode::CREATED, "{applied:?}");

    for staff in [&admin_id, &moderator_id] {
        let refusals = [
            (
                Method::POST,
                "/api/moderation/ban".to_owned(),
                Some(
                    json!({"user_id": cast.viewer_id, "scope": {"kind": "global"}, "reason": "spam"}),
                ),
            ),
            (
                Method::GET,
                format!("/api/performers/{}/earnings", cast.performer_id),
                None,
            ),
            (
                Method::GET,
                format!("/api/performers/{}/stats", cast.performer_id),
                None,
            ),
            (
                Method::POST,
                format!("/api/admin/performers/{applicant}/verification/approve"),
                Some(json!({"note": "ok"})),
            ),
            (
                Method::GET,
                "/api/admin/performers/applications".to_owned(),
                None,
            ),
            (Method::GET, "/api/moderation/audit".to_owned(), None),
            (
                Method::POST,
                format!("/api/rooms/{}/kick", cast.room),
                Some(json!({"user_id": cast.viewer_id, "reason": "spam"})),
            ),
            (
                Method::POST,
                format!("/api/rooms/{}/end", cast.room),
                Some(json!({"reason": "over"})),
            ),
            (
                Method::POST,
                "/api/admin/users".to_owned(),
                Some(json!({"handle": "x1", "email": "x1@example.com"})),
            ),
        ];
        for (method, path, body) in refusals {
            let reply = as_service(&app, staff, method.clone(), &path, body).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{}: {method} {path} for {staff}: {reply:?}",
                backend.label
            );
        }
    }
    assert_eq!(
        app.token(&cast.room, &cast.viewer_session).await.status,
        StatusCode::OK,
        "{}: nobody was banned",
        backend.label
    );

    // the same powers through the admin's own session
    let reply = app
        .get(
            &format!("/api/performers/{}/earnings", cast.performer_id),
            Some(&admin_session),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");

    // what the admin does as a member still works through the key
    let me = as_service(&app, &admin_id, Method::GET, "/api/me", None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["role"], "admin");
    let token = as_service(
        &app,
        &admin_id,
        Method::POST,
        &format!("/api/rooms/{}/token", cast.room),
        None,
    )
    .await;
    assert_eq!(token.status, StatusCode::OK, "{token:?}");
    app.shutdown().await;
}

/// A performer's own business goes through the key: their earnings, their room.
#[tokio::test]
async fn a_service_key_acts_for_a_performer_in_their_own_room() {
    let app = spawn_app(&Backend::sqlite()).await;
    let cast = stage(&app, "free").await;
    let reply = as_service(
        &app,
        &cast.performer_id,
        Method::GET,
        &format!("/api/performers/{}/earnings", cast.performer_id),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let reply = as_service(
        &app,
        &cast.performer_id,
        Method::POST,
        &format!("/api/rooms/{}/kick", cast.room),
        Some(json!({"user_id": cast.viewer_id, "reason": "spam"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    app.shutdown().await;
}
