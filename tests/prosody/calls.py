"""Private calls end to end: the real roomkey binary and a real Prosody with mod_roomkey.

Reuses live_enforcement.py's world (roomkey, Prosody, XMPP clients over BOSH) and checks
what docs/calls.md promises, with the scenarios running at the same time so the whole run
takes little more than the three minutes of the longest:

  * a viewer with 3 minutes of credit joins the call's private room, gets the module's
    warning (a Jitsi system chat message) about a minute before the end, and is removed
    when the credit runs out, with a reason that says so;
  * a third user cannot join the private room;
  * a viewer with 1 minute of credit buys 30 more during the call (a recorded payment of
    the `call_minutes_30` feature) and stays in past the first minute without
    reconnecting, until the performer ends the call.

Usage: calls.py --roomkey target/debug/roomkey [--keep-tmp] [--verbose]
Exit status: 0 all checks passed; 1 a check failed or the run broke; 2 bad arguments;
77 Prosody or its Lua libraries are missing (the caller skips).

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from prosody_harness import (  # noqa: E402  (path set up above)
    EXIT_MISMATCH, EXIT_OK, EXIT_SKIP, EXIT_USAGE, BoshTerminated, HarnessError, Skip,
    Tools, find_prosody, local, prepare_lua_env,
)
from live_enforcement import DOMAIN, World, http_json, occ  # noqa: E402

PRICE_MINOR = 2000
# Minutes of call credit sold as a feature (payments.features, docs/calls.md).
MINUTES_FEATURE = ('{call_minutes_30={amount_minor=60000,currency="COP",days=365,'
                   'call_minutes=30}}')


def register(w: World, handle: str, role: str = "viewer") -> str:
    """A user with a password (their session acts on calls); the session token."""
    status, reply = http_json(w.roomkey.port, "POST", "/api/auth/register", {
        "handle": handle, "email": f"{handle}@example.com", "password": "correct horse battery",
        "display_name": handle.title()})
    if status != 201:
        raise HarnessError(f"register {handle} -> {status}: {reply}")
    w.users[handle] = reply["user"]["id"]
    if role != "viewer":
        w.roomkey.api("POST", f"/api/admin/users/{w.users[handle]}/role", {"role": role})
    return reply["session_token"]


def as_session(w: World, method: str, path: str, session: str, body: Any = None) -> Any:
    status, reply = http_json(w.roomkey.port, method, path, body if body is not None else {},
                              bearer=session)
    if status >= 300:
        raise HarnessError(f"{method} {path} -> {status}: {reply}")
    return reply


def give_minutes(w: World, handle: str, minutes: int) -> None:
    w.roomkey.api("POST", "/api/admin/entitlements", {
        "user_id": w.users[handle], "scope": {"kind": "credit", "credit": "call_minutes"},
        "quantity": minutes})


def accepted_call(w: World, sessions: dict[str, str], viewer: str) -> tuple[str, str, float]:
    asked = as_session(w, "POST", "/api/calls", sessions[viewer],
                       {"performer_id": w.users["alex"]})
    accepted = as_session(w, "POST", f"/api/calls/{asked['id']}/accept", sessions["alex"])
    return asked["id"], accepted["room"], time.time()


def is_warning(e: Any) -> bool:
    if local(e.tag) != "message":
        return False
    for child in e:
        if local(child.tag) == "json-message" and child.text:
            try:
                return json.loads(child.text).get("type") == "system_chat_message"
            except ValueError:
                return False
    return False


def warning_text(e: Any) -> str:
    child = next(c for c in e if local(c.tag) == "json-message")
    return json.loads(child.text or "{}").get("message", "")


def scenario_credit_runs_out(w: World, sessions: dict[str, str]) -> None:
    r, step = w.report, w.args.step_timeout
    _, room, accepted = accepted_call(w, sessions, "ada")
    alex = w.as_user("alex")
    r.check("zero: the performer joins the call as owner",
            alex.join(occ(room, "alex"), step).get("affiliation") == "owner")
    ada = w.as_user("ada")
    got = ada.join(occ(room, "ada"), step)
    r.check("zero: the viewer with 3 minutes joins as member",
            got.get("ok") and got.get("affiliation") == "member", got)
    zed = w.as_user("zed")
    got = zed.join(occ(room, "zed"), step)
    r.check("a third user cannot join the private call",
            not got.get("ok") and got.get("condition") == "not-allowed", got)
    warned = ada.wait_for(is_warning, 180 - (time.time() - accepted) - 30)
    warned_after = round(time.time() - accepted, 1)
    r.check("zero: the viewer is warned about a minute before the credit runs out",
            warned is not None and 115 <= warned_after <= 125 and "minute" in warning_text(warned),
            {"after_s": warned_after})
    gone = ada.wait_removed(occ(room, "ada"), 180 - (time.time() - accepted) + 15)
    removed_after = round(time.time() - accepted, 1)
    r.check("zero: the viewer is removed when the credit runs out, saying why",
            gone is not None and "credit" in (gone.get("reason") or "")
            and 179 <= removed_after <= 184, {"removed": gone, "after_s": removed_after})


def scenario_top_up(w: World, sessions: dict[str, str]) -> None:
    r, step = w.report, w.args.step_timeout
    call_id, room, accepted = accepted_call(w, sessions, "tim")
    alex = w.as_user("alex")
    alex.join(occ(room, "alex"), step)
    tim = w.as_user("tim")
    got = tim.join(occ(room, "tim"), step)
    r.check("top-up: the viewer with 1 minute joins", got.get("ok"), got)
    time.sleep(max(0.0, accepted + 20 - time.time()))
    w.roomkey.api("POST", "/api/admin/payments", {
        "user_id": w.users["tim"], "purchase": {"kind": "feature", "feature": "call_minutes_30"},
        "provider": "meru", "provider_ref": f"link-{call_id[:12]}", "amount_minor": 60000,
        "currency": "COP"})
    gone = tim.wait_removed(occ(room, "tim"), accepted + 80 - time.time())
    r.check("top-up: minutes bought during the call keep the viewer in past the first minute",
            gone is None, gone)
    as_session(w, "POST", f"/api/calls/{call_id}/end", sessions["alex"])
    gone = tim.wait_removed(occ(room, "tim"), step)
    r.check("top-up: ending the call closes the room", gone is not None, gone)


def run(args: argparse.Namespace, tools: Tools) -> int:
    run_dir = Path(tempfile.mkdtemp(prefix="roomkey-calls-"))
    w = World(args, tools, run_dir)
    started = time.monotonic()
    try:
        env, _ = prepare_lua_env(tools, run_dir / "lua-shim", required={"socket": "lua-socket"})
        w.start_prosody(env)
        w.backends.env["ROOMKEY_PAYMENTS__FEATURES"] = MINUTES_FEATURE
        w.roomkey.start(shards=[w.commands_url("/roomkey"), w.commands_url("/roomkey-jwt")])
        sessions = {handle: register(w, handle, role) for handle, role in
                    (("alex", "performer"), ("ada", "viewer"), ("tim", "viewer"),
                     ("zed", "viewer"))}
        as_session(w, "PUT", f"/api/performers/{w.users['alex']}/call-terms", sessions["alex"],
                   {"price_minor": PRICE_MINOR, "currency": "COP"})
        give_minutes(w, "ada", 3)
        give_minutes(w, "tim", 1)
        give_minutes(w, "zed", 1)
        w.register([(uid, DOMAIN) for uid in w.users.values()])
        assert w.prosody is not None
        w.prosody.start(args.startup_timeout)

        def guarded(scenario: Any) -> None:
            try:
                scenario(w, sessions)
            except (HarnessError, BoshTerminated, OSError, KeyError, StopIteration) as e:
                w.report.check(scenario.__name__, False, f"{type(e).__name__}: {e}")

        threads = [threading.Thread(target=guarded, args=(s,))
                   for s in (scenario_credit_runs_out, scenario_top_up)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except (HarnessError, BoshTerminated, OSError, KeyError, ValueError) as e:
        w.report.check("run", False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    finally:
        w.close_clients()
        failed = w.report.failed
        if failed:
            print(f"--- roomkey log ---\n{w.roomkey.log_tail()}", file=sys.stderr)
            if w.prosody:
                print(f"--- prosody.log warnings/errors ---\n{w.prosody.log_excerpt()}",
                      file=sys.stderr)
        if w.prosody:
            w.prosody.stop()
        w.roomkey.stop()
        w.backends.close()
        if args.keep_tmp:
            print(f"kept run dir {run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    elapsed = round(time.monotonic() - started, 1)
    print(json.dumps({"backend": w.backends.label(), "checks": w.report.checks, "failed": failed,
                      "seconds": elapsed}, indent=2))
    print(f"{len(w.report.checks) - failed} passed, {failed} failed in {elapsed} s "
          f"({w.backends.label()})", file=sys.stderr)
    return EXIT_OK if failed == 0 else EXIT_MISMATCH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roomkey", type=Path, default=os.environ.get("ROOMKEY_BIN"),
                        help="the roomkey binary (default: $ROOMKEY_BIN)")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the run dir (configs, logs)")
    parser.add_argument("--verbose", action="store_true", help="debug logs from Prosody and roomkey")
    parser.add_argument("--reconcile", type=float, default=60.0, help="roomkey_reconcile_interval (s)")
    parser.add_argument("--startup-timeout", type=float, default=30.0)
    parser.add_argument("--step-timeout", type=float, default=10.0)
    parser.add_argument("--bosh-wait", type=int, default=1, help="BOSH 'wait' (long-poll seconds)")
    parser.add_argument("--transport", choices=("bosh",), default="bosh")
    args = parser.parse_args(argv)
    if not args.roomkey or not Path(args.roomkey).is_file():
        print("calls: pass --roomkey <binary> (cargo build --bin roomkey)", file=sys.stderr)
        return EXIT_USAGE
    args.roomkey = Path(args.roomkey).resolve()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_MISMATCH))
    try:
        tools = find_prosody()
    except Skip as e:
        print(f"calls: skipped: {e}", file=sys.stderr)
        print(json.dumps({"skipped": str(e)}))
        return EXIT_SKIP
    try:
        return run(args, tools)
    except Skip as e:
        print(f"calls: skipped: {e}", file=sys.stderr)
        print(json.dumps({"skipped": str(e)}))
        return EXIT_SKIP


if __name__ == "__main__":
    sys.exit(main())
