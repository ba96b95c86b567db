"""Shared plumbing for the Prosody harnesses in this directory.

A throwaway Prosody (Debian's 0.12 with lua5.4) on loopback ports, the Lua library
shims Debian 12 needs for jitsi-meet's plugins, and a minimal BOSH client that speaks
XMPP the way lib-jitsi-meet does. Used by verify_tokens.py (stock token plugins) and
live_enforcement.py (mod_roomkey against a real roomkey).

Python 3.11 standard library only.
"""

from __future__ import annotations

import base64
import ctypes
import http.client
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from xml.sax.saxutils import quoteattr

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_SKIP = 0, 1, 2, 77

NS_BOSH = "http://jabber.org/protocol/httpbind"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_JITMEET = "http://jitsi.org/jitmeet"

# Lua modules jitsi-meet's token plugins `require`, with the Debian package providing each.
REQUIRED_LUA_MODULES = {
    "cjson.safe": "lua-cjson",
    "openssl.pkey": "lua-luaossl",
    "openssl.hmac": "lua-luaossl",
    "openssl.digest": "lua-luaossl",
    "basexx": "lua-basexx",
    "inspect": "lua-inspect",
    "ssl": "lua-sec",
    "socket": "lua-socket",
}

# Pure-Lua modules Debian 12 ships only for older Lua versions (lua-basexx:
# 5.1/5.2, lua-inspect: 5.1-5.3) while Prosody 0.12 runs on lua5.4. When the
# interpreter cannot load them, the run gets a private LUA_PATH directory of
# symlinks to the older copies (pure Lua, so they load fine on 5.4).
SHIMMABLE_LUA_MODULES = ("basexx", "inspect")
SHIM_SEARCH_DIRS = ("/usr/share/lua/5.3", "/usr/share/lua/5.2", "/usr/share/lua/5.1")


# --------------------------------------------------------------------------
# Errors


class Skip(Exception):
    """A prerequisite is missing: exit 77 so the caller can skip."""


class UsageError(Exception):
    """The input is malformed: exit 2."""


class HarnessError(Exception):
    """Prosody or the protocol misbehaved: exit 1."""


class BoshTerminated(Exception):
    def __init__(self, condition: str):
        super().__init__(f"BOSH session terminated: {condition}")
        self.condition = condition


# --------------------------------------------------------------------------
# Prosody and its Lua libraries


def lua_str(value: str) -> str:
    """Quote a string as a Lua literal (config values come from the input)."""
    out = []
    for ch in value:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\{code:03d}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def lua_list(values: list[str]) -> str:
    return "{ " + "; ".join(lua_str(v) for v in values) + "; }"


@dataclass
class Tools:
    prosody: str
    prosodyctl: str
    lua: str
    plugins_dir: Path | None = None


def find_prosody() -> Tools:
    """Prosody, prosodyctl and Prosody's own Lua interpreter, or Skip."""
    prosody = shutil.which("prosody")
    prosodyctl = shutil.which("prosodyctl")
    if not prosody or not prosodyctl:
        raise Skip("prosody/prosodyctl not on PATH (apt-get install prosody)")
    # Prosody's own interpreter, from its shebang ("#!/usr/bin/env lua5.4").
    with open(prosody, "rb") as f:
        shebang = f.readline().decode("utf-8", "replace").strip()
    lua = shebang.split()[-1] if shebang.startswith("#!") else "lua5.4"
    lua = shutil.which(lua) or lua
    if not shutil.which(lua):
        raise Skip(f"Prosody's Lua interpreter {lua!r} not found")
    return Tools(prosody, prosodyctl, lua)


def lua_can_require(lua: str, module: str, env: dict[str, str]) -> bool:
    result = subprocess.run(
        [lua, "-e", f"require({lua_str(module)})"],
        env=env,
        capture_output=True,
        timeout=30,
    )
    return result.returncode == 0


