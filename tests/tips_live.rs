//! Tips in the running room, end to end: the real roomkey binary and a real Prosody
//! running `prosody-plugins/mod_roomkey.lua`, with real XMPP clients in the room, driven by
//! `tests/prosody/tips.py`. A tip confirmed by a signed webhook reaches every client in the
//! room as the stanza stock Jitsi Meet shows as a chat line (who, how much, the message),
//! within a second of the webhook's answer, once however often the webhook is replayed; a
//! refunded or unconfirmed tip shows nothing.
//!
//! roomkey runs on its SQLite file without Redis, and again on PostgreSQL and Redis at
//! `TEST_DATABASE_URL` and `TEST_REDIS_URL` (a fresh schema and key prefix). The SQLite run
//! is repeated with the clients on WebSocket, the other transport lib-jitsi-meet uses.
//!
//! Needs Prosody from Debian (`tests/prosody/README.md`); without it the harness reports
//! "skipped" (exit 77) and the test is skipped (a `SKIPPED:` line; a failure under
//! `TEST_REQUIRE_ALL=1`), as is the PostgreSQL and Redis run without their URLs.

mod support;

fn run_harness(test: &str, shared_backends: bool) {
    support::run_prosody_harness("tips.py", test, shared_backends, Some("bosh"));
}

fn run_harness_over(test: &str, shared_backends: bool, transport: &str) {
    support::run_prosody_harness("tips.py", test, shared_backends, Some(transport));
}

#[test]
fn a_confirmed_tip_reaches_the_clients_in_the_room() {
    run_harness("a_confirmed_tip_reaches_the_clients_in_the_room", false);
}

#[test]
fn a_confirmed_tip_reaches_the_clients_in_the_room_on_postgresql_and_redis() {
    let test = "a_confirmed_tip_reaches_the_clients_in_the_room_on_postgresql_and_redis";
    if support::require_all_or_skip(&["TEST_DATABASE_URL", "TEST_REDIS_URL"], test) {
        run_harness(test, true);
    }
}

#[test]
fn a_confirmed_tip_reaches_the_clients_in_the_room_over_websocket() {
    run_harness_over(
        "a_confirmed_tip_reaches_the_clients_in_the_room_over_websocket",
        false,
        "websocket",
    );
}
