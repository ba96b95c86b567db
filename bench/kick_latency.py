#!/usr/bin/env python3
"""Kick latency and pre-join cost of live enforcement, with the real roomkey and Prosody.

One run starts roomkey (release build, its default SQLite file in a temp dir) and a
Prosody 0.12 with mod_roomkey (the config of tests/prosody/live_enforcement.py, logging
at "warn", reconcile every hour so it stays out of the way), then:

1. kicks: a few entitled viewers take turns in one paid room; each round one of them
   is in the room with a BOSH long-poll open, the admin kick API is called
   (`POST /api/admin/rooms/{room}/kick`), and the time from the API call *returning*
   to the client *receiving* its unavailable presence (status 307) is recorded, and
   also from the call being *sent* (roomkey answers 202 and delivers the command in the
   background, so the presence often arrives before the HTTP answer is read: the first
   figure can be negative). The viewer then rejoins on the same session, which is the
   cached-verdict pre-join path.
2. first joins: fresh BOSH sessions join the room once each; every join is held while
   the module asks roomkey, so these are the first-join pre-join path.
3. reads the module's `GET /roomkey/stats`: pre-join decision time inside Prosody,
   cached path (`prejoin_cached`) and first-join path including roomkey's round trip
   (`prejoin_first`).

`--runs N` repeats the whole run with fresh processes and reports the median of each
figure across runs. Targets: kick p99 <= 250 ms on loopback; the cached pre-join
decision adds <= 1 ms at p99.

    cargo build --release --bin roomkey
    python3 bench/kick_latency.py --roomkey target/release/roomkey --kicks 200 --runs 3

Python 3.11 standard library only. Exit 77 when Prosody is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "prosody"))

import live_enforcement as live  # noqa: E402  (path set up above)
from prosody_harness import EXIT_SKIP, EXIT_USAGE, Skip, find_prosody, prepare_lua_env  # noqa: E402

ROOM = "benchshow"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # nearest rank
    return ordered[int(rank) - 1]


def one_run(args: argparse.Namespace, tools: Any) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix="roomkey-kickbench-"))
    world_args = argparse.Namespace(roomkey=args.roomkey, verbose=False, reconcile=3600.0,
                                    bosh_wait=args.bosh_wait, step_timeout=10.0,
                                    transport=args.transport)
    w = live.World(world_args, tools, run_dir)
    try:
        env, _ = prepare_lua_env(tools, run_dir / "lua-shim", required={"socket": "lua-socket"})
        w.start_prosody(env)
        cfg = w.run_dir / "prosody.cfg.lua"
        text = cfg.read_text().replace("log = { info =", "log = { warn =")
        if args.gc:
            text = text.replace("\nmodules_enabled", f'\ngc = {{ mode = "{args.gc}" }}\nmodules_enabled', 1)
        if args.nagle == "off":
            text = text.replace("\nmodules_enabled", "\nnetwork_settings = { nagle = false }\nmodules_enabled", 1)
        cfg.write_text(text)
        w.roomkey.start(shards=[w.commands_url("/roomkey")])
        w.user("host", "performer")
        viewers = [f"viewer{i}" for i in range(args.viewers)]
        for handle in viewers:
            w.user(handle)
        w.roomkey.api("POST", "/api/admin/rooms", {
            "name": ROOM, "title": "Bench", "owner_id": w.users["host"], "access": "paid",
            "price": live.PRICE})
        for handle in viewers:
            w.grant(handle, ROOM, 3600)
        w.register([(uid, live.DOMAIN) for uid in w.users.values()])
        assert w.prosody is not None
        w.prosody.start(30)

        host = w.as_user("host")
        if not host.join(live.occ(ROOM, "host"), 10).get("ok"):
            raise live.HarnessError("performer could not join")
        clients = {h: w.as_user(h) for h in viewers}

        after_return: list[float] = []  # API call returned -> presence received
        after_call: list[float] = []  # API call sent -> presence received
        for i in range(args.kicks):
            handle = viewers[i % len(viewers)]
            client = clients[handle]
            nick = live.occ(ROOM, handle)
            joined = client.join(nick, 10)
            if not joined.get("ok"):
                raise live.HarnessError(f"{handle} could not join: {joined}")
            result: dict[str, Any] = {}

            def wait(client=client, nick=nick, result=result) -> None:
                result["removed"] = client.wait_removed(nick, 10)
                result["at"] = client.matched_at

            poller = threading.Thread(target=wait)
            poller.start()
            time.sleep(0.02)  # let the long-poll reach Prosody
            if args.message_before_kick is not None:
                # Traffic just before the kick, as in a live room (chat, presence updates):
                # the viewer's connection then has unacknowledged data in flight.
                host.send(f"<message xmlns='jabber:client' type='groupchat' to='{ROOM}@{live.MUC}'>"
                          f"<body>{i}</body></message>")
                time.sleep(args.message_before_kick / 1000)
            started = time.monotonic()
            w.roomkey.api("POST", f"/api/admin/rooms/{ROOM}/kick",
                          {"user_id": w.users[handle], "reason": "bench"})
            returned = time.monotonic()
            poller.join()
            if not result.get("removed"):
                raise live.HarnessError(f"kick {i} of {handle}: no unavailable presence")
            after_return.append(result["at"] - returned)
            after_call.append(result["at"] - started)

        for i in range(args.first_joins):
            handle = viewers[i % len(viewers)]
            fresh = w.as_user(handle, resource=f"fresh{i}")
            if not fresh.join(live.occ(ROOM, f"{handle}-f{i}"), 10).get("ok"):
                raise live.HarnessError(f"first join {i} refused")
            fresh.leave(live.occ(ROOM, f"{handle}-f{i}"))
            fresh.close()

        stats = w.stats()
        ms = [k * 1000 for k in after_return]
        call_ms = [k * 1000 for k in after_call]
        return {
            "kicks": len(ms),
            "kick_p50_ms": round(percentile(ms, 50), 2),
            "kick_p99_ms": round(percentile(ms, 99), 2),
            "kick_p999_ms": round(percentile(ms, 99.9), 2),
            "kick_max_ms": round(max(ms), 2),
            "kicks_over_10ms": sum(1 for k in ms if k > 10),
            "kick_from_call_p50_ms": round(percentile(call_ms, 50), 2),
            "kick_from_call_p99_ms": round(percentile(call_ms, 99), 2),
            "prejoin_cached": stats["prejoin_cached"],
            "prejoin_first": stats["prejoin_first"],
            "verdict_requests": stats["verdict_requests"],
            "verdict_failures": stats["verdict_failures"],
            "events_dropped": stats["events_dropped"],
        }
    finally:
        w.close_clients()
        if w.prosody:
            w.prosody.stop()
        w.roomkey.stop()
        if args.keep_tmp:
            print(f"kept run dir {run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


def median_of(runs: list[dict[str, Any]], path: tuple[str, ...]) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        values.append(value)
    return round(statistics.median(values), 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roomkey", type=Path, default=REPO / "target" / "release" / "roomkey")
    parser.add_argument("--kicks", type=int, default=200)
    parser.add_argument("--first-joins", type=int, default=100)
    parser.add_argument("--viewers", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bosh-wait", type=int, default=10)
    parser.add_argument("--gc", choices=("incremental", "generational"), default="generational",
                        help="Prosody's `gc` mode (default: generational, as jitsi-meet-config/"
                             "prosody-roomkey-additions.cfg.lua recommends; Prosody's own default is incremental)")
    parser.add_argument("--transport", choices=("bosh", "websocket"), default="bosh",
                        help="how the clients connect, as lib-jitsi-meet does with a `bosh` or a "
                             "`websocket` service URL (default: bosh)")
    parser.add_argument("--nagle", choices=("on", "off"), default="on",
                        help="off: Prosody's `network_settings = { nagle = false }` (TCP_NODELAY on "
                             "its sockets); on: Prosody's default")
    parser.add_argument("--message-before-kick", type=float, metavar="MS",
                        help="the performer sends a groupchat message to the room this many ms "
                             "before each kick, so the viewer's connection has just received data")
    parser.add_argument("--keep-tmp", action="store_true")
    args = parser.parse_args(argv)
    if not args.roomkey.is_file():
        print(f"no roomkey binary at {args.roomkey} (cargo build --release --bin roomkey)", file=sys.stderr)
        return EXIT_USAGE
    args.roomkey = args.roomkey.resolve()
    try:
        tools = find_prosody()
    except Skip as e:
        print(f"kick_latency: skipped: {e}", file=sys.stderr)
        return EXIT_SKIP

    runs = []
    for n in range(args.runs):
        run = one_run(args, tools)
        runs.append(run)
        print(f"run {n + 1}: kick after the API returned p50 {run['kick_p50_ms']} ms, "
              f"p99 {run['kick_p99_ms']} ms (after the call was sent: p50 {run['kick_from_call_p50_ms']} ms, "
              f"p99 {run['kick_from_call_p99_ms']} ms); "
              f"pre-join cached p50 {run['prejoin_cached']['p50_ms']:.4f} ms, "
              f"p99 {run['prejoin_cached']['p99_ms']:.4f} ms; first-join p50 "
              f"{run['prejoin_first']['p50_ms']:.2f} ms, p99 {run['prejoin_first']['p99_ms']:.2f} ms",
              file=sys.stderr)
    summary = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "load_average": os.getloadavg()},
        "gc": args.gc,
        "transport": args.transport,
        "nagle": args.nagle,
        "message_before_kick_ms": args.message_before_kick,
        "runs": runs,
        "median": {
            "kick_p50_ms": median_of(runs, ("kick_p50_ms",)),
            "kick_p99_ms": median_of(runs, ("kick_p99_ms",)),
            "kick_from_call_p50_ms": median_of(runs, ("kick_from_call_p50_ms",)),
            "kick_from_call_p99_ms": median_of(runs, ("kick_from_call_p99_ms",)),
            "prejoin_cached_p50_ms": median_of(runs, ("prejoin_cached", "p50_ms")),
            "prejoin_cached_p99_ms": median_of(runs, ("prejoin_cached", "p99_ms")),
            "prejoin_first_p50_ms": median_of(runs, ("prejoin_first", "p50_ms")),
            "prejoin_first_p99_ms": median_of(runs, ("prejoin_first", "p99_ms")),
        },
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
