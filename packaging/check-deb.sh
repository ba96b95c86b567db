#!/usr/bin/env bash
# Builds roomkey's .deb, installs it on this machine and checks it as an operator would meet
# it: the installed configuration passes `config check`, the installed binary started as the
# package's user on that configuration answers /healthz and /readyz, the unit passes
# `systemd-analyze verify` (where that tool exists), and purging leaves nothing behind.
# Needs root (dpkg -i). The service is started directly with runuser, not through systemd,
# because CI machines and containers often run without systemd as PID 1.
#
#   packaging/check-deb.sh [--profile release|debug]     (default: debug, the test build)
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
if [ "${1:-}" = --profile ]; then profile="$2"; fi

fail() { echo "check-deb: $*" >&2; exit 1; }

if dpkg -s roomkey >/dev/null 2>&1; then
  fail "roomkey is already installed here; purge it first (dpkg --purge roomkey)"
fi

deb=$(packaging/build-deb.sh --profile "$profile" --out target/debian | tail -n1)
echo "check-deb: built $deb ($(du -h "$deb" | cut -f1))"

pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  dpkg --purge roomkey >/dev/null 2>&1 || true
}
trap cleanup EXIT

DEBIAN_FRONTEND=noninteractive dpkg -i "$deb"
getent passwd roomkey >/dev/null || fail "no roomkey user after install"
[ "$(stat -c '%U:%G %a' /var/lib/roomkey)" = "roomkey:roomkey 750" ] || fail "/var/lib/roomkey: $(stat -c '%U:%G %a' /var/lib/roomkey)"
[ "$(stat -c '%U:%G %a' /etc/roomkey/roomkey.toml)" = "root:roomkey 640" ] || fail "/etc/roomkey/roomkey.toml: $(stat -c '%U:%G %a' /etc/roomkey/roomkey.toml)"
[ -f /usr/share/jitsi-meet/prosody-plugins/mod_roomkey.lua ] || fail "mod_roomkey.lua not installed"
dpkg-query -W -f='${Conffiles}\n' roomkey | grep -q ' /etc/roomkey/roomkey.toml ' || fail "roomkey.toml is not a conffile"

# The checks run as the package's user, from its home, as the unit does.
as_roomkey() { (cd /var/lib/roomkey && runuser -u roomkey -- env -u DATABASE_URL -u REDIS_URL "$@"); }
as_roomkey /usr/bin/roomkey --config /etc/roomkey/roomkey.toml config check >/dev/null \
  || fail "config check refused the installed configuration"

# Free ports, so a roomkey already listening on the defaults here does not get in the way.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api=$(port); ops=$(port)
(cd /var/lib/roomkey && exec runuser -u roomkey -- env -u DATABASE_URL -u REDIS_URL \
  ROOMKEY_HTTP__LISTEN="127.0.0.1:$api" ROOMKEY_HTTP__OPS_LISTEN="127.0.0.1:$ops" \
  /usr/bin/roomkey --config /etc/roomkey/roomkey.toml serve) >/tmp/check-deb-roomkey.log 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$ops/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat /tmp/check-deb-roomkey.log >&2; fail "roomkey exited"; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$ops/healthz" || { cat /tmp/check-deb-roomkey.log >&2; fail "no /healthz"; }
echo
curl -fsS "http://127.0.0.1:$ops/readyz" || fail "not ready"
echo
curl -fsS "http://127.0.0.1:$api/.well-known/jwks.json" >/dev/null || fail "no JWKS on the API listener"
# What it wrote went where the configuration says, owned by the package's user.
[ "$(stat -c %U /var/lib/roomkey/roomkey.db)" = roomkey ] || fail "no SQLite file in /var/lib/roomkey"
[ "$(stat -c %U /var/lib/roomkey/keys/hs256.secret)" = roomkey ] || fail "no generated keys in /var/lib/roomkey/keys"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=

if command -v systemd-analyze >/dev/null; then
  # Without systemd as PID 1 some checks cannot run; anything about the unit itself is fatal.
  verify=$(systemd-analyze verify /lib/systemd/system/roomkey.service 2>&1 || true)
  if [ -n "$verify" ]; then echo "$verify" >&2; fail "systemd-analyze verify complained about the unit"; fi
  echo "check-deb: systemd-analyze verify: clean"
  systemd-analyze security --offline=yes /lib/systemd/system/roomkey.service 2>/dev/null | tail -n1 || true
else
  echo "check-deb: systemd-analyze not found: unit verification skipped"
fi

dpkg --purge roomkey
for path in /usr/bin/roomkey /etc/roomkey /var/lib/roomkey /lib/systemd/system/roomkey.service \
  /usr/share/jitsi-meet/prosody-plugins/mod_roomkey.lua /usr/share/doc/roomkey \
  /etc/systemd/system/multi-user.target.wants/roomkey.service; do
  [ ! -e "$path" ] || fail "$path left after purge"
done
trap - EXIT
echo "check-deb: installed, served /healthz as the roomkey user, purged cleanly"