def prepare_lua_env(tools: Tools, shim_dir: Path,
                    required: dict[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """Environment for Prosody: LUA_PATH_5_4 gains a shim dir when needed.

    `required` maps Lua modules that must load to the Debian package providing them
    (default: what jitsi-meet's token plugins need)."""
    env = dict(os.environ)
    shimmed = []
    for module in SHIMMABLE_LUA_MODULES:
        if lua_can_require(tools.lua, module, env):
            continue
        for d in SHIM_SEARCH_DIRS:
            candidate = Path(d) / f"{module}.lua"
            if candidate.is_file():
                shim_dir.mkdir(exist_ok=True)
                (shim_dir / f"{module}.lua").symlink_to(candidate)
                shimmed.append(str(candidate))
                break
    if shimmed:
        version = re.search(r"(\d)\.(\d)", Path(tools.lua).name)
        var = f"LUA_PATH_{version.group(1)}_{version.group(2)}" if version else "LUA_PATH"
        # ";;" stands for the interpreter's default path.
        env[var] = f"{shim_dir}/?.lua;" + env.get(var, env.get("LUA_PATH", ";;"))
    missing = sorted(
        {pkg for mod, pkg in (REQUIRED_LUA_MODULES if required is None else required).items() if not lua_can_require(tools.lua, mod, env)}
    )
    if missing:
        raise Skip(f"Lua libraries missing for {tools.lua}: apt-get install {' '.join(missing)}")
    return env, shimmed


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    # Linux: SIGTERM Prosody if this harness dies without running its cleanup.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Prosody:
    def __init__(self, tools: Tools, env: dict[str, str], run_dir: Path, config: Path, http_port: int,
                 domain: str):
        self.tools, self.env, self.run_dir, self.config = tools, env, run_dir, config
        self.http_port, self.domain = http_port, domain
        self.proc: subprocess.Popen[bytes] | None = None

    def register(self, user: str, host: str, password: str) -> None:
        result = subprocess.run(
            [self.tools.prosodyctl, "--config", str(self.config), "register", user, host, password],
            env=self.env, capture_output=True, timeout=60, cwd=self.run_dir,
        )
        if result.returncode != 0:
            raise HarnessError(
                f"prosodyctl register failed ({result.returncode}): "
                f"{result.stdout.decode(errors='replace')}{result.stderr.decode(errors='replace')}"
            )

    def start(self, timeout: float) -> None:
        out = open(self.run_dir / "prosody.stdout", "wb")
        self.proc = subprocess.Popen(
            [self.tools.prosody, "-F", "--config", str(self.config)],
            env=self.env, cwd=self.run_dir, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"prosody exited with status {self.proc.returncode} during startup")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=2)
                conn.request("GET", "/http-bind", headers={"Host": self.domain})
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise HarnessError(f"BOSH did not answer on 127.0.0.1:{self.http_port} within {timeout}s")

    def stop(self) -> None:
        """Stop our Prosody, by its PID only."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def version(self) -> str | None:
        try:
            text = (self.run_dir / "prosody.log").read_text(errors="replace")
        except OSError:
            return None
        m = re.search(r"Prosody version (\S+)", text)
        return m.group(1) if m else None

    def log_excerpt(self, lines: int = 60) -> str:
        """Warnings and errors from prosody.log (the debug noise left out)."""
        try:
            text = (self.run_dir / "prosody.log").read_text(errors="replace")
        except OSError:
            return "(no prosody.log)"
        picked = [ln for ln in text.splitlines() if "\twarn\t" in ln or "\terror\t" in ln]
        return "\n".join(picked[-lines:]) or "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------
# A minimal BOSH (XEP-0124/0206) client: one request in flight at a time.


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def ns_of(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


class Bosh:
    def __init__(self, port: int, domain: str, wait: int, token: str | None = None):
        self.port, self.domain, self.wait = port, domain, wait
        self.path = "/http-bind" + (f"?token={urllib.parse.quote(token, safe='')}" if token else "")
        self.rid = random.randint(10**6, 10**9)
        self.sid: str | None = None
        self.inbox: list[ET.Element] = []
        self.inbox_at: list[float] = []  # time.monotonic() each inbox element arrived
        self.matched_at: float | None = None  # arrival time of the last wait_for match
        self.jid: str | None = None

    def _post(self, body: str) -> ET.Element:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.wait + 30)
        try:
            conn.request("POST", self.path, body.encode(), {
                "Host": self.domain, "Content-Type": "text/xml; charset=utf-8",
            })
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise HarnessError(f"BOSH HTTP {resp.status}: {data[:300]!r}")
        arrived = time.monotonic()
        root = ET.fromstring(data)
        self.inbox.extend(list(root))
        self.inbox_at.extend(arrived for _ in root)
        if root.get("type") == "terminate":
            raise BoshTerminated(root.get("condition", "unspecified"))
        return root

    def _send(self, payload: str = "", **attrs: str) -> None:
        self.rid += 1
        extra = "".join(f" {k.replace('_', ':', 1) if k.startswith('xmpp_') else k}={quoteattr(v)}"
                        for k, v in attrs.items())
        body = (f"<body rid='{self.rid}' sid={quoteattr(self.sid or '')} xmlns='{NS_BOSH}'"
                f" xmlns:xmpp='urn:xmpp:xbosh'{extra}>{payload}</body>")
        self._post(body)

    def open(self) -> None:
        body = (f"<body rid='{self.rid}' to={quoteattr(self.domain)} xml:lang='en' wait='{self.wait}'"
                f" hold='1' ver='1.6' xmpp:version='1.0' content='text/xml; charset=utf-8'"
                f" xmlns='{NS_BOSH}' xmlns:xmpp='urn:xmpp:xbosh'/>")
        root = self._post(body)
        self.sid = root.get("sid")
        if not self.sid:
            raise HarnessError("BOSH session creation returned no sid")

    def send(self, stanza: str) -> None:
        self._send(stanza)

    def wait_for(self, pred: Callable[[ET.Element], bool], timeout: float) -> ET.Element | None:
        deadline = time.monotonic() + timeout
        while True:
            for i, el in enumerate(self.inbox):
                if pred(el):
                    self.matched_at = self.inbox_at.pop(i)
                    return self.inbox.pop(i)
            if time.monotonic() >= deadline:
                return None
            self._send()  # empty poll: the server holds it until data or `wait`

    def features(self, timeout: float) -> ET.Element:
        el = self.wait_for(lambda e: local(e.tag) == "features", timeout)
        if el is None:
            raise HarnessError("no stream features received")
        return el

    def sasl(self, mechanism: str, initial: bytes, timeout: float) -> dict[str, Any]:
        feats = self.features(timeout)
        offered = [m.text for m in feats.iter() if local(m.tag) == "mechanism"]
        if mechanism not in offered:
            return {"ok": False, "condition": "mechanism-not-offered", "text": f"offered: {offered}"}
        data = base64.b64encode(initial).decode() if initial else "="
        self.send(f"<auth xmlns='{NS_SASL}' mechanism='{mechanism}'>{data}</auth>")
        el = self.wait_for(lambda e: ns_of(e.tag) == NS_SASL and local(e.tag) in ("success", "failure"),
                           timeout)
        if el is None:
            return {"ok": False, "condition": "timeout", "text": f"no SASL answer within {timeout}s"}
        if local(el.tag) == "success":
            return {"ok": True}
        condition = next((local(c.tag) for c in el if local(c.tag) != "text"), "unspecified")
        text = next((c.text for c in el if local(c.tag) == "text"), None)
        return {"ok": False, "condition": condition, "text": text}

    def restart(self) -> None:
        """A stream restart after SASL success (XEP-0206)."""
        self._send(xmpp_restart="true", to=self.domain)

    def restart_and_bind(self, resource: str, timeout: float) -> str:
        self.restart()
        self.features(timeout)
        self.send(f"<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='{NS_BIND}'>"
                  f"<resource>{resource}</resource></bind></iq>")
        el = self.wait_for(lambda e: local(e.tag) == "iq" and e.get("id") == "bind1", timeout)
        if el is None or el.get("type") != "result":
            raise HarnessError("resource bind failed")
        jid_el = next((c for c in el.iter() if local(c.tag) == "jid"), None)
        self.jid = jid_el.text if jid_el is not None else None
        return self.jid or ""

    def join(self, occupant_jid: str, timeout: float) -> dict[str, Any]:
        self.send(f"<presence xmlns='jabber:client' to={quoteattr(occupant_jid)}>"
                  f"<x xmlns='{NS_MUC}'/></presence>")
        want = occupant_jid.lower()

        def is_answer(e: ET.Element) -> bool:
            if local(e.tag) != "presence" or (e.get("from") or "").lower() != want:
                return False
            if e.get("type") == "error":
                return True
            return any(local(s.tag) == "status" and s.get("code") == "110" for s in e.iter())

        el = self.wait_for(is_answer, timeout)
        if el is None:
            return {"ok": False, "condition": "timeout", "text": f"no join answer within {timeout}s"}
        if el.get("type") == "error":
            err = next((c for c in el if local(c.tag) == "error"), None)
            result: dict[str, Any] = {"ok": False, "condition": "unspecified", "text": None,
                                      "jitsi_error": None}
            for c in err if err is not None else []:
                if ns_of(c.tag) == NS_STANZAS and local(c.tag) == "text":
                    result["text"] = c.text
                elif ns_of(c.tag) == NS_STANZAS:
                    result["condition"] = local(c.tag)
                elif ns_of(c.tag) == NS_JITMEET:
                    result["jitsi_error"] = local(c.tag)
            return result
        item = next((c for c in el.iter() if local(c.tag) == "item" and ns_of(c.tag) == NS_MUC_USER), None)
        return {
            "ok": True,
            "affiliation": item.get("affiliation") if item is not None else None,
            "role": item.get("role") if item is not None else None,
        }

    def login(self, user: str, password: str, resource: str, timeout: float) -> str:
        """Open, SASL PLAIN and bind; the full JID."""
        self.open()
        sasl = self.sasl("PLAIN", f"\0{user}\0{password}".encode(), timeout)
        if not sasl["ok"]:
            raise HarnessError(f"login of {user!r} failed: {sasl}")
        return self.restart_and_bind(resource, timeout)

    def leave(self, occupant_jid: str) -> None:
        self.send(f"<presence xmlns='jabber:client' to={quoteattr(occupant_jid)} type='unavailable'/>")

    def wait_removed(self, occupant_jid: str, timeout: float) -> dict[str, Any] | None:
        """This client's own unavailable presence from the room (kick, ban, destroy):
        its status codes and reason, or None if none came within `timeout`."""
        want = occupant_jid.lower()

        def is_own_unavailable(e: ET.Element) -> bool:
            return (local(e.tag) == "presence" and e.get("type") == "unavailable"
                    and (e.get("from") or "").lower() == want)

        el = self.wait_for(is_own_unavailable, timeout)
        if el is None:
            return None
        x = next((c for c in el if local(c.tag) == "x" and ns_of(c.tag) == NS_MUC_USER), None)
        codes = [s.get("code") for s in (x.iter() if x is not None else []) if local(s.tag) == "status"]
        reason = next((r.text for r in (x.iter() if x is not None else []) if local(r.tag) == "reason"), None)
        return {"codes": codes, "reason": reason}

    def close(self) -> None:
        try:
            self._send("<presence xmlns='jabber:client' type='unavailable'/>", type="terminate")
        except (BoshTerminated, HarnessError, OSError, ET.ParseError):
            pass


# --------------------------------------------------------------------------
# A minimal XMPP-over-WebSocket (RFC 7395 framing over RFC 6455) client with the
# same interface as Bosh, the way lib-jitsi-meet connects when `websocket` is set.
# A reader thread timestamps each frame as it arrives; the socket has TCP_NODELAY,
# as browsers set it, so only the server's side of Nagle's algorithm is in play.

NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"


class WebSocketXmpp(Bosh):
    def __init__(self, port: int, domain: str, wait: int, token: str | None = None):
        super().__init__(port, domain, wait, token)
        self.path = "/xmpp-websocket" + (f"?token={urllib.parse.quote(token, safe='')}" if token else "")
        self.sock: socket.socket | None = None
        self.cond = threading.Condition()
        self.reader: threading.Thread | None = None
        self.closed: str | None = None
        self.send_lock = threading.Lock()

    def _frame(self, opcode: int, payload: bytes) -> None:
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if self.sock is None:
            raise OSError("WebSocket already closed")
        with self.send_lock:
            self.sock.sendall(head + mask + masked)

    @staticmethod
    def _read_exact(sock: socket.socket, buf: bytearray, n: int) -> bytes:
        while len(buf) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("WebSocket closed by the server")
            buf.extend(chunk)
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def _read_loop(self, sock: socket.socket, buf: bytearray) -> None:
        message = b""
        try:
            while True:
                b0, b1 = self._read_exact(sock, buf, 2)
                n = b1 & 0x7F
                if n == 126:
                    n = int.from_bytes(self._read_exact(sock, buf, 2), "big")
                elif n == 127:
                    n = int.from_bytes(self._read_exact(sock, buf, 8), "big")
                payload = self._read_exact(sock, buf, n)
                opcode = b0 & 0x0F
                if opcode == 0x9:  # ping
                    self._frame(0xA, payload)
                    continue
                if opcode == 0x8:  # close
                    raise ConnectionError("WebSocket close frame")
                if opcode in (0x1, 0x2, 0x0):
                    message += payload
                    if not b0 & 0x80:
                        continue
                    arrived = time.monotonic()
                    el = ET.fromstring(message.decode())
                    message = b""
                    with self.cond:
                        self.inbox.append(el)
                        self.inbox_at.append(arrived)
                        self.cond.notify_all()
        except (OSError, ConnectionError, ET.ParseError, ValueError) as e:
            with self.cond:
                self.closed = str(e) or type(e).__name__
                self.cond.notify_all()

    def open(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {self.path} HTTP/1.1\r\nHost: {self.domain}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n").encode())
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise HarnessError("WebSocket handshake: connection closed")
            buf.extend(chunk)
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise HarnessError(f"WebSocket handshake refused: {head[:200]!r}")
        sock.settimeout(None)
        self.sock = sock
        self.reader = threading.Thread(target=self._read_loop, args=(sock, bytearray(rest)), daemon=True)
        self.reader.start()
        self._open_stream()

    def _open_stream(self) -> None:
        self.send(f"<open xmlns='{NS_FRAMING}' to={quoteattr(self.domain)} version='1.0'/>")

    def restart(self) -> None:
        self._open_stream()

    def send(self, stanza: str) -> None:
        self._frame(0x1, stanza.encode())

    def wait_for(self, pred: Callable[[ET.Element], bool], timeout: float) -> ET.Element | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, el in enumerate(self.inbox):
                    if pred(el):
                        self.matched_at = self.inbox_at.pop(i)
                        return self.inbox.pop(i)
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return None
                self.cond.wait(left)

    def close(self) -> None:
        if self.sock is None:
            return
        try:
            self.send("<presence xmlns='jabber:client' type='unavailable'/>")
            self.send(f"<close xmlns='{NS_FRAMING}'/>")
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.sock = None
