//! Key rotation as Prosody experiences it.

use axum::http::StatusCode;
use roomkey::config::SigningMode;

use crate::helpers::*;

#[tokio::test]
async fn a_rotated_key_is_served_before_it_signs_and_the_old_one_until_its_tokens_expire() {
    let app = spawn_app_with(&Backend::sqlite(), signing(SigningMode::Rs256)).await;
    let cast = stage(&app, "free").await;
    let kid_of = |reply: &Reply| {
        decode_jwt(reply.body["jwt"].as_str().unwrap()).0["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = kid_of(&app.token(&cast.room, &cast.viewer_session).await);

    let second = app.app.keyring().rotate(60).unwrap();
    let jwks = app.get("/.well-known/jwks.json", None).await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&first.as_str()) && kids.contains(&second.as_str()),
        "{kids:?}"
    );
    let file = roomkey::tokens::keys::key_file_name(&second);
    assert_eq!(
        app.get(&format!("/jitsi/keys/{file}"), None).await.status,
        StatusCode::OK,
        "published before use"
    );
    app.clock.advance(301);
    assert_eq!(
        kid_of(&app.token(&cast.room, &cast.viewer_session).await),
        first,
        "not signing yet"
    );

    app.clock.advance(60);
    app.app.keyring().reload().unwrap();
    let reply = app.token(&cast.room, &cast.viewer_session).await;
    assert_eq!(kid_of(&reply), second);
    let old = roomkey::tokens::keys::key_file_name(&first);
    assert_eq!(
        app.get(&format!("/jitsi/keys/{old}"), None).await.status,
        StatusCode::OK,
        "old tokens still verify"
    );

    app.clock.advance(600 + 300);
    app.app.keyring().reload().unwrap();
    assert_eq!(
        app.get(&format!("/jitsi/keys/{old}"), None).await.status,
        StatusCode::NOT_FOUND,
        "retired after the last token expired"
    );
    app.shutdown().await;
}
