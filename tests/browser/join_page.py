#!/usr/bin/env python3
"""The join page in a real headless Chromium, from "visitor with no token" to "in the
Jitsi room with a valid #jwt=".

Starts the real roomkey binary (SQLite, HS256) and a small local HTTP server that stands
in for two outside sites: the Jitsi Meet web app (`jitsi.meet_url`) and ePayco's form
checkout (`payments.epayco.checkout_url`). The stand-in Jitsi page reads the token from
the fragment the way jitsi-meet does (`parseURLParams(url, false, 'hash')`: percent-decode,
then JSON.parse) and shows the claims; this script then verifies the token's HS256
signature with roomkey's key. Walks:

  1. free room: no token -> sign-up form -> into the room;
  2. paid room: pay page -> checkout form -> (stand-in) ePayco -> a confirmation signed
     with the test keys is posted to the webhook -> back to the page -> into the room;
  3. banned: a banned visitor sees the ban's reason and end, and no token;
  4. an ended show and an unknown room.

Screenshots of each state go to --screenshots. Exit 77 ("skipped") when Selenium or
Chromium is missing.
"""

import argparse
import base64
import hashlib
import hmac
import html
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADMIN_KEY = "browser-admin-key-0123456789abcdef"
CUSTOMER = "12345"
P_KEY = "0123456789abcdef0123456789abcdef"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("skipped: selenium is not installed (see .ci/run, BROWSER_PYTHON)", file=sys.stderr)
    sys.exit(77)


def log(message):
    print(f"join_page: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the stand-in sites ---------------------------------------------------------------

STAND_IN_STYLE = (
    "body{font:1rem/1.5 system-ui,sans-serif;margin:0;background:#1f2430;color:#f2f2f2}"
    "main{max-width:40rem;margin:0 auto;padding:1.5rem}code{color:#ffd479}"
    "dt{font-weight:600}dd{margin:0 0 .5rem}a,button{color:#fff;background:#2f6fba;border:0;"
    "padding:.5rem 1rem;border-radius:4px;font:inherit;text-decoration:none;display:inline-block}"
)

MEET_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Jitsi Meet (test stand-in)</title><style>%s</style></head><body><main>
<h1>Jitsi Meet &mdash; test stand-in</h1>
<p>This page stands in for the Jitsi Meet web app. It reads the token from the URL
fragment the way jitsi-meet does: the value of <code>jwt</code>, percent-decoded, then
<code>JSON.parse</code>.</p>
<dl><dt>Room</dt><dd id="room">-</dd><dt>User</dt><dd id="user">-</dd>
<dt>Moderator</dt><dd id="moderator">-</dd><dt>Token expires</dt><dd id="exp">-</dd></dl>
<p id="status">no token</p>
<script>
let jwt;
for (const part of location.hash.substring(1).split('&')) {
  const [key, value] = part.split('=');
  if (key === 'jwt') { jwt = JSON.parse(decodeURIComponent(value)); }
}
if (typeof jwt === 'string') {
  const body = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  const bytes = Uint8Array.from(atob(body), c => c.charCodeAt(0));
  const claims = JSON.parse(new TextDecoder().decode(bytes));
  document.getElementById('room').textContent = claims.room;
  document.getElementById('user').textContent = claims.context.user.name;
  document.getElementById('moderator').textContent = claims.context.user.moderator;
  document.getElementById('exp').textContent = new Date(claims.exp * 1000).toISOString();
  document.getElementById('status').textContent = 'token read from the fragment';
  document.body.dataset.jwt = jwt;
}
</script></main></body></html>""" % STAND_IN_STYLE


class StandIn(BaseHTTPRequestHandler):
    """The Jitsi page, ePayco's checkout form and ePayco's transaction lookup."""

    checkouts = []
    transactions = {}

    def log_message(self, *args):
        pass

    def _send(self, body, status=200):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        prefix = "/validation/v1/reference/"
        if self.path.startswith(prefix):
            record = StandIn.transactions.get(self.path[len(prefix):])
            answer = {"success": True, "data": record} if record else {"success": False, "data": {}}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self._send(MEET_PAGE)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        fields = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        StandIn.checkouts.append(fields)
        rows = "".join(
            f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>"
            for k, v in fields.items()
            if k in ("p_id_invoice", "p_description", "p_amount", "p_currency_code")
        )
        back = html.escape(fields.get("p_url_response", ""))
        self._send(
            f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>ePayco checkout (test stand-in)</title><style>{STAND_IN_STYLE}</style></head><body><main>
<h1>ePayco checkout &mdash; test stand-in</h1>
<p>The form roomkey's page posted (the real checkout takes the card here):</p><dl>{rows}</dl>
<p><a id="back" href="{back}">Back to the shop</a></p></main></body></html>"""
        )


