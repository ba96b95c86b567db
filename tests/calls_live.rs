//! Private calls end to end: the real roomkey binary and a real Prosody running
//! `prosody-plugins/mod_roomkey.lua`, driven with real XMPP stanzas over BOSH by
//! `tests/prosody/calls.py`: a viewer with three minutes of credit is warned a minute
//! before the end and removed when it runs out; a top-up keeps another viewer in without a
//! reconnect; a third user cannot enter the private room. The scenarios run at the same
//! time, so the run takes a little over three minutes.
//!
//! roomkey runs on its SQLite file, and again on PostgreSQL and Redis at
//! `TEST_DATABASE_URL` and `TEST_REDIS_URL`. Needs Prosody from Debian
//! (`tests/prosody/README.md`); without it the harness reports "skipped" (exit 77) and the
//! test is skipped (a `SKIPPED:` line; a failure under `TEST_REQUIRE_ALL=1`).

mod support;

fn run_harness(test: &str, shared_backends: bool) {
    support::run_prosody_harness("calls.py", test, shared_backends, None);
}

#[test]
fn a_private_call_warns_then_removes_the_viewer_when_the_credit_runs_out() {
    run_harness(
        "a_private_call_warns_then_removes_the_viewer_when_the_credit_runs_out",
        false,
    );
}

#[test]
fn a_private_call_warns_then_removes_the_viewer_when_the_credit_runs_out_on_postgresql_and_redis() {
    let test =
        "a_private_call_warns_then_removes_the_viewer_when_the_credit_runs_out_on_postgresql_and_redis";
    if support::require_all_or_skip(&["TEST_DATABASE_URL", "TEST_REDIS_URL"], test) {
        run_harness(test, true);
    }
}
