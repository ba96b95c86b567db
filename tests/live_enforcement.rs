//! Live enforcement end to end: the real roomkey binary and a real Prosody running
//! `prosody-plugins/mod_roomkey.lua`, driven with real XMPP stanzas over BOSH by
//! `tests/prosody/live_enforcement.py` (joins, refusals, kicks, bans, entitlement ends,
//! revocations, chargebacks, room ends, attendance, reconnects, forged commands, both
//! identity modes, roomkey down and back).
//!
//! roomkey runs on its SQLite file, and again on PostgreSQL and Redis when
//! `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set (a fresh schema and key prefix).
//!
//! Needs Prosody from Debian (`tests/prosody/README.md`); without it the harness reports
//! "skipped" (exit 77) and so does this test.

use std::process::Command;

fn run_harness(shared_backends: bool) {
    let mut command = Command::new("python3");
    command
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/prosody/live_enforcement.py"
        ))
        .arg("--roomkey")
        .arg(env!("CARGO_BIN_EXE_roomkey"))
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL");
    if !shared_backends {
        command
            .env_remove("TEST_DATABASE_URL")
            .env_remove("TEST_REDIS_URL");
    }
    let output = command.output().expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => eprintln!("{stderr}"),
        Some(77) => eprintln!("skipped: Prosody is not installed\n{stderr}"),
        code => panic!(
            "live enforcement failed ({code:?}):\n{}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        ),
    }
}

#[test]
fn mod_roomkey_enforces_roomkey_verdicts_live() {
    run_harness(false);
}

#[test]
fn mod_roomkey_enforces_roomkey_verdicts_live_on_postgresql_and_redis() {
    if std::env::var_os("TEST_DATABASE_URL").is_none()
        && std::env::var_os("TEST_REDIS_URL").is_none()
    {
        eprintln!("skipped: TEST_DATABASE_URL and TEST_REDIS_URL are not set");
        return;
    }
    run_harness(true);
}
