//! Seat limits end to end: the real roomkey binary and a real Prosody running
//! `prosody-plugins/mod_roomkey.lua`, driven with real XMPP stanzas over BOSH by
//! `tests/prosody/seats.py`: a room with capacity 2 takes two viewers and refuses the
//! third with a clear error, a reconnect within the grace period keeps its seat, and two
//! clients racing for the last seat get exactly one seat between them in each of 50 trials.
//!
//! roomkey runs on its SQLite file, and again on PostgreSQL and Redis at
//! `TEST_DATABASE_URL` and `TEST_REDIS_URL` (a fresh schema and key prefix).
//!
//! Needs Prosody from Debian (`tests/prosody/README.md`); without it the harness reports
//! "skipped" (exit 77) and the test is skipped (a `SKIPPED:` line; a failure under
//! `TEST_REQUIRE_ALL=1`), as is the PostgreSQL and Redis run without their URLs.

mod support;

fn run_harness(test: &str, shared_backends: bool) {
    support::run_prosody_harness("seats.py", test, shared_backends, None);
}

#[test]
fn mod_roomkey_holds_a_rooms_capacity_at_join_time() {
    run_harness("mod_roomkey_holds_a_rooms_capacity_at_join_time", false);
}

#[test]
fn mod_roomkey_holds_a_rooms_capacity_at_join_time_on_postgresql_and_redis() {
    let test = "mod_roomkey_holds_a_rooms_capacity_at_join_time_on_postgresql_and_redis";
    if support::require_all_or_skip(&["TEST_DATABASE_URL", "TEST_REDIS_URL"], test) {
        run_harness(test, true);
    }
}
