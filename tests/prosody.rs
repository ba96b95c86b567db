//! roomkey's tokens against a real, stock Prosody with jitsi-meet's token plugins, in both
//! signing modes: accepted for their room, refused for another room, refused once expired,
//! owner only for the room's performer.
//!
//! Needs Prosody with its Lua libraries (`tests/prosody/README.md`) and jitsi-meet's
//! plugins in `JITSI_PLUGINS_DIR`. Without Prosody the harness reports "skipped" (exit 77)
//! and the test is skipped (a `SKIPPED:` line; a failure under
//! `TEST_REQUIRE_ALL=1`). Without the plugins it is skipped too, but even under
//! `TEST_REQUIRE_ALL=1`: they are a jitsi-meet checkout that CI does not make yet.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::{http, serve, ADMIN_KEY};

const DOMAIN: &str = "meet.example.com";

/// The spawned server runs on the wall clock, so the test does too.
#[allow(
    clippy::disallowed_methods,
    reason = "the server under test reads the wall clock"
)]
fn wall_clock_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn run_harness(input: &Value) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.json");
    std::fs::write(&path, input.to_string()).unwrap();
    let output = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/prosody/verify_tokens.py"
        ))
        .arg(&path)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    match output.status.code() {
        Some(0) => Some(stdout),
        Some(77) => None,
        code => panic!(
            "Prosody disagreed ({code:?}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn check_mode(test: &str, mode: &str) {
    if std::env::var_os("JITSI_PLUGINS_DIR").is_none() {
        support::say_skipped(test, "JITSI_PLUGINS_DIR");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let server = serve(
        dir.path(),
        &[
            ("ROOMKEY_HTTP__LISTEN", &format!("127.0.0.1:{port}")),
            ("ROOMKEY_HTTP__PUBLIC_URL", &public_url),
            ("ROOMKEY_JITSI__SIGNING", mode),
            ("ROOMKEY_JITSI__SUBJECT", DOMAIN),
        ],
    );
    assert_eq!(server.port, port);
    let post = |path: &str, bearer: Option<&str>, body: Value| {
        http(port, "POST", path, bearer, Some(body)).1
    };

    let viewer = post(
        "/api/auth/register",
        None,
        json!({"handle": "viewer", "email": "v@example.com", "password": "correct horse battery"}),
    );
    let session = viewer["session_token"].as_str().unwrap().to_owned();
    let performer = post(
        "/api/auth/register",
        None,
        json!({"handle": "alex", "email": "a@example.com", "password": "correct horse battery"}),
    );
    let performer_id = performer["user"]["id"].as_str().unwrap();
    post(
        &format!("/api/admin/users/{performer_id}/role"),
        Some(ADMIN_KEY),
        json!({"role": "performer"}),
    );
    for (name, access) in [
        ("StandUp", "free"),
        ("backstage", "free"),
        ("encore", "invite_only"),
    ] {
        let room = post(
            "/api/admin/rooms",
            Some(ADMIN_KEY),
            json!({"name": name, "title": name, "owner_id": performer_id, "access": access}),
        );
        assert!(room.get("error").is_none(), "{room}");
    }
    let in_two_seconds = roomkey::clock::rfc3339(wall_clock_now() + 2);
    post(
        "/api/admin/entitlements",
        Some(ADMIN_KEY),
        json!({"user_id": viewer["user"]["id"], "scope": {"kind": "room", "room": "encore"}, "valid_until": in_two_seconds}),
    );

    let token = |room: &str, session: &str| {
        let reply = post(
            &format!("/api/rooms/{room}/token"),
            Some(session),
            json!({}),
        );
        reply["jwt"]
            .as_str()
            .unwrap_or_else(|| panic!("{reply}"))
            .to_owned()
    };
    let viewer_token = token("standup", &session);
    let performer_token = token("standup", performer["session_token"].as_str().unwrap());
    let backstage_token = token("backstage", &session);
    let expiring_token = token("encore", &session);
    std::thread::sleep(Duration::from_secs(3));

    let mut input = json!({
        "mode": mode,
        "app_id": "roomkey",
        "xmpp_domain": DOMAIN,
        "asap_accepted_audiences": ["jitsi"],
        "cases": [
            {"name": "viewer-member", "jwt": viewer_token, "room": "standup", "expect": "accept", "expect_affiliation": "member"},
            {"name": "performer-owner", "jwt": performer_token, "room": "standup", "expect": "accept", "expect_affiliation": "owner"},
            {"name": "other-room", "jwt": backstage_token, "room": "standup", "expect": "reject", "expect_stage": "join"},
            {"name": "expired", "jwt": expiring_token, "room": "encore", "expect": "reject", "expect_stage": "sasl"},
            {"name": "session-token", "jwt": session, "room": "standup", "expect": "reject", "expect_stage": "sasl"},
        ]
    });
    if mode == "hs256" {
        let secret =
            std::fs::read_to_string(dir.path().join("roomkey-data/keys/hs256.secret")).unwrap();
        input["app_secret"] = json!(secret.trim());
    } else {
        input["asap_key_server"] = json!(format!("{public_url}/jitsi/keys"));
    }
    match run_harness(&input) {
        Some(report) => eprintln!("{report}"),
        None => support::skip(test, "Prosody and its Lua libraries"),
    }
}

#[test]
fn stock_prosody_accepts_hs256_tokens_for_their_room_only() {
    check_mode(
        "stock_prosody_accepts_hs256_tokens_for_their_room_only",
        "hs256",
    );
}

#[test]
fn stock_prosody_accepts_rs256_tokens_via_the_key_server() {
    check_mode(
        "stock_prosody_accepts_rs256_tokens_via_the_key_server",
        "rs256",
    );
}

/// `jitsi-meet-config/prosody-roomkey-additions.cfg.lua` applied to jitsi-meet's own host
/// template (from the checkout `JITSI_PLUGINS_DIR` is in) boots a real Prosody that still
/// offers STUN/TURN, logs a roomkey token in and runs mod_roomkey on the conference MUC.
#[test]
fn roomkey_additions_to_the_stock_host_file_keep_it_working() {
    let test = "roomkey_additions_to_the_stock_host_file_keep_it_working";
    if std::env::var_os("JITSI_PLUGINS_DIR").is_none() {
        support::say_skipped(test, "JITSI_PLUGINS_DIR");
        return;
    }
    let output = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/prosody/check_additions.py"
        ))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => eprintln!("{stderr}"),
        Some(77) => support::skip(
            test,
            "Prosody, its Lua libraries or jitsi-meet's host template",
        ),
        code => panic!("the additions broke the stock host file ({code:?}):\n{stdout}\n{stderr}"),
    }
}
