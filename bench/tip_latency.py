#!/usr/bin/env python3
"""Tip latency: from a tip's confirmation to its chat line at a client in the room, with
the real roomkey and Prosody.

One run starts roomkey (its default SQLite file in a temp dir, or PostgreSQL and Redis at
TEST_DATABASE_URL and TEST_REDIS_URL) and a Prosody 0.12 with mod_roomkey (the config of
tests/prosody/live_enforcement.py, reconcile every hour so it stays out of the way), puts the performer and a viewer in a
paid room, then for each tip: a checkout (`POST /api/rooms/{room}/tip` with a message, not
timed), the viewer's long-poll open, and the provider's signed webhook
(`POST /api/webhooks/meru`, `payment.succeeded`). Recorded per tip, at the viewer:

* from the webhook's *answer* to the chat line arriving (roomkey stores the tip's
  `announce` for every shard before it answers and sends it at once in the background, so
  the line may arrive before the answer is read: the figure can be negative);
* from the webhook being *sent* to the chat line arriving (confirmation and delivery).

`--runs N` repeats the run with fresh processes and reports the median of each figure.
Target: the line in the room within a second of the answer (p99).

    cargo build --release --bin roomkey
    python3 bench/tip_latency.py --roomkey target/release/roomkey --tips 200 --runs 3

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
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "prosody"))

import live_enforcement as live  # noqa: E402  (path set up above)
import tips  # noqa: E402
from prosody_harness import EXIT_SKIP, EXIT_USAGE, Skip, find_prosody  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # nearest rank
    return ordered[int(rank) - 1]


def one_run(args: argparse.Namespace, tools: Any) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix="roomkey-tipbench-"))
    world_args = argparse.Namespace(roomkey=args.roomkey, verbose=False, reconcile=3600.0,
                                    bosh_wait=args.bosh_wait, step_timeout=10.0,
                                    transport=args.transport, startup_timeout=30.0)
    w = None
    try:
        w = tips.start_world(world_args, tools, run_dir)
        alex, kim = w.as_user("alex"), w.as_user("kim")
        for handle, client in (("alex", alex), ("kim", kim)):
            if not client.join(live.occ(tips.ROOM, handle), 10).get("ok"):
                raise live.HarnessError(f"{handle} could not join")
        after_answer: list[float] = []
        after_call: list[float] = []
        for i in range(args.tips):
            amount = 100 + i
            reference = tips.checkout_tip(w, "ada", tips.ROOM, amount, message=f"tip {i}")
            seen = tips.tip_and_watch(w, [kim], reference, amount, wait=10.0)
            got = seen["got"][0]
            if seen["status"] != 200 or got["payload"] is None:
                raise live.HarnessError(f"tip {i}: no chat line: {seen}")
            if not got["payload"]["message"].endswith(f": tip {i}"):
                raise live.HarnessError(f"tip {i}: another line arrived: {got}")
            after_answer.append(got["after_answer_s"] * 1000)
            after_call.append(got["after_call_s"] * 1000)
        return {
            "tips": len(after_answer),
            "backend": w.backends.label(),
            "after_answer_p50_ms": round(percentile(after_answer, 50), 2),
            "after_answer_p99_ms": round(percentile(after_answer, 99), 2),
            "after_answer_max_ms": round(max(after_answer), 2),
            "after_call_p50_ms": round(percentile(after_call, 50), 2),
            "after_call_p99_ms": round(percentile(after_call, 99), 2),
            "after_call_max_ms": round(max(after_call), 2),
        }
    finally:
        if w is not None:
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
    parser.add_argument("--tips", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bosh-wait", type=int, default=10)
    parser.add_argument("--transport", choices=("bosh", "websocket"), default="bosh",
                        help="how the clients connect (default: bosh)")
    parser.add_argument("--keep-tmp", action="store_true")
    args = parser.parse_args(argv)
    if not args.roomkey.is_file():
        print(f"no roomkey binary at {args.roomkey} (cargo build --release --bin roomkey)", file=sys.stderr)
        return EXIT_USAGE
    args.roomkey = args.roomkey.resolve()
    try:
        tools = find_prosody()
    except Skip as e:
        print(f"tip_latency: skipped: {e}", file=sys.stderr)
        return EXIT_SKIP

    runs = []
    for n in range(args.runs):
        run = one_run(args, tools)
        runs.append(run)
        print(f"run {n + 1} ({run['backend']}): tip line after the webhook's answer p50 "
              f"{run['after_answer_p50_ms']} ms, p99 {run['after_answer_p99_ms']} ms; after the "
              f"webhook was sent p50 {run['after_call_p50_ms']} ms, p99 {run['after_call_p99_ms']} ms",
              file=sys.stderr)
    keys = ("after_answer_p50_ms", "after_answer_p99_ms", "after_call_p50_ms", "after_call_p99_ms")
    summary = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "load_average": os.getloadavg()},
        "transport": args.transport,
        "runs": runs,
        "median": {k: round(statistics.median(r[k] for r in runs), 2) for k in keys},
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
