#!/usr/bin/env python3
"""A join storm end to end: N entitled viewers ask roomkey for a token and join one room.

One run starts roomkey (release build, its default SQLite file in a temp dir) and a
Prosody 0.12 with mod_roomkey (the config of tests/prosody/live_enforcement.py, logging at
"warn", reconcile every hour so it stays out of the way, `gc` generational). The viewers
use the Jitsi-token path: the `jwt.` VirtualHost with SASL ANONYMOUS (as jitsi-meet's
token authentication offers it) and the harness's double of jitsi's token events, and the
MUC component whose mod_roomkey has `roomkey_identity = "jitsi_token"`; so, as in a real
deployment, the module asks roomkey for the session's verdict as soon as the token is
"verified" at authentication, before the join arrives.

Provisioning (not measured): a performer and N viewers through roomkey's admin API, two
paid rooms (`storm`, `slow`), an entitlement to both for every viewer; then roomkey is
restarted with Prosody as its shard (so nothing provisioning queued for Prosody is still
in flight), and the performer joins each room first.

Each viewer, at its scheduled moment:

1. `POST /api/rooms/{room}/token` with its platform session (`Authorization: Bearer`, an
   HS256 session token minted here with the session secret roomkey is given, as
   roomkey-bench does), on a connection of its own;
2. an XMPP-over-WebSocket session to Prosody with `?token=<the jwt>` (lib-jitsi-meet's
   `websocket` service): stream, SASL ANONYMOUS, stream restart, resource bind;
3. a MUC join presence; **join acceptance** is the client receiving its own presence with
   status 110. The client then stays in the room, reading (and discarding) what Prosody
   sends, until the end of the run.

The clients are event-driven (asyncio, one task per viewer), split round-robin over
`--procs` load-generator processes, each with its own event loop; all times are
CLOCK_MONOTONIC, shared by the processes.

Phases, in this order, in one run:

* `storm`: N viewers over `--spread` seconds, uniform (viewer i starts at i*spread/N), or
  with `--front-loaded` half of them uniform over the first second and the other half
  uniform over the rest of the spread;
* `slow`: the same at 1/10th of the rate in the other room. `--slow-mode same-n`
  (default): the same N over 10 x the spread, so the room reaches the same size and
  Prosody does the same work per join, and only the arrival rate differs; `tenth-n`: N/10
  viewers over the same spread (the room stays 10 x smaller, so this mixes the rate with the
  room's size). The storm's viewers stay connected (idle) meanwhile.

For each phase: time from the first token request to the last join accepted; p50/p99 of
the token latency, of join acceptance from the join presence sent and from the token
request; how late the load generator started viewers against their schedule (its own
saturation); errors; CPU seconds of roomkey, Prosody and the load generator
(/proc/<pid>/stat) and of everything else on the machine (/proc/stat) during the phase;
the module's `GET /roomkey-jwt/stats` counters for the phase (pre-joins decided from a
cached/prefetched verdict, joins held while roomkey was asked: the module's
`muc-occupant-pre-join` hook itself never waits, a join without a verdict is held and
posted again; `joins_held_prefetching` is how many of those found the prefetch still on
its way); and how long after the last join roomkey's `GET /api/rooms/{room}/participants`
listed every viewer as present (attendance reported by the module). The ratio of the two
phases' join-acceptance p99s is the figure of merit (goal: <= 2).

    cargo build --release --bin roomkey
    python3 bench/join_storm.py --roomkey target/release/roomkey --viewers 5000 --spread 10 --runs 3

`--presence-broadcast moderator` sets Prosody's `muc_room_default_presence_broadcast` so
viewers' presences are not broadcast to the room (only the performer's are): the MUC's
presence fan-out is otherwise N^2 stanzas for N joins.

Python 3.11 standard library only. Exit 77 when Prosody is not installed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import hashlib
import hmac
import json
import multiprocessing
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "prosody"))

import live_enforcement as live  # noqa: E402  (path set up above)
from prosody_harness import (  # noqa: E402
    EXIT_SKIP, EXIT_USAGE, Skip, WebSocketXmpp, find_prosody, prepare_lua_env,
)

PHASE_ROOMS = {"storm": "storm", "slow": "slow"}
STATS_PATH = "/roomkey-jwt"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # nearest rank
    return ordered[int(rank) - 1]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def session_token(secret: str, user_id: str) -> str:
    """A platform session as roomkey issues it (src/identity/session.rs), HS256."""
    now = int(time.time())
    claims = {"iss": "roomkey", "aud": "roomkey-session", "sub": user_id, "iat": now,
              "exp": now + 86400, "jti": str(uuid.uuid4()), "typ": "session", "gen": 0}
    signing_input = b64url(b'{"alg":"HS256","typ":"JWT"}') + "." + b64url(
        json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


# --------------------------------------------------------------------------
# CPU accounting


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    values = [int(v) for v in parts]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


# --------------------------------------------------------------------------
# The load generator: one asyncio loop per process, one task per viewer


class ViewerError(Exception):
    pass


class Ws:
    """XMPP over WebSocket (RFC 7395 / RFC 6455), client side, on asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rest: bytes):
        self.r, self.w, self.buf = reader, writer, bytearray(rest)

    def send(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        if n < 126:
            head = bytes([0x81, 0x80 | n])
        elif n < 65536:
            head = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        keystream = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")).to_bytes(n, "big")
        self.w.write(head + mask + masked)

    async def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = await self.r.read(65536)
            if not chunk:
                raise ViewerError("connection closed by Prosody")
            self.buf += chunk

    async def frame(self) -> bytes:
        """The next complete text message (pings answered, control frames skipped)."""
        message = b""
        while True:
            await self._fill(2)
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 0x7F, 2
            if n == 126:
                await self._fill(4)
                n, off = int.from_bytes(self.buf[2:4], "big"), 4
            elif n == 127:
                await self._fill(10)
                n, off = int.from_bytes(self.buf[2:10], "big"), 10
            await self._fill(off + n)
            payload = bytes(self.buf[off:off + n])
            del self.buf[:off + n]
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ViewerError("WebSocket close frame")
            if opcode == 0x9:
                self.w.write(bytes([0x8A, 0x80]) + b"\0\0\0\0")  # pong, empty
                continue
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if b0 & 0x80:
                    return message

    async def until(self, *markers: bytes) -> bytes:
        while True:
            message = await self.frame()
            if any(m in message for m in markers):
                return message

    async def scan(self, markers: tuple[bytes, ...]) -> bytes:
        """Reads raw bytes (frames unparsed: the server does not mask, so stanzas appear
        verbatim) until one of `markers` appears; returns the marker found. Used after the
        join, where a big room sends many presences that only need to be skipped."""
        tail = bytes(self.buf)
        self.buf = bytearray()
        self.scanned = len(tail)
        while True:
            for m in markers:
                if m in tail:
                    return m
            chunk = await self.r.read(262144)
            if not chunk:
                raise ViewerError("connection closed by Prosody")
            self.scanned += len(chunk)
            tail = tail[-64:] + chunk


async def viewer(cfg: dict[str, Any], spec: dict[str, Any], t0: float, keep: list[Any],
                 out: dict[str, Any]) -> dict[str, Any]:
    stage = "schedule"
    try:
        await asyncio.sleep(max(0.0, out["scheduled"] - time.monotonic()))
        stage = out["stage"] = "token"
        out["t_req"] = time.monotonic()
        r, w = await asyncio.open_connection("127.0.0.1", cfg["roomkey_port"])
        body = b"{}"
        w.write((f"POST /api/rooms/{cfg['room']}/token HTTP/1.1\r\nHost: 127.0.0.1:{cfg['roomkey_port']}\r\n"
                 f"Authorization: Bearer {spec['session']}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
        data = await r.read()
        w.close()
        out["t_token"] = time.monotonic()
        head, _, payload = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
        if status != 200:
            raise ViewerError(f"token HTTP {status}: {payload[:200]!r}")
        jwt = json.loads(payload)["jwt"]

        stage = out["stage"] = "websocket"
        r, w = await asyncio.open_connection("127.0.0.1", cfg["prosody_port"])
        keep.append(w)
        key = base64.b64encode(os.urandom(16)).decode()
        w.write((f"GET /xmpp-websocket?token={jwt} HTTP/1.1\r\nHost: {cfg['domain']}\r\n"
                 f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = await r.read(65536)
            if not chunk:
                raise ViewerError("WebSocket handshake: connection closed")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ViewerError(f"WebSocket refused: {head[:120]!r}")
        ws = Ws(r, w, rest)
        out["t_ws"] = time.monotonic()
        stage = out["stage"] = "sasl"
        open_stream = (f"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='{cfg['domain']}' "
                       f"version='1.0'/>")
        ws.send(open_stream)
        await ws.until(b"features")
        ws.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>=</auth>")
        answer = await ws.until(b"<success", b"<failure")
        if b"<failure" in answer:
            raise ViewerError(f"SASL failure: {answer[:200]!r}")
        stage = out["stage"] = "bind"
        ws.send(open_stream)
        await ws.until(b"features")
        ws.send("<iq xmlns='jabber:client' type='set' id='bind1'>"
                "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>storm</resource></bind></iq>")
        answer = await ws.until(b"'bind1'", b'"bind1"')
        if b"result" not in answer:
            raise ViewerError(f"bind failed: {answer[:200]!r}")
        stage = out["stage"] = "join"
        out["t_join"] = time.monotonic()
        ws.send(f"<presence xmlns='jabber:client' to='{cfg['room']}@{cfg['muc']}/v{spec['i']}'>"
                "<x xmlns='http://jabber.org/protocol/muc'/></presence>")
        found = await ws.scan((b"code='110'", b'code="110"', b"type='error'", b'type="error"'))
        out["t_accepted"] = time.monotonic()
        out["rx_bytes"] = ws.scanned  # from the join sent to the own presence (roughly)
        if b"error" in found:
            raise ViewerError("join refused (presence type='error')")
        stage = out["stage"] = "in"
        return out | {"ws": ws}
    except (ViewerError, OSError, ValueError, KeyError, IndexError) as e:
        out["error"] = f"{stage}: {type(e).__name__}: {e}"
        return out


async def drain(ws: Ws) -> None:
    try:
        while await ws.r.read(1 << 20):
            pass
    except (OSError, asyncio.CancelledError):
        pass


async def worker_main(cfg: dict[str, Any], specs: list[dict[str, Any]], pipe: Any) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    loop.add_reader(pipe.fileno(), lambda: inbox.put_nowait(pipe.recv()))
    pipe.send(("ready", os.getpid()))
    command, t0 = await inbox.get()
    assert command == "go"
    keep: list[Any] = []
    drains: list[asyncio.Task[None]] = []

    async def one(spec: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"i": spec["i"], "scheduled": t0 + spec["at"], "stage": "schedule"}
        try:
            result = await asyncio.wait_for(viewer(cfg, spec, t0, keep, out),
                                            spec["at"] + cfg["timeout"])
        except asyncio.TimeoutError:
            return out | {"error": f"timeout in stage {out['stage']}"}
        ws = result.pop("ws", None)
        if ws is not None:
            drains.append(asyncio.create_task(drain(ws)))
        return result

    results = await asyncio.gather(*(one(s) for s in specs))
    pipe.send(("results", results))
    await inbox.get()  # "close": the run is over
    for task in drains:
        task.cancel()
    for w in keep:
        try:
            w.close()
        except OSError:
            pass
    pipe.send(("closed", None))


def worker_entry(cfg: dict[str, Any], specs: list[dict[str, Any]], pipe: Any) -> None:
    asyncio.run(worker_main(cfg, specs, pipe))


class LoadGenerator:
    """`procs` processes, each driving its share of the viewers."""

    def __init__(self, cfg: dict[str, Any], specs: list[dict[str, Any]], procs: int):
        ctx = multiprocessing.get_context("fork")
        self.pipes, self.procs, self.pids = [], [], []
        for k in range(procs):
            ours, theirs = ctx.Pipe()
            p = ctx.Process(target=worker_entry, args=(cfg, specs[k::procs], theirs), daemon=True)
            p.start()
            self.pipes.append(ours)
            self.procs.append(p)
        for pipe in self.pipes:
            kind, pid = pipe.recv()
            assert kind == "ready"
            self.pids.append(pid)

    def run(self, start_in: float = 0.5) -> tuple[float, list[dict[str, Any]]]:
        t0 = time.monotonic() + start_in
        for pipe in self.pipes:
            pipe.send(("go", t0))
        results: list[dict[str, Any]] = []
        for pipe in self.pipes:
            kind, part = pipe.recv()
            assert kind == "results"
            results.extend(part)
        return t0, sorted(results, key=lambda r: r["i"])

    def close(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(("close", None))
            except OSError:
                pass
        for pipe, p in zip(self.pipes, self.procs):
            try:
                if pipe.poll(30):
                    pipe.recv()
            except (OSError, EOFError):
                pass
            p.join(10)
            if p.is_alive():
                p.kill()


def schedule(n: int, spread: float, front_loaded: bool) -> list[float]:
    if not front_loaded or spread <= 1:
        return [i * spread / n for i in range(n)]
    first = n // 2
    rest = n - first
    return ([i * 1.0 / first for i in range(first)]
             + [1.0 + i * (spread - 1.0) / rest for i in range(rest)])


# --------------------------------------------------------------------------
# One run


def ms(values: list[float], p: float) -> float | None:
    v = percentile(values, p)
    return None if v is None else round(v * 1000, 1)


def module_stats(w: live.World) -> dict[str, Any]:
    """The module's `GET stats`, waiting as long as a Prosody still busy with a storm needs."""
    status, reply = live.http_json(w.http_port, "GET", f"{STATS_PATH}/stats", timeout=300)
    if status != 200 or not isinstance(reply, dict):
        raise live.HarnessError(f"stats -> {status}: {reply}")
    return reply


def phase(w: live.World, args: argparse.Namespace, name: str, viewers: list[str], spread: float,
          sessions: dict[str, str], pids: dict[str, int], loadgens: list[LoadGenerator]) -> dict[str, Any]:
    room = PHASE_ROOMS[name]
    times = schedule(len(viewers), spread, args.front_loaded)
    specs = [{"i": k, "at": times[k], "session": sessions[h]} for k, h in enumerate(viewers)]
    cfg = {"roomkey_port": w.roomkey.port, "prosody_port": w.http_port, "domain": live.JWT_DOMAIN,
           "muc": live.JWT_MUC, "room": room, "timeout": args.timeout}
    gen = LoadGenerator(cfg, specs, args.procs)
    loadgens.append(gen)
    stats_before = module_stats(w)
    cpu_before = {k: proc_cpu(pid) for k, pid in pids.items()}
    gen_pids = gen.pids + [os.getpid()]  # the workers, and this process (the performers' clients)
    gen_before = sum(proc_cpu(pid) for pid in gen_pids)
    machine_before = machine_cpu()
    wall_before = time.monotonic()
    t0, results = gen.run()
    wall = time.monotonic() - wall_before
    cpu = {k: round(proc_cpu(pid) - cpu_before[k], 2) for k, pid in pids.items()}
    cpu["loadgen"] = round(sum(proc_cpu(pid) for pid in gen_pids) - gen_before, 2)
    cpu["other"] = round(machine_cpu() - machine_before - sum(cpu.values()), 2)
    cpu["window_s"] = round(wall, 2)
    stats = module_stats(w)

    ok = [r for r in results if "t_accepted" in r and "error" not in r]
    errors = [r for r in results if "error" in r]
    last_accepted = max((r["t_accepted"] for r in ok), default=None)
    first_request = min((r["t_req"] for r in results if "t_req" in r), default=None)
    token = [r["t_token"] - r["t_req"] for r in results if "t_token" in r]
    join = [r["t_accepted"] - r["t_join"] for r in ok]
    join_from_req = [r["t_accepted"] - r["t_req"] for r in ok]
    connect = [r["t_join"] - r["t_token"] for r in ok]  # websocket + SASL + bind
    lag = [r["t_req"] - r["scheduled"] for r in results if "t_req" in r]

    # Attendance: the module reports joins in batches; roomkey lists who is present.
    host_id = w.users["host"]
    wanted = {w.users[viewers[r["i"]]] for r in ok}
    attendance_at = None
    present = 0
    deadline = time.monotonic() + args.attendance_timeout
    while time.monotonic() < deadline:
        view = w.participants(room)
        present = sum(1 for p in view.get("present", []) if p.get("user_id") != host_id)
        if wanted <= {p.get("user_id") for p in view.get("present", [])}:
            attendance_at = time.monotonic()
            break
        time.sleep(0.25)

    def delta(key: str) -> int:
        return int(stats.get(key, 0) or 0) - int(stats_before.get(key, 0) or 0)

    cached = stats["prejoin_cached"]["count"] - stats_before["prejoin_cached"]["count"]
    first = stats["prejoin_first"]["count"] - stats_before["prejoin_first"]["count"]
    return {
        "phase": name,
        "viewers": len(viewers),
        "spread_s": spread,
        "schedule": "front-loaded" if args.front_loaded else "uniform",
        "accepted": len(ok),
        "errors": len(errors),
        "error_samples": sorted({e["error"] for e in errors})[:5],
        "errors_by_stage": {st: sum(1 for e in errors if e.get("stage") == st)
                            for st in sorted({e.get("stage") for e in errors})},
        "first_request_to_last_accepted_s": (round(last_accepted - first_request, 2)
                                             if last_accepted and first_request else None),
        "token_p50_ms": ms(token, 50), "token_p99_ms": ms(token, 99),
        "connect_p50_ms": ms(connect, 50), "connect_p99_ms": ms(connect, 99),
        "join_p50_ms": ms(join, 50), "join_p99_ms": ms(join, 99), "join_max_ms": ms(join, 100),
        "join_from_request_p50_ms": ms(join_from_req, 50),
        "join_from_request_p99_ms": ms(join_from_req, 99),
        "start_lag_p50_ms": ms(lag, 50), "start_lag_p99_ms": ms(lag, 99),
        "rx_kib_join_to_accepted_mean": (round(statistics.mean(r["rx_bytes"] for r in ok) / 1024, 1)
                                         if ok else None),
        "cpu_s": cpu,
        "module": {
            "prejoin_decided_from_cache": cached,
            "prejoin_decided_after_wait": first,
            "joins_held": delta("joins_held"),
            "joins_held_prefetching": delta("joins_held_prefetching"),
            "joins_allowed": delta("joins_allowed"),
            "joins_denied": delta("joins_denied"),
            "joins_failed_closed": delta("joins_failed_closed"),
            "verdict_requests": delta("verdict_requests"),
            "verdict_failures": delta("verdict_failures"),
            "events_sent": delta("events_sent"),
            "events_dropped": delta("events_dropped"),
            "prejoin_cached_p50_ms": stats["prejoin_cached"]["p50_ms"],
            "prejoin_cached_p99_ms": stats["prejoin_cached"]["p99_ms"],
            "prejoin_first_p50_ms": stats["prejoin_first"]["p50_ms"],
            "prejoin_first_p99_ms": stats["prejoin_first"]["p99_ms"],
        },
        "attendance_present": present,
        "attendance_complete_after_last_join_s": (round(attendance_at - last_accepted, 2)
                                                  if attendance_at and last_accepted else None),
    }


def host_join(w: live.World, host_session: str, room: str) -> WebSocketXmpp:
    status, reply = live.http_json(w.roomkey.port, "POST", f"/api/rooms/{room}/token", {},
                                   bearer=host_session)
    if status != 200:
        raise live.HarnessError(f"performer's token for {room}: {status} {reply}")
    client = WebSocketXmpp(w.http_port, live.JWT_DOMAIN, 10, token=reply["jwt"])
    client.open()
    if not client.sasl("ANONYMOUS", b"", 10)["ok"]:
        raise live.HarnessError("performer: SASL ANONYMOUS refused")
    client.restart_and_bind("host", 10)
    joined = client.join(live.occ(room, "host", live.JWT_MUC), 10)
    if not joined.get("ok") or joined.get("affiliation") != "owner":
        raise live.HarnessError(f"performer could not join {room} as owner: {joined}")
    w.clients.append(client)
    return client


def one_run(args: argparse.Namespace, tools: Any) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix="roomkey-joinstorm-"))
    world_args = argparse.Namespace(roomkey=args.roomkey, verbose=False, reconcile=3600.0,
                                    bosh_wait=10, step_timeout=10.0, transport="websocket")
    w = live.World(world_args, tools, run_dir)
    session_secret = secrets.token_hex(24)
    w.backends.env["ROOMKEY_SESSION__SECRET"] = session_secret
    loadgens: list[LoadGenerator] = []
    try:
        env, _ = prepare_lua_env(tools, run_dir / "lua-shim", required={"socket": "lua-socket"})
        w.start_prosody(env)
        cfg = w.run_dir / "prosody.cfg.lua"
        text = cfg.read_text().replace("log = { info =", "log = { warn =")
        text = text.replace("\nmodules_enabled", f'\ngc = {{ mode = "{args.gc}" }}\nmodules_enabled', 1)
        # Jitsi-token clients authenticate with SASL ANONYMOUS (jitsi's mod_auth_token
        # offers it); the token double still fires the token events at authentication.
        jwt_host = f'VirtualHost "{live.JWT_DOMAIN}"\n    authentication = "internal_plain"'
        if jwt_host not in text:
            raise live.HarnessError("unexpected harness config: no internal_plain jwt VirtualHost")
        text = text.replace(jwt_host, f'VirtualHost "{live.JWT_DOMAIN}"\n    authentication = "anonymous"')
        if args.presence_broadcast == "moderator":
            # The last section of the config is the jwt MUC component.
            text += "    muc_room_default_presence_broadcast = { moderator = true }\n"
        if args.tcp_backlog:
            text = text.replace("\nmodules_enabled",
                                f"\nnetwork_settings = {{ tcp_backlog = {args.tcp_backlog} }}\nmodules_enabled", 1)
        if args.module:
            # Another copy of the module (to measure a change): its folder first in plugin_paths.
            text = text.replace("plugin_paths = { ", f"plugin_paths = {{ {live.lua_str(str(args.module.parent))}; ", 1)
        cfg.write_text(text)

        # Provisioning (not measured), with no shard configured: nothing is queued for Prosody.
        provisioning = time.monotonic()
        w.roomkey.start(shards=None)
        w.user("host", "performer")
        n_slow = args.viewers if args.slow_mode == "same-n" else max(1, args.viewers // 10)
        viewers = [f"viewer{i}" for i in range(max(args.viewers, n_slow))]
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(w.user, viewers))
        for room in PHASE_ROOMS.values():
            w.roomkey.api("POST", "/api/admin/rooms", {
                "name": room, "title": room.title(), "owner_id": w.users["host"], "access": "paid",
                "price": live.PRICE})
        grants = [(h, PHASE_ROOMS["storm"]) for h in viewers[:args.viewers]]
        if args.slow_mode != "none":
            grants += [(h, PHASE_ROOMS["slow"]) for h in viewers[:n_slow]]
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda g: w.grant(g[0], g[1], 7200), grants))
        provisioned_in = time.monotonic() - provisioning
        w.roomkey.stop()
        w.roomkey.start(shards=[w.commands_url(STATS_PATH)])
        sessions = {h: session_token(session_secret, w.users[h]) for h in viewers}
        host_session = session_token(session_secret, w.users["host"])
        assert w.prosody is not None
        w.prosody.start(30)
        assert w.roomkey.proc is not None and w.prosody.proc is not None
        pids = {"roomkey": w.roomkey.proc.pid, "prosody": w.prosody.proc.pid}

        phases = []
        plan = [("storm", viewers[:args.viewers], args.spread)]
        if args.slow_mode != "none":
            slow_spread = args.spread * 10 if args.slow_mode == "same-n" else args.spread
            plan.append(("slow", viewers[:n_slow], slow_spread))
        for name, who, spread in plan:
            host_join(w, host_session, PHASE_ROOMS[name])
            time.sleep(args.settle)
            load = os.getloadavg()
            result = phase(w, args, name, who, spread, sessions, pids, loadgens)
            result["load_average_before"] = [round(x, 2) for x in load]
            phases.append(result)
            print(f"  {name}: {result['accepted']}/{result['viewers']} in over {spread:g} s, "
                  f"first request -> last accepted {result['first_request_to_last_accepted_s']} s; "
                  f"token p50/p99 {result['token_p50_ms']}/{result['token_p99_ms']} ms; "
                  f"join p50/p99 {result['join_p50_ms']}/{result['join_p99_ms']} ms; "
                  f"errors {result['errors']}; cpu {result['cpu_s']}; "
                  f"held {result['module']['joins_held']} (on a prefetch "
                  f"{result['module']['joins_held_prefetching']}), from cache "
                  f"{result['module']['prejoin_decided_from_cache']}", file=sys.stderr)
        out: dict[str, Any] = {"phases": phases, "provisioning_s": round(provisioned_in, 1)}
        if len(phases) == 2 and phases[0]["join_p99_ms"] and phases[1]["join_p99_ms"]:
            out["join_p99_ratio_storm_over_slow"] = round(phases[0]["join_p99_ms"] / phases[1]["join_p99_ms"], 2)
            out["join_from_request_p99_ratio"] = round(
                phases[0]["join_from_request_p99_ms"] / phases[1]["join_from_request_p99_ms"], 2)
        out["prosody_log_excerpt"] = w.prosody.log_excerpt(10) if w.prosody else None
        return out
    finally:
        for gen in loadgens:
            gen.close()
        w.close_clients()
        if w.prosody:
            w.prosody.stop()
        w.roomkey.stop()
        w.backends.close()
        if args.keep_tmp:
            print(f"kept run dir {run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


def median_of(runs: list[dict[str, Any]], *path: Any) -> float | None:
    values = []
    for run in runs:
        value: Any = run
        try:
            for key in path:
                value = value[key]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(value, (int, float)):
            values.append(value)
    return round(statistics.median(values), 3) if values else None


def machine() -> dict[str, Any]:
    model = None
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines()
                      if ln.startswith("Model name")), None)
    except (OSError, subprocess.SubprocessError):
        pass
    return {"cpus": os.cpu_count(), "model": model, "platform": platform.platform(),
            "python": platform.python_version(), "load_average": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roomkey", type=Path, default=REPO / "target" / "release" / "roomkey")
    parser.add_argument("--viewers", type=int, default=5000)
    parser.add_argument("--spread", type=float, default=10.0, help="seconds over which the storm arrives")
    parser.add_argument("--front-loaded", action="store_true",
                        help="half of the viewers in the first second, the rest over the remaining spread")
    parser.add_argument("--slow-mode", choices=("same-n", "tenth-n", "none"), default="same-n",
                        help="the 1/10th-rate phase: the same N over 10x the spread (default), "
                             "N/10 over the same spread, or none")
    parser.add_argument("--procs", type=int, default=1, help="load-generator processes (default 1)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds a viewer may take from its scheduled start to being in")
    parser.add_argument("--attendance-timeout", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=2.0, help="pause before each phase (s)")
    parser.add_argument("--presence-broadcast", choices=("all", "moderator"), default="all",
                        help="whose presence the MUC broadcasts (Prosody's default: all roles)")
    parser.add_argument("--tcp-backlog", type=int, default=0,
                        help="Prosody's network_settings.tcp_backlog (default: Prosody's, 128)")
    parser.add_argument("--module", type=Path,
                        help="load this mod_roomkey.lua instead of prosody-plugins/mod_roomkey.lua "
                             "(its folder goes first in plugin_paths), to measure a change")
    parser.add_argument("--gc", choices=("incremental", "generational"), default="generational")
    parser.add_argument("--keep-tmp", action="store_true")
    args = parser.parse_args(argv)
    if not args.roomkey.is_file():
        print(f"no roomkey binary at {args.roomkey} (cargo build --release --bin roomkey)", file=sys.stderr)
        return EXIT_USAGE
    args.roomkey = args.roomkey.resolve()
    if args.module:
        if args.module.name != "mod_roomkey.lua" or not args.module.is_file():
            print("--module must name a file called mod_roomkey.lua", file=sys.stderr)
            return EXIT_USAGE
        args.module = args.module.resolve()
    try:
        tools = find_prosody()
    except Skip as e:
        print(f"join_storm: skipped: {e}", file=sys.stderr)
        return EXIT_SKIP

    before = machine()
    runs = []
    for n in range(args.runs):
        print(f"run {n + 1}:", file=sys.stderr)
        runs.append(one_run(args, tools))
        if "join_p99_ratio_storm_over_slow" in runs[-1]:
            print(f"  join-acceptance p99 storm / slow: {runs[-1]['join_p99_ratio_storm_over_slow']}",
                  file=sys.stderr)
    keys = ("first_request_to_last_accepted_s", "token_p50_ms", "token_p99_ms", "join_p50_ms",
            "join_p99_ms", "join_from_request_p50_ms", "join_from_request_p99_ms",
            "start_lag_p99_ms", "errors", "accepted", "attendance_complete_after_last_join_s")
    median: dict[str, Any] = {}
    for k, name in enumerate(p["phase"] for p in runs[0]["phases"]):
        m = {key: median_of(runs, "phases", k, key) for key in keys}
        m["cpu_s"] = {c: median_of(runs, "phases", k, "cpu_s", c)
                      for c in ("roomkey", "prosody", "loadgen", "other", "window_s")}
        m["joins_held"] = median_of(runs, "phases", k, "module", "joins_held")
        m["joins_held_prefetching"] = median_of(runs, "phases", k, "module", "joins_held_prefetching")
        median[name] = m
    median["join_p99_ratio_storm_over_slow"] = median_of(runs, "join_p99_ratio_storm_over_slow")
    median["join_from_request_p99_ratio"] = median_of(runs, "join_from_request_p99_ratio")
    summary = {
        "machine": before,
        "load_average_after": os.getloadavg(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "runs": runs,
        "median": median,
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
