//! Live enforcement end to end: the real roomkey binary and a real Prosody running
//! `prosody-plugins/mod_roomkey.lua`, driven with real XMPP stanzas over BOSH by
//! `tests/prosody/live_enforcement.py` (joins, refusals, kicks, bans, entitlement ends,
//! revocations, chargebacks, room ends, attendance, reconnects, forged commands, both
//! identity modes, roomkey down and back).
//!
//! Needs Prosody from Debian (`tests/prosody/README.md`); without it the harness reports
//! "skipped" (exit 77) and so does this test.

use std::process::Command;

#[test]
fn mod_roomkey_enforces_roomkey_verdicts_live() {
    let output = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/prosody/live_enforcement.py"
        ))
        .arg("--roomkey")
        .arg(env!("CARGO_BIN_EXE_roomkey"))
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .output()
        .expect("python3 runs");
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
