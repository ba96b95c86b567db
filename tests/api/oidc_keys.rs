//! Rotating the ID-token key: the next key is published before it signs, and the one
//! before stays published, so a relying party holding either JWKS verifies every token.

use axum::http::StatusCode;
use roomkey::oidc::keys::{rotate, Rotation};
use serde_json::Value;

use crate::helpers::*;
use crate::oidc::*;

/// The kids the JWKS lists, in order.
async fn published(app: &TestApp) -> Vec<String> {
    let jwks = app.get("/oidc/jwks", None).await.body;
    let keys = jwks["keys"].as_array().unwrap().iter();
    keys.map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// An ID token's kid, after checking its signature against the key `jwks` lists under it.
fn verified_kid(jwks: &Value, token: &str) -> String {
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let key = keys.iter().find(|key| key["kid"] == kid.as_str());
    let key = key.unwrap_or_else(|| panic!("{kid} is not in {jwks}"));
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[CHAT]);
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &decoding, &validation).expect("verifies");
    kid
}

/// Long after any key file was written: a rotation step is never too soon.
const LATER: i64 = i64::MAX / 4;

per_backend!(a_rotated_key_is_published_before_it_signs_and_the_old_one_stays);
async fn a_rotated_key_is_published_before_it_signs_and_the_old_one_stays(backend: Backend) {
    let app = provider(&backend).await;
    let (_, session) = app.register("vera").await;
    let dir = app.keys_dir().join("oidc");
    let state = app.app.state();
    let oidc = &state.oidc;
    let before = field(
        &exchange(&app, &chat_code(&app, &session).await).await,
        "id_token",
    );
    let cached_jwks = app.get("/oidc/jwks", None).await.body;
    let first = verified_kid(&cached_jwks, &before);
    assert_eq!(published(&app).await, vec![first.clone()]);

    let Rotation::Staged { kid: next } = rotate(&dir, LATER, 0).unwrap() else {
        panic!("the first step stages");
    };
    assert!(oidc.reload_keys().unwrap());
    assert_eq!(published(&app).await, [first.clone(), next.clone()]);
    let staged = field(
        &exchange(&app, &chat_code(&app, &session).await).await,
        "id_token",
    );
    assert_eq!(
        verified_kid(&cached_jwks, &staged),
        first,
        "not signing yet"
    );
    // A relying party that fetched the JWKS while the key was staged…
    let staged_jwks = app.get("/oidc/jwks", None).await.body;

    let promoted = rotate(&dir, LATER, 0).unwrap();
    assert_eq!(
        promoted,
        Rotation::Promoted {
            kid: next.clone(),
            previous: first.clone()
        }
    );
    assert!(oidc.reload_keys().unwrap());
    assert_eq!(published(&app).await, [next.clone(), first.clone()]);
    let after = field(
        &exchange(&app, &chat_code(&app, &session).await).await,
        "id_token",
    );
    // …verifies what the new key signs, and the current JWKS still verifies the old tokens.
    assert_eq!(verified_kid(&staged_jwks, &after), next);
    let current_jwks = app.get("/oidc/jwks", None).await.body;
    assert_eq!(verified_kid(&current_jwks, &before), first);

    // An ID token under the previous key still names its user at logout.
    let mut browser = Browser::signed_in(&app, &session);
    let hint = encode(&[("id_token_hint", &before)]);
    let reply = browser.get(&format!("/oidc/logout?{hint}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(
        !html(&reply).contains("action=\"/oidc/logout\""),
        "not asked"
    );
    app.shutdown().await;
}
