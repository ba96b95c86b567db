//! roomkey as an OpenID Provider, judged by a relying party it did not write: Authlib (the
//! OpenID client library of Synapse's `oidc` extra) in `tests/oidc/relying_party.py`,
//! against the real binary over TCP, configured with nothing but the issuer.
//!
//! Needs `SYNAPSE_PYTHON` (the Python of the environment `.ci/run` installs
//! `matrix-synapse[oidc]` into); skipped, loudly, without it.

use std::process::Command;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher as _, SaltString};
use serde_json::json;

mod support;

use support::{free_port, http, require_or_skip, serve};

const CLIENT_ID: &str = "relying-party";
const CLIENT_SECRET: &str = "relying-party-secret-0123456789abcdef";
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

#[test]
fn an_independent_relying_party_signs_in_validates_refreshes_and_sees_reuse_revoked() {
    let Some(python) = require_or_skip("SYNAPSE_PYTHON", "oidc_relying_party") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default()
        .hash_password(CLIENT_SECRET.as_bytes(), &salt)
        .unwrap()
        .to_string();
    let config = dir.path().join("roomkey.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\npublic_url = \"{issuer}\"\n\n\
             [[oidc.clients]]\nid = \"{CLIENT_ID}\"\nsecret_hash = \"{hash}\"\n\
             redirect_uris = [\"{REDIRECT_URI}\"]\nfirst_party = true\n"
        ),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{port}");
    let config_path = config.display().to_string();
    let server = serve(
        dir.path(),
        &[
            ("ROOMKEY_CONFIG", config_path.as_str()),
            ("ROOMKEY_HTTP__LISTEN", listen.as_str()),
        ],
    );
    let (status, body) = http(
        server.port,
        "POST",
        "/api/auth/register",
        None,
        Some(
            json!({"handle": "viewer1", "email": "viewer1@example.com", "password": "correct horse battery"}),
        ),
    );
    assert_eq!(status, 201, "{body}");

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/relying_party.py");
    let output = Command::new(python)
        .args([
            script,
            &issuer,
            CLIENT_ID,
            CLIENT_SECRET,
            REDIRECT_URI,
            "viewer1",
            "correct horse battery",
        ])
        .output()
        .expect("the relying party runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim() == "ok",
        "relying party failed:\n{stdout}\n{stderr}"
    );
}
