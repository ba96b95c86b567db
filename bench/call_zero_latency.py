#!/usr/bin/env python3
"""From a private call's credit running out to the viewer's unavailable presence.

One run starts roomkey and a Prosody 0.12 with mod_roomkey (the config of
tests/prosody/live_enforcement.py, logging at "warn", reconcile every hour so it stays out
of the way), then:

1. a performer sets a per-minute price; `--calls` viewers get one minute of call credit
   each, ask for a call and have it accepted (one call each, all within a few seconds);
2. every viewer joins their call's room at once (one BOSH client and thread each) and
   waits for their own unavailable presence;
3. the moment each credit runs out is exact and known in advance: acceptance time + 60 s
   (one minute on the call's grid); the figure is the time from that moment to the client
   receiving its unavailable presence (MUC status 307, the reason "…credit…").

The removal needs no command from roomkey: the module's timer at the verdict's
`recheck_at` (the moment the credit runs out; it fires 50 ms after it) asks again, roomkey
refuses, the module removes the occupant.

    cargo build --release --bin roomkey
    python3 bench/call_zero_latency.py --roomkey target/release/roomkey --calls 100 --runs 3

Python 3.11 standard library only. Exit 77 when Prosody is not installed.
"""

from __future__ import annotations

import argparse
import calendar
import concurrent.futures
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "prosody"))

import live_enforcement as live  # noqa: E402  (path set up above)
from prosody_harness import EXIT_SKIP, EXIT_USAGE, Skip, find_prosody, prepare_lua_env  # noqa: E402

SERVICE_KEY = "bench-service-key-" + "0123456789abcdef"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # nearest rank
    return ordered[int(rank) - 1]


def epoch(rfc3339: str) -> int:
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


def for_user(w: live.World, user_id: str, method: str, path: str, body: Any = None) -> Any:
    status, reply = live.http_json(w.roomkey.port, method, path, body if body is not None else {},
                                   bearer=SERVICE_KEY, headers={"X-Roomkey-User": user_id})
    if status >= 300:
        raise live.HarnessError(f"{method} {path} -> {status}: {reply}")
    return reply


def mean_verdict_ms(w: live.World) -> float | None:
    """roomkey's own mean time answering `POST /api/prosody/verdicts`, from `/metrics`."""
    status, text = live.http_json(w.roomkey.ops_port, "GET", "/metrics")
    if status != 200 or not isinstance(text, str):
        return None
    total = count = 0.0
    for line in text.splitlines():
        if 'route="/api/prosody/verdicts"' not in line:
            continue
        name, _, value = line.rpartition(" ")
        if name.startswith("roomkey_http_request_duration_seconds_sum"):
            total += float(value)
        elif name.startswith("roomkey_http_request_duration_seconds_count"):
            count += float(value)
    return round(total / count * 1000, 2) if count else None


