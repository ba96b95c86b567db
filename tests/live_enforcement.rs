//! Live enforcement end to end: the real roomkey binary and a real Prosody running
//! `prosody-plugins/mod_roomkey.lua`, driven with real XMPP stanzas over BOSH by
//! `tests/prosody/live_enforcement.py` (joins, refusals, kicks, bans, entitlement ends,
//! revocations, chargebacks, room ends, attendance, reconnects, forged commands, both
//! identity modes, roomkey down and back).
//!
//! roomkey runs on its SQLite file, and again on PostgreSQL and Redis at
//! `TEST_DATABASE_URL` and `TEST_REDIS_URL` (a fresh schema and key prefix). The SQLite run
//! is repeated with every client on WebSocket (`/xmpp-websocket`), the other transport
//! lib-jitsi-meet uses.
//!
//! Needs Prosody from Debian (`tests/prosody/README.md`); without it the harness reports
//! "skipped" (exit 77) and the test is skipped (a `SKIPPED:` line; a failure under
//! `TEST_REQUIRE_ALL=1`), as is the PostgreSQL and Redis run without their URLs.

mod support;

fn run_harness(test: &str, shared_backends: bool) {
    support::run_prosody_harness("live_enforcement.py", test, shared_backends, Some("bosh"));
}

fn run_harness_over(test: &str, shared_backends: bool, transport: &str) {
    support::run_prosody_harness(
        "live_enforcement.py",
        test,
        shared_backends,
        Some(transport),
    );
}

#[test]
fn mod_roomkey_enforces_roomkey_verdicts_live() {
    run_harness("mod_roomkey_enforces_roomkey_verdicts_live", false);
}

#[test]
fn mod_roomkey_enforces_roomkey_verdicts_live_on_postgresql_and_redis() {
    let test = "mod_roomkey_enforces_roomkey_verdicts_live_on_postgresql_and_redis";
    if support::require_all_or_skip(&["TEST_DATABASE_URL", "TEST_REDIS_URL"], test) {
        run_harness(test, true);
    }
}

#[test]
fn mod_roomkey_enforces_roomkey_verdicts_live_over_websocket() {
    run_harness_over(
        "mod_roomkey_enforces_roomkey_verdicts_live_over_websocket",
        false,
        "websocket",
    );
}
