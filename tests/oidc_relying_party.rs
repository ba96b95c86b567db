//! roomkey as an OpenID Provider, judged by a relying party it did not write: Authlib (the
//! OpenID client library of Synapse's `oidc` extra) in `tests/oidc/relying_party.py`,
//! against the real binary over TCP, configured with nothing but the issuer.
//!
//! The same Python environment checks that the Synapse entry `roomkey oidc client` prints
//! is one the pinned Synapse accepts, mapping a user to the localpart roomkey provisions.
//!
//! Needs `SYNAPSE_PYTHON` (the Python of the environment `.ci/run` installs
//! `matrix-synapse[oidc]` into); skipped, loudly, without it.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher as _, SaltString};
use serde_json::json;

mod support;

use support::{free_port, http, require_or_skip, roomkey, serve};

const CLIENT_ID: &str = "relying-party";
const CLIENT_SECRET: &str = "relying-party-secret-0123456789abcdef";
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// The relying party's configuration in `dir`, with `issuer` as `http.public_url`.
fn write_config(dir: &Path, issuer: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default()
        .hash_password(CLIENT_SECRET.as_bytes(), &salt)
        .unwrap()
        .to_string();
    let config = dir.join("roomkey.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\npublic_url = \"{issuer}\"\n\n\
             [matrix]\nuser_prefix = \"pl_\"\n\n\
             [[oidc.clients]]\nid = \"{CLIENT_ID}\"\nsecret_hash = \"{hash}\"\n\
             redirect_uris = [\"{REDIRECT_URI}\"]\nfirst_party = true\n\
             backchannel_logout_uri = \"http://127.0.0.1:9/_synapse/client/oidc/backchannel_logout\"\n"
        ),
    )
    .unwrap();
    config.display().to_string()
}

#[test]
fn an_independent_relying_party_signs_in_validates_refreshes_and_sees_reuse_revoked() {
    let Some(python) = require_or_skip("SYNAPSE_PYTHON", "oidc_relying_party") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let config_path = write_config(dir.path(), &issuer);
    let listen = format!("127.0.0.1:{port}");
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

#[test]
fn synapse_accepts_the_printed_provider_and_maps_to_the_provisioned_localpart() {
    let Some(python) = require_or_skip("SYNAPSE_PYTHON", "oidc_synapse_snippet") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "https://id.example.com");
    let printed = roomkey(dir.path())
        .args(["--config", &config, "oidc", "client", CLIENT_ID])
        .output()
        .unwrap();
    assert!(printed.status.success(), "{printed:?}");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/synapse_snippet.py");
    let mut parse = Command::new(python)
        .args([script, "viewer1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    parse
        .stdin
        .take()
        .unwrap()
        .write_all(&printed.stdout)
        .unwrap();
    let parsed = parse.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&parsed.stdout);
    assert!(
        parsed.status.success(),
        "Synapse refused the entry:\n{}\n{}",
        String::from_utf8_lossy(&printed.stdout),
        String::from_utf8_lossy(&parsed.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        ["pl_viewer1", "oidc-relying-party True True always True"]
    );
}

#[test]
fn hash_secret_prints_a_hash_the_secret_verifies_against() {
    use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
    let dir = tempfile::tempdir().unwrap();
    let mut command = roomkey(dir.path())
        .args(["oidc", "hash-secret"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = command.stdin.take().unwrap();
    writeln!(stdin, "{CLIENT_SECRET}").unwrap();
    drop(stdin);
    let output = command.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    let hash = PasswordHash::new(printed.trim()).unwrap();
    argon2::Argon2::default()
        .verify_password(CLIENT_SECRET.as_bytes(), &hash)
        .expect("the secret verifies against the printed hash");
}