# --- roomkey ------------------------------------------------------------------------


def start_roomkey(binary, workdir, port, meet_port):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ROOMKEY_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        {
            "RUST_LOG": "warn",
            "ROOMKEY_HTTP__LISTEN": f"127.0.0.1:{port}",
            "ROOMKEY_HTTP__OPS_LISTEN": f"127.0.0.1:{free_port()}",
            "ROOMKEY_HTTP__PUBLIC_URL": f"http://127.0.0.1:{port}",
            "ROOMKEY_DATABASE__URL": f"sqlite://{workdir}/roomkey.db",
            "ROOMKEY_KEYS__DIR": f"{workdir}/keys",
            "ROOMKEY_AUTH__ADMIN_KEYS": json.dumps([ADMIN_KEY]),
            "ROOMKEY_JITSI__MEET_URL": f"http://127.0.0.1:{meet_port}",
            "ROOMKEY_JITSI__SUBJECT": "meet.jitsi",
            "ROOMKEY_PAYMENTS__EPAYCO__CUSTOMER_ID": CUSTOMER,
            "ROOMKEY_PAYMENTS__EPAYCO__P_KEY": P_KEY,
            "ROOMKEY_PAYMENTS__EPAYCO__PUBLIC_KEY": "pk_test_491d6a0b6e992cf924edd8d3d088aff1",
            "ROOMKEY_PAYMENTS__EPAYCO__CHECKOUT_URL": f"http://127.0.0.1:{meet_port}/checkout",
            "ROOMKEY_PAYMENTS__EPAYCO__VALIDATION_URL": f"http://127.0.0.1:{meet_port}/validation/v1/reference",
        }
    )
    process = subprocess.Popen(
        [binary, "serve"], cwd=workdir, env=env, stdin=subprocess.DEVNULL
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"roomkey exited with {process.returncode}")
            time.sleep(0.1)
    process.kill()
    raise SystemExit("roomkey did not start listening")


def api(port, method, path, body=None, form=None):
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def confirm_epayco(port, reference, amount, currency):
    """An accepted confirmation, signed as ePayco signs it, with the test keys."""
    ref_payco = f"9{int(time.time())}"
    txid = f"tx{ref_payco}"
    signature = hashlib.sha256(
        f"{CUSTOMER}^{P_KEY}^{ref_payco}^{txid}^{amount}^{currency}".encode()
    ).hexdigest()
    fields = {
        "x_cust_id_cliente": CUSTOMER,
        "x_ref_payco": ref_payco,
        "x_transaction_id": txid,
        "x_amount": amount,
        "x_currency_code": currency,
        "x_signature": signature,
        "x_cod_transaction_state": "1",
        "x_transaction_state": "Aceptada",
        "x_test_request": "FALSE",
        "x_extra1": reference,
    }
    # ePayco's own record, which roomkey looks up before granting
    StandIn.transactions[ref_payco] = {k: v for k, v in fields.items() if k != "x_signature"}
    status, body = api(port, "POST", "/api/webhooks/epayco", form=fields)
    assert status == 200, (status, body)


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_jwt(token, secret, room):
    """HS256 signature, claims, and that it names `room`; returns the claims."""
    header, claims, signature = token.split(".")
    expected = hmac.new(secret, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(expected, b64url(signature)), "the JWT's signature verifies"
    claims = json.loads(b64url(claims))
    assert json.loads(b64url(header)) == {"alg": "HS256", "typ": "JWT"}
    assert claims["room"] == room, claims
    assert claims["iss"] == "roomkey" and claims["aud"] == "jitsi", claims
    assert claims["sub"] == "meet.jitsi", claims
    assert claims["exp"] > time.time(), claims
    return claims


# --- the browser --------------------------------------------------------------------


def browser(language):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=760,1100",
        f"--lang={language.split(',')[0]}",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # Chromium's headless mode may ignore the preference; the header is what the page reads.
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": language}}
    )
    driver.set_page_load_timeout(20)
    return driver


