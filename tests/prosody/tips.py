#!/usr/bin/env python3
"""Tips in the running room, end to end: the real roomkey binary and a real Prosody with
mod_roomkey, checked with real XMPP clients over BOSH (or WebSocket).

A viewer tips through roomkey's API (`POST /api/rooms/{room}/tip`, with a message), the
payment provider confirms it with a signed webhook (Standard Webhooks, as Meru sends
them), and every client in the room must receive the stanza stock Jitsi Meet shows as a
chat line (PROTOCOL.md, "What an `announce` looks like to a client"):

  <message from='<room>@<muc>'>
    <json-message xmlns='http://jitsi.org/jitmeet'>
      {"type":"system_chat_message","message":"<who> tipped <amount>: <message>","displayName":…}

Checked:

  * the performer and a viewer in the room both get it, from the room's own JID, with
    who, how much and the message, within a second of the webhook's answer;
  * the same webhook delivered again shows nothing more;
  * an anonymous tip names nobody;
  * a refunded tip and a tip that never got confirmed show nothing;
  * a tip to another room does not reach this one;
  * the module refuses an `announce` without a usable message (400).

Usage: tips.py --roomkey target/debug/roomkey [--transport bosh|websocket] [--keep-tmp]
Exit status as live_enforcement.py: 0 passed, 1 a check failed, 2 bad arguments,
77 Prosody or its Lua libraries are missing (the caller skips).

Python 3.11 standard library only. roomkey runs on its SQLite file, or on PostgreSQL and
Redis when TEST_DATABASE_URL and TEST_REDIS_URL are set (as live_enforcement.py does).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
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
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import live_enforcement as live  # noqa: E402  (path set up above)
from prosody_harness import (  # noqa: E402
    EXIT_MISMATCH, EXIT_OK, EXIT_SKIP, EXIT_USAGE, NS_JITMEET, Bosh, BoshTerminated, HarnessError,
    Skip, Tools, find_prosody, local, ns_of, prepare_lua_env,
)

ROOM = "tipshow"
OTHER_ROOM = "othershow"
SERVICE_KEY = "tips-service-key-" + "0123456789abcdef"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"tips-webhook-secret-0123456789ab").decode()
# What a tip must reach the room within, from the webhook's answer (the promise).
WITHIN_S = 1.0


def configure(w: live.World) -> None:
    """roomkey's settings for tips: a service key to tip on a viewer's behalf and a signed
    webhook provider. They ride with the backend settings, which `Roomkey.start` passes on."""
    w.backends.env.update({
        "ROOMKEY_AUTH__SERVICE_KEYS": json.dumps([SERVICE_KEY]),
        "ROOMKEY_PAYMENTS__PROVIDERS__MERU__SCHEME": "standard",
        "ROOMKEY_PAYMENTS__PROVIDERS__MERU__SECRETS": json.dumps([WEBHOOK_SECRET]),
    })


def create_user(w: live.World, handle: str, display_name: str, role: str = "viewer") -> str:
    reply = w.roomkey.api("POST", "/api/admin/users", {
        "handle": handle, "email": f"{handle}@example.com", "role": role,
        "display_name": display_name})
    w.users[handle] = reply["id"]
    return reply["id"]


def create_room(w: live.World, name: str, owner: str) -> None:
    w.roomkey.api("POST", "/api/admin/rooms", {
        "name": name, "title": name.title(), "owner_id": w.users[owner], "access": "paid",
        "price": live.PRICE})


def checkout_tip(w: live.World, handle: str, room: str, amount_minor: int,
                 message: str | None = None, anonymous: bool = False) -> str:
    """A tip checkout made for `handle` (a service key naming them); its reference."""
    body: dict[str, Any] = {"amount_minor": amount_minor, "currency": "USD", "provider": "meru",
                            "anonymous": anonymous}
    if message is not None:
        body["message"] = message
    status, reply = live.http_json(w.roomkey.port, "POST", f"/api/rooms/{room}/tip", body,
                                   bearer=SERVICE_KEY, headers={"X-Roomkey-User": w.users[handle]})
    if status != 201:
        raise HarnessError(f"tip checkout -> {status}: {reply}")
    return reply["reference"]


def webhook(w: live.World, reference: str, amount_minor: int, kind: str = "payment.succeeded",
            event_id: str | None = None) -> tuple[int, Any]:
    """The provider's signed confirmation (Standard Webhooks), as Meru sends it."""
    event_id = event_id or f"evt_{uuid.uuid4().hex[:12]}"
    body = json.dumps({"id": event_id, "type": kind, "data": {
        "reference": reference, "provider_ref": f"pay_{reference}",
        "amount_minor": amount_minor, "currency": "USD"}}).encode()
    delivery, timestamp = f"msg_{event_id}", str(int(time.time()))
    key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{delivery}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return live.http_json(w.roomkey.port, "POST", "/api/webhooks/meru", raw=body, headers={
        "webhook-id": delivery, "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode()})


def announcement(el: ET.Element, room: str) -> dict[str, Any] | None:
    """The payload if `el` is a chat line Jitsi Meet would show from `room`, else None."""
    if local(el.tag) != "message" or (el.get("from") or "").lower() != f"{room}@{live.MUC}":
        return None
    if el.get("type") == "error":
        return None
    carried = next((c for c in el if local(c.tag) == "json-message" and ns_of(c.tag) == NS_JITMEET), None)
    if carried is None or not carried.text:
        return None
    try:
        payload = json.loads(carried.text)
    except json.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or payload.get("type") != "system_chat_message":
        return None
    return payload


class Watch:
    """Waits in the background for the next chat line from `room` at `client`, so the
    webhook can be sent while the client's long-poll is open."""

    def __init__(self, client: Bosh, room: str, timeout: float):
        self.client, self.room = client, room
        self.payload: dict[str, Any] | None = None
        self.at: float | None = None
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, args=(timeout,), daemon=True)
        self.thread.start()
        time.sleep(0.02)  # let the long-poll reach Prosody

    def _run(self, timeout: float) -> None:
        try:
            el = self.client.wait_for(lambda e: announcement(e, self.room) is not None, timeout)
        except (HarnessError, BoshTerminated, OSError, ET.ParseError) as e:
            self.error = e
            return
        if el is not None:
            self.payload = announcement(el, self.room)
            self.at = self.client.matched_at

    def result(self) -> tuple[dict[str, Any] | None, float | None]:
        self.thread.join()
        if self.error:
            raise HarnessError(f"waiting for the tip: {self.error}")
        return self.payload, self.at


def tip_and_watch(w: live.World, clients: list[Bosh], reference: str, amount_minor: int,
                  room: str = ROOM, wait: float = 5.0, **kw: Any) -> dict[str, Any]:
    """Confirms `reference` while each client waits for a chat line; what each one got and
    how long after the webhook's answer."""
    watches = [Watch(c, room, wait) for c in clients]
    sent = time.monotonic()
    status, reply = webhook(w, reference, amount_minor, **kw)
    answered = time.monotonic()
    got = []
    for watch in watches:
        payload, at = watch.result()
        got.append({"payload": payload,
                    "after_answer_s": None if at is None else round(at - answered, 4),
                    "after_call_s": None if at is None else round(at - sent, 4)})
    return {"status": status, "reply": reply, "got": got}


def setup(w: live.World) -> None:
    create_user(w, "alex", "Alex Stage", "performer")
    create_user(w, "ada", "Ada Lovelace")
    create_user(w, "kim", "Kim")
    create_room(w, ROOM, "alex")
    create_room(w, OTHER_ROOM, "alex")
    for handle in ("ada", "kim"):
        w.grant(handle, ROOM, 3600)


def run_checks(w: live.World) -> None:
    r = w.report
    alex, kim = w.as_user("alex"), w.as_user("kim")
    for handle, client in (("alex", alex), ("kim", kim)):
        got = client.join(live.occ(ROOM, handle), w.args.step_timeout)
        if not got.get("ok"):
            raise HarnessError(f"{handle} could not join: {got}")
    in_room = [alex, kim]

    reference = checkout_tip(w, "ada", ROOM, 2_500, message="great show!\nencore")
    event_id = f"evt_{uuid.uuid4().hex[:12]}"
    seen = tip_and_watch(w, in_room, reference, 2_500, event_id=event_id)
    r.check("tip: the webhook is answered 200", seen["status"] == 200, seen["reply"])
    want = "Ada Lovelace tipped 25.00 USD: great show! encore"
    for who, got in zip(("performer", "viewer"), seen["got"]):
        payload = got["payload"] or {}
        r.check(f"tip: the {who} gets the chat line Jitsi Meet shows (who, how much, message)",
                payload.get("message") == want and payload.get("displayName") == "Tips", got)
        r.check(f"tip: it reaches the {who} within {WITHIN_S} s of the webhook's answer",
                got["after_answer_s"] is not None and got["after_answer_s"] <= WITHIN_S, got)

    replay = tip_and_watch(w, [kim], reference, 2_500, wait=1.5, event_id=event_id)
    r.check("tip: the same webhook again is answered 200 and shows nothing more",
            replay["status"] == 200 and replay["got"][0]["payload"] is None, replay)

    anonymous = checkout_tip(w, "ada", ROOM, 1_000, message="shh", anonymous=True)
    seen = tip_and_watch(w, [kim], anonymous, 1_000)
    payload = seen["got"][0]["payload"] or {}
    r.check("tip: an anonymous tip names nobody",
            payload.get("message") == "Someone tipped 10.00 USD: shh", seen)

    refunded = checkout_tip(w, "ada", ROOM, 700, message="oops")
    seen = tip_and_watch(w, [kim], refunded, 700, kind="payment.refunded", wait=1.5)
    r.check("tip: a tip refunded before it was confirmed shows nothing",
            seen["status"] == 200 and seen["got"][0]["payload"] is None, seen)
    pending = checkout_tip(w, "ada", ROOM, 800)
    seen = tip_and_watch(w, [kim], pending, 800, kind="payment.pending", wait=1.5)
    r.check("tip: a pending tip shows nothing yet", seen["got"][0]["payload"] is None, seen)

    elsewhere = checkout_tip(w, "ada", OTHER_ROOM, 900, message="other room")
    seen = tip_and_watch(w, [kim], elsewhere, 900, wait=1.5)
    r.check("tip: a tip to another room does not reach this one",
            seen["status"] == 200 and seen["got"][0]["payload"] is None, seen)


def check_malformed_announcements(w: live.World) -> None:
    """The module refuses an `announce` without a usable message (400), like any malformed
    command."""
    for name, command in (
            ("without a message", {"type": "announce", "room": ROOM}),
            ("with an empty message", {"type": "announce", "room": ROOM, "message": ""}),
            ("with a message over 2000 bytes", {"type": "announce", "room": ROOM, "message": "x" * 2001}),
            ("with a display name that is not text", {"type": "announce", "room": ROOM, "message": "hi",
                                                      "display_name": 7})):
        body = json.dumps({"id": str(uuid.uuid4()), **command}).encode()
        now = int(time.time())
        status, reply = live.http_json(w.http_port, "POST", "/roomkey/commands", raw=body, headers={
            "X-Roomkey-Timestamp": str(now), "X-Roomkey-Signature": live.sign(w.secret, "command", now, body)})
        w.report.check(f"announce {name}: 400", status == 400, {"status": status, "body": reply})


def start_world(args: argparse.Namespace, tools: Tools, run_dir: Path) -> live.World:
    """roomkey and Prosody running, with the users and rooms of `setup`."""
    w = live.World(args, tools, run_dir)
    configure(w)
    env, _ = prepare_lua_env(tools, run_dir / "lua-shim", required={"socket": "lua-socket"})
    w.start_prosody(env)
    w.roomkey.start(shards=[w.commands_url("/roomkey")])
    setup(w)
    w.register([(uid, live.DOMAIN) for uid in w.users.values()])
    assert w.prosody is not None
    w.prosody.start(args.startup_timeout)
    return w


def run(args: argparse.Namespace, tools: Tools) -> int:
    run_dir = Path(tempfile.mkdtemp(prefix="roomkey-tips-"))
    started = time.monotonic()
    w: live.World | None = None
    try:
        w = start_world(args, tools, run_dir)
        run_checks(w)
        check_malformed_announcements(w)
    except (HarnessError, BoshTerminated, OSError, KeyError, ValueError) as e:
        if w is None:
            raise
        w.report.check("run", False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    finally:
        failed = 0
        if w is not None:
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
    assert w is not None
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
    parser.add_argument("--bosh-wait", type=int, default=5, help="BOSH 'wait' (long-poll seconds)")
    parser.add_argument("--transport", choices=("bosh", "websocket"), default="bosh",
                        help="how the XMPP clients connect (default: bosh)")
    args = parser.parse_args(argv)
    if not args.roomkey or not Path(args.roomkey).is_file():
        print("tips: pass --roomkey <binary> (cargo build --bin roomkey)", file=sys.stderr)
        return EXIT_USAGE
    args.roomkey = Path(args.roomkey).resolve()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_MISMATCH))
    try:
        return run(args, find_prosody())
    except Skip as e:
        print(f"tips: skipped: {e}", file=sys.stderr)
        print(json.dumps({"skipped": str(e)}))
        return EXIT_SKIP


if __name__ == "__main__":
    sys.exit(main())
