#!/usr/bin/env python3
"""Seat limits end to end: the real roomkey binary and a real Prosody with mod_roomkey.

Reuses live_enforcement.py's world (roomkey on SQLite, or PostgreSQL and Redis at
TEST_DATABASE_URL / TEST_REDIS_URL; Prosody 0.12 with the module on two MUC components,
one per identity mode) and checks with real stanzas over BOSH what the module promises
for a room with a capacity:

  * a room with capacity 2 takes the performer (no seat) and 2 viewers, and refuses the
    third with service-unavailable and a text saying the room is full;
  * a viewer who leaves keeps the seat for the grace period: someone else is refused
    meanwhile, the same viewer reconnecting (a new session) gets back in; after the grace
    period the seat is free for anyone;
  * two clients joining at the same moment for the last seat get exactly one seat between
    them, every time, over --trials trials (default 50): half in username mode, where both
    joins are held while the verdicts are fetched and posted again, half with Jitsi tokens
    (the verdict asked at authentication, cached at the join), where an admitted join then
    waits 0.3 s in a later pre-join hook (mod_prejoin_pause.lua) before it is seated.

Usage: seats.py --roomkey target/debug/roomkey [--trials 50] [--keep-tmp] [--verbose]
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
import uuid
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import live_enforcement as live  # noqa: E402  (path set up above)
from live_enforcement import (  # noqa: E402
    DOMAIN, JWT_DOMAIN, JWT_MUC, MUC, World, fake_jwt, occ,
)
from prosody_harness import (  # noqa: E402
    EXIT_MISMATCH, EXIT_OK, EXIT_SKIP, EXIT_USAGE, Bosh, BoshTerminated, HarnessError, Skip,
    find_prosody, prepare_lua_env,
)

# Short, so the test can wait one out; the module's default is 30 s.
SEAT_GRACE = 3

_base_options = live.roomkey_options


def roomkey_options_with_seats(url: str, secret: str, reconcile: float) -> str:
    # Both MUC components also load mod_prejoin_pause (this folder): an admitted join to a
    # race room waits there before it is seated, as behind a slow later pre-join hook.
    return _base_options(url, secret, reconcile) + "".join(
        f"\n    {line}" for line in (f"roomkey_seat_grace = {SEAT_GRACE}",
                                     'modules_enabled = { "roomkey"; "prejoin_pause" }'))


# The world's Prosody config comes from this function; the seat grace is the one addition.
live.roomkey_options = roomkey_options_with_seats


def is_full_refusal(got: dict[str, Any]) -> bool:
    return (not got.get("ok") and got.get("condition") == "service-unavailable"
            and "full" in (got.get("text") or ""))


def room(w: World, name: str, capacity: int | None) -> None:
    w.roomkey.api("POST", "/api/admin/rooms", {
        "name": name, "title": name.title(), "owner_id": w.users["alex"], "access": "free",
        "capacity": capacity})


def setup(w: World, trials: int) -> None:
    w.user("alex", "performer")
    for handle in ("ada", "bob", "cyd", "sit", "red", "blu"):
        w.user(handle)
    room(w, "seats", 2)
    for i in range(trials):
        room(w, f"race{i}", 2)


def scenario_capacity_and_grace(w: World) -> None:
    r, step = w.report, w.args.step_timeout
    alex = w.as_user("alex")
    got = alex.join(occ("seats", "alex"), step)
    r.check("the performer joins as owner, taking no seat",
            got.get("ok") and got.get("affiliation") == "owner", got)
    ada, bob, cyd = w.as_user("ada"), w.as_user("bob"), w.as_user("cyd")
    got = ada.join(occ("seats", "ada"), step)
    r.check("capacity 2: the first viewer joins", got.get("ok") and got.get("affiliation") == "member", got)
    got = bob.join(occ("seats", "bob"), step)
    r.check("capacity 2: the second viewer joins", got.get("ok"), got)
    got = cyd.join(occ("seats", "cyd"), step)
    r.check("capacity 2: the third viewer is refused, told the room is full", is_full_refusal(got), got)
    r.check("the refusal is counted in the module's stats", w.stats()["seats_refused"] >= 1, w.stats())

    ada.leave(occ("seats", "ada"))
    ada.wait_removed(occ("seats", "ada"), step)
    got = cyd.join(occ("seats", "cyd"), step)
    r.check("a viewer who left keeps the seat: someone else is still refused", is_full_refusal(got), got)
    back = w.as_user("ada")  # a reconnect: a new session, the same user
    got = back.join(occ("seats", "ada"), step)
    r.check("the viewer reconnecting within the grace period gets the seat back", got.get("ok"), got)

    bob.leave(occ("seats", "bob"))
    bob.wait_removed(occ("seats", "bob"), step)
    time.sleep(SEAT_GRACE + 1.5)
    got = cyd.join(occ("seats", "cyd"), step)
    r.check("after the grace period the seat is free for anyone", got.get("ok"), got)


def race_once(w: World, i: int, sitter: dict[str, Bosh], racers: dict[str, Bosh]) -> dict[str, Any]:
    """Two viewers join room race<i> (capacity 2, one seat taken) at the same moment."""
    step = w.args.step_timeout
    name = f"race{i}"
    tokens = i % 2 == 1
    muc = JWT_MUC if tokens else MUC
    got = sitter["jwt" if tokens else "plain"].join(occ(name, "sit", muc), step)
    if not got.get("ok"):
        return {"trial": i, "error": "the first viewer could not sit", "got": got}
    if tokens:
        clients = {handle: token_login(w, handle, name) for handle in ("red", "blu")}
        time.sleep(0.3)  # let the verdicts asked at authentication arrive
    else:
        clients = racers
    barrier = threading.Barrier(len(clients))
    results: dict[str, dict[str, Any]] = {}

    def join(handle: str) -> None:
        barrier.wait()
        try:
            results[handle] = clients[handle].join(occ(name, handle, muc), step)
        except (HarnessError, BoshTerminated, OSError) as e:
            results[handle] = {"ok": False, "condition": "client-error", "text": str(e)}

    threads = [threading.Thread(target=join, args=(handle,)) for handle in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seated = [h for h, got in results.items() if got.get("ok")]
    refused = [h for h, got in results.items() if is_full_refusal(got)]
    for handle in seated:
        clients[handle].leave(occ(name, handle, muc))
    if tokens:
        for client in clients.values():
            client.close()
    return {"trial": i, "tokens": tokens, "seated": seated, "refused": refused,
            "results": results}


def token_login(w: World, handle: str, room_name: str) -> Bosh:
    now = int(time.time())
    token = fake_jwt({"iss": "roomkey", "aud": "jitsi", "sub": DOMAIN, "room": room_name,
                      "nbf": now - 30, "exp": now + 600, "jti": str(uuid.uuid4()),
                      "context": {"user": {"id": w.users[handle], "name": handle}}})
    return w.login(f"jwt-{handle}", host=JWT_DOMAIN, token=token)


def scenario_race(w: World, trials: int) -> None:
    r = w.report
    sitter = {"plain": w.as_user("sit"), "jwt": token_login(w, "sit", "race1")}
    racers = {handle: w.as_user(handle) for handle in ("red", "blu")}
    outcomes = [race_once(w, i, sitter, racers) for i in range(trials)]
    wrong = [o for o in outcomes if len(o.get("seated", [])) != 1 or len(o.get("refused", [])) != 1]
    both = sum(1 for o in outcomes if len(o.get("seated", [])) == 2)
    r.check(f"the last seat, raced for by two clients at once: exactly one gets it, "
            f"{trials - len(wrong)} of {trials} trials",
            trials >= 1 and not wrong, {"wrong": wrong[:5], "both_seated": both})
    stats = w.stats()
    r.check("racing joins were held for their verdicts and counted when refused",
            stats["joins_held"] > 0 and stats["seats_refused"] >= trials // 2,
            {k: stats[k] for k in ("joins_held", "seats_refused", "joins_denied")})


def run(args: argparse.Namespace, tools: Any) -> int:
    run_dir = Path(tempfile.mkdtemp(prefix="roomkey-seats-"))
    w = World(args, tools, run_dir)
    started = time.monotonic()
    failed = 0
    try:
        env, _ = prepare_lua_env(tools, run_dir / "lua-shim", required={"socket": "lua-socket"})
        w.start_prosody(env)
        w.roomkey.start(shards=[w.commands_url("/roomkey"), w.commands_url("/roomkey-jwt")])
        setup(w, args.trials)
        accounts = [(uid, DOMAIN) for uid in w.users.values()]
        accounts += [(f"jwt-{handle}", JWT_DOMAIN) for handle in ("sit", "red", "blu")]
        w.register(accounts)
        assert w.prosody is not None
        w.prosody.start(args.startup_timeout)
        for scenario in (scenario_capacity_and_grace, lambda w: scenario_race(w, args.trials)):
            try:
                scenario(w)
            except (HarnessError, BoshTerminated, OSError, KeyError) as e:
                w.report.check("scenario", False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    except (HarnessError, BoshTerminated, OSError, KeyError, ValueError) as e:
        w.report.check("run", False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    finally:
        w.close_clients()
        failed = w.report.failed
        if failed:
            print(f"--- roomkey log ---\n{w.roomkey.log_tail()}", file=sys.stderr)
            if w.prosody:
                print(f"--- prosody.log warnings/errors ---\n{w.prosody.log_excerpt()}", file=sys.stderr)
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
    parser.add_argument("--trials", type=int, default=50, help="races for the last seat")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the run dir (configs, logs)")
    parser.add_argument("--verbose", action="store_true", help="debug logs from Prosody and roomkey")
    parser.add_argument("--reconcile", type=float, default=5.0, help="roomkey_reconcile_interval (s)")
    parser.add_argument("--startup-timeout", type=float, default=30.0)
    parser.add_argument("--step-timeout", type=float, default=10.0)
    parser.add_argument("--bosh-wait", type=int, default=1, help="BOSH 'wait' (long-poll seconds)")
    args = parser.parse_args(argv)
    if not args.roomkey or not Path(args.roomkey).is_file():
        print("seats: pass --roomkey <binary> (cargo build --bin roomkey)", file=sys.stderr)
        return EXIT_USAGE
    args.roomkey = Path(args.roomkey).resolve()
    args.transport = "bosh"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_MISMATCH))
    try:
        tools = find_prosody()
        return run(args, tools)
    except Skip as e:
        print(f"seats: skipped: {e}", file=sys.stderr)
        print(json.dumps({"skipped": str(e)}))
        return EXIT_SKIP


if __name__ == "__main__":
    sys.exit(main())