class Walk:
    def __init__(self, driver, port, meet_port, screenshots):
        self.driver = driver
        self.base = f"http://127.0.0.1:{port}"
        self.meet = f"http://127.0.0.1:{meet_port}"
        self.screenshots = screenshots

    def shot(self, name):
        path = os.path.join(self.screenshots, f"{name}.png")
        self.driver.save_screenshot(path)
        log(f"screenshot {path}")

    def open(self, path):
        self.driver.get(self.base + path)

    def h1(self):
        return self.driver.find_element(By.TAG_NAME, "h1").text

    def expect_h1(self, expected):
        """Waits for the page with this heading: a click that submits a form returns
        before the next page has loaded."""
        try:
            WebDriverWait(self.driver, 10).until(lambda _: self._h1_or_none() == expected)
        except Exception:
            raise AssertionError(f"expected the heading {expected!r}, got {self._h1_or_none()!r}")

    def _h1_or_none(self):
        try:
            return self.h1()
        except Exception:
            return None

    def fill(self, fields):
        for name, value in fields.items():
            element = self.driver.find_element(By.ID, name)
            element.clear()
            element.send_keys(value)

    def submit(self, action_suffix):
        form = self.driver.find_element(By.CSS_SELECTOR, f"form[action$='{action_suffix}']")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    def entered(self, room, secret):
        """Waits until the browser is in the (stand-in) Jitsi room; checks the token."""
        WebDriverWait(self.driver, 15).until(
            lambda d: d.current_url.startswith(f"{self.meet}/{room}#")
        )
        url = self.driver.current_url
        address, fragment = url.split("#", 1)
        assert "?" not in address and "jwt" not in address, url
        assert fragment.startswith("jwt=%22"), url
        token = json.loads(urllib.parse.unquote(fragment[len("jwt=") :]))
        WebDriverWait(self.driver, 5).until(
            lambda d: d.find_element(By.ID, "status").text == "token read from the fragment"
        )
        read_by_page = self.driver.find_element(By.TAG_NAME, "body").get_attribute("data-jwt")
        assert read_by_page == token, "the page read the same token from the fragment"
        return verify_jwt(token, secret, room)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--roomkey", required=True)
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        print(f"skipped: {CHROMIUM} or {CHROMEDRIVER} is missing", file=sys.stderr)
        return 77
    os.makedirs(args.screenshots, exist_ok=True)

    meet_port = free_port()
    stand_in = ThreadingHTTPServer(("127.0.0.1", meet_port), StandIn)
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    workdir = tempfile.mkdtemp(prefix="roomkey-browser-")
    port = free_port()
    roomkey = start_roomkey(args.roomkey, workdir, port, meet_port)
    drivers = []
    try:
        secret = open(os.path.join(workdir, "keys", "hs256.secret")).read().strip().encode()
        status, performer = api(
            port,
            "POST",
            "/api/admin/users",
            {"handle": "alex", "email": "alex@example.com", "role": "performer"},
        )
        assert status == 201, performer
        for name, title, access in (
            ("FreeShow", "Acústico en vivo", "free"),
            ("PaidShow", "Live with Alex", "paid"),
            ("EndedShow", "Last night's show", "free"),
        ):
            body = {"name": name, "title": title, "owner_id": performer["id"], "access": access}
            if access == "paid":
                body["price"] = {"amount_minor": 5_000_000, "currency": "COP"}
            status, room = api(port, "POST", "/api/admin/rooms", body)
            assert status == 201, room

        # 1. A visitor without a token, in Spanish: sign up, then into the free room.
        driver = browser("es-CO,es;q=0.9,en;q=0.5")
        drivers.append(driver)
        walk = Walk(driver, port, meet_port, args.screenshots)
        walk.open("/join/FreeShow")
        walk.expect_h1("Inicia sesión para entrar")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
        walk.shot("01-sign-in-es")
        walk.fill(
            {
                "handle": "ana",
                "email": "ana@example.com",
                "display_name": "Ana María",
                "new_password": "correct horse battery",
            }
        )
        walk.submit("/sign-up")
        claims = walk.entered("freeshow", secret)
        assert claims["context"]["user"]["name"] == "Ana María", claims
        assert driver.find_element(By.ID, "user").text == "Ana María"
        walk.shot("02-free-room-entered")
        log("free room: signed up and entered with a valid token")

        # 2. The same visitor, a paid room: pay page, checkout, confirmation, in.
        walk.open("/join/PaidShow")
        walk.expect_h1("Paga para entrar")
        price = driver.find_element(By.CSS_SELECTOR, ".price").text
        assert price == "50.000,00 COP", price
        walk.shot("03-pay-to-enter")
        walk.submit("/pay")
        walk.expect_h1("Completa el pago")
        walk.shot("04-checkout")
        checkout_form = driver.find_element(By.CSS_SELECTOR, "form[action$='/checkout']")
        checkout_form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, 10).until(lambda d: d.current_url == f"{walk.meet}/checkout")
        fields = StandIn.checkouts[-1]
        assert fields["p_amount"] == "50000.00" and fields["p_currency_code"] == "COP", fields
        assert "p_key" not in fields and P_KEY not in json.dumps(fields), fields
        walk.shot("05-provider-checkout-stand-in")
        # Before the confirmation the page still asks to pay ("check again" finds nothing).
        walk.open("/join/paidshow")
        walk.expect_h1("Paga para entrar")
        confirm_epayco(port, fields["p_id_invoice"], fields["p_amount"], fields["p_currency_code"])
        # Where the checkout's "back to the shop" link leads: the join page again.
        assert fields["p_url_response"] == f"{walk.base}/join/paidshow", fields
        driver.get(fields["p_url_response"])
        walk.entered("paidshow", secret)
        walk.shot("06-paid-room-entered")
        log("paid room: paid (signed confirmation) and entered with a valid token")

        # 3. A banned visitor, in English.
        driver = browser("en-US,en;q=0.9")
        drivers.append(driver)
        walk = Walk(driver, port, meet_port, args.screenshots)
        walk.open("/join/freeshow")
        walk.expect_h1("Sign in to enter")
        walk.fill(
            {"handle": "troll", "email": "troll@example.com", "new_password": "correct horse battery"}
        )
        walk.submit("/sign-up")
        claims = walk.entered("freeshow", secret)
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7 * 86400))
        status, ban = api(
            port,
            "POST",
            "/api/admin/bans",
            {
                "user_id": claims["context"]["user"]["id"],
                "scope": {"kind": "room", "room": "freeshow"},
                "reason": "Spam in the chat",
                "until": until,
            },
        )
        assert status == 201, ban
        walk.open("/join/freeshow")
        walk.expect_h1("You cannot enter this room")
        page = driver.find_element(By.TAG_NAME, "main").text
        assert "Spam in the chat" in page and until[:10] in page, page
        assert driver.current_url == f"{walk.base}/join/freeshow", driver.current_url
        walk.shot("07-banned")
        log("banned: the page shows the ban and no token")

        # 4. An ended show and an unknown room.
        ended = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        status, body = api(port, "PATCH", "/api/admin/rooms/endedshow", {"ends_at": ended})
        assert status == 200, body
        time.sleep(3)
        walk.open("/join/endedshow")
        walk.expect_h1("The show has ended")
        walk.shot("08-show-ended")
        walk.open("/join/nosuchshow")
        walk.expect_h1("Room not found")
        walk.shot("09-unknown-room")
        log("ended show and unknown room: shown")
    finally:
        for driver in drivers:
            driver.quit()
        roomkey.terminate()
        roomkey.wait(timeout=10)
        stand_in.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    log("all paths passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