def one_run(args: argparse.Namespace, tools: Any) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix="roomkey-callbench-"))
    world_args = argparse.Namespace(roomkey=args.roomkey, verbose=False, reconcile=3600.0,
                                    bosh_wait=args.bosh_wait, step_timeout=20.0, transport="bosh")
    w = live.World(world_args, tools, run_dir)
    w.backends.env["ROOMKEY_AUTH__SERVICE_KEYS"] = json.dumps([SERVICE_KEY])
    w.backends.env["ROOMKEY_CALLS__METER_INTERVAL_SECS"] = str(args.meter_interval)
    try:
        env, _ = prepare_lua_env(tools, run_dir / "lua-shim", required={"socket": "lua-socket"})
        w.start_prosody(env)
        cfg = w.run_dir / "prosody.cfg.lua"
        cfg.write_text(cfg.read_text().replace("log = { info =", "log = { warn ="))
        w.roomkey.start(shards=[w.commands_url("/roomkey")])
        host = w.user("host", "performer")
        viewers = [f"viewer{i}" for i in range(args.calls)]
        for handle in viewers:
            w.user(handle)
        w.register([(uid, live.DOMAIN) for uid in w.users.values()])
        assert w.prosody is not None
        w.prosody.start(30)
        for_user(w, host, "PUT", f"/api/performers/{host}/call-terms",
                 {"price_minor": 2000, "currency": "COP"})

        calls: dict[str, tuple[str, int]] = {}  # handle -> (room, credit runs out at)
        first_accept = time.monotonic()
        for n, handle in enumerate(viewers):
            time.sleep(max(0.0, first_accept + n * args.accept_spread / len(viewers)
                           - time.monotonic()))
            w.roomkey.api("POST", "/api/admin/entitlements", {
                "user_id": w.users[handle], "scope": {"kind": "credit", "credit": "call_minutes"},
                "quantity": 1})
            asked = for_user(w, w.users[handle], "POST", "/api/calls", {"performer_id": host})
            accepted = for_user(w, host, "POST", f"/api/calls/{asked['id']}/accept")
            calls[handle] = (accepted["room"], epoch(accepted["accepted_at"]) + 60)

        def join_and_wait(handle: str) -> dict[str, Any]:
            room, ends_at = calls[handle]
            client = w.as_user(handle)
            nick = live.occ(room, handle)
            joined = client.join(nick, 20)
            if not joined.get("ok"):
                return {"handle": handle, "error": f"join refused: {joined}"}
            removed = client.wait_removed(nick, ends_at - time.time() + 20)
            if removed is None:
                return {"handle": handle, "error": "no unavailable presence"}
            wall = time.time() - (time.monotonic() - client.matched_at)
            return {"handle": handle, "latency_ms": (wall - ends_at) * 1000,
                    "reason_ok": "credit" in (removed.get("reason") or "")}

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(viewers)) as pool:
            results = list(pool.map(join_and_wait, viewers))
        errors = [r for r in results if "error" in r]
        ms = [r["latency_ms"] for r in results if "latency_ms" in r]
        if not ms:
            raise live.HarnessError(f"no removal measured: {errors[:3]}")
        stats = w.stats()
        verdict_ms = mean_verdict_ms(w)
        return {
            "calls": len(viewers),
            "removed": len(ms),
            "errors": errors[:5],
            "reason_says_credit": sum(1 for r in results if r.get("reason_ok")),
            "p50_ms": round(percentile(ms, 50), 2),
            "p99_ms": round(percentile(ms, 99), 2),
            "max_ms": round(max(ms), 2),
            "min_ms": round(min(ms), 2),
            "warnings_sent": stats.get("warnings"),
            "roomkey_verdict_request_mean_ms": verdict_ms,
            "verdict_failures": stats["verdict_failures"],
        }
    finally:
        w.close_clients()
        if w.prosody:
            w.prosody.stop()
        w.roomkey.stop()
        w.backends.close()
        if args.keep_tmp:
            print(f"kept run dir {run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roomkey", type=Path, default=REPO / "target" / "release" / "roomkey")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bosh-wait", type=int, default=10)
    parser.add_argument("--accept-spread", type=float, default=0.0, metavar="SECS",
                        help="accept the calls evenly over this many seconds (default 0: as fast "
                             "as they come, so many credits run out in the same second)")
    parser.add_argument("--meter-interval", type=int, default=5,
                        help="roomkey's calls.meter_interval_secs (default 5, as deployed)")
    parser.add_argument("--keep-tmp", action="store_true")
    args = parser.parse_args(argv)
    if not args.roomkey.is_file():
        print(f"no roomkey binary at {args.roomkey} (cargo build --release --bin roomkey)",
              file=sys.stderr)
        return EXIT_USAGE
    args.roomkey = args.roomkey.resolve()
    try:
        tools = find_prosody()
    except Skip as e:
        print(f"call_zero_latency: skipped: {e}", file=sys.stderr)
        return EXIT_SKIP
    runs = []
    for n in range(args.runs):
        run = one_run(args, tools)
        runs.append(run)
        print(f"run {n + 1}: {run['removed']}/{run['calls']} removed at zero, p50 {run['p50_ms']} ms, "
              f"p99 {run['p99_ms']} ms, max {run['max_ms']} ms", file=sys.stderr)
    summary = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "load_average": os.getloadavg()},
        "runs": runs,
        "median": {key: round(statistics.median(r[key] for r in runs), 2)
                   for key in ("p50_ms", "p99_ms", "max_ms")},
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
