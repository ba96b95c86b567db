#!/usr/bin/env bash
# Builds the runtime stage of docker/Dockerfile exactly as written and checks the image:
# its user, health check, entry point and state folder, and that the binary it holds serves
# /healthz as that user with the image's own environment and libraries, and that the
# HEALTHCHECK command itself passes.
#
#   docker/check-image.sh [--binary PATH]        (as root; needs podman and debootstrap)
#
# Where no registry serves container images, neither stage's base can be pulled. So the
# Debian base is made here with debootstrap (Debian 12, minbase: what the slim image holds)
# and tagged with the name the Dockerfile pins, in a podman store of this run's own (the
# machine's images are neither used nor touched); the build stage is replaced by the binary given (by default the one the test
# run built), since compiling inside a Rust image needs that image. What this cannot show:
# the build stage itself, and a container started by a runtime, which needs cgroup and
# rlimit rights this sandbox may not grant: the image's file system is run with chroot
# as the image's user instead, with the image's environment.
set -euo pipefail

cd "$(dirname "$0")/.."
binary=target/debug/roomkey
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH]" >&2; exit 2 ;;
  esac
done
[ -x "$binary" ] || { echo "check-image: no binary at $binary (cargo build --bin roomkey)" >&2; exit 1; }

base=$(sed -n 's/^FROM \(docker\.io\/library\/debian:[^ ]*\) AS runtime$/\1/p' docker/Dockerfile)
[ -n "$base" ] || { echo "check-image: docker/Dockerfile names no Debian runtime base" >&2; exit 1; }

work=$(mktemp -d)
container=roomkey-check-image
image=localhost/roomkey:check-image
server=""
podman() { command podman --root "$work/storage" --runroot "$work/run" "$@"; }
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  podman umount --all >/dev/null 2>&1 || true
  podman rm --all --force >/dev/null 2>&1 || true
  podman rmi --all --force >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "check-image: making $base with debootstrap"
debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
tar -C "$work/rootfs" -c . | podman import --quiet - "$base" >/dev/null
rm -rf "$work/rootfs"

# The build stage becomes the given binary; the runtime stage is copied verbatim.
mkdir -p "$work/context/src/target/release" "$work/context/prosody-plugins"
cp "$binary" "$work/context/src/target/release/roomkey"
strip --strip-debug "$work/context/src/target/release/roomkey"
cp prosody-plugins/mod_roomkey.lua "$work/context/prosody-plugins/"
{
  echo "FROM scratch AS build"
  echo "COPY src/target/release/roomkey /src/target/release/roomkey"
  sed -n '/ AS runtime$/,$p' docker/Dockerfile
} >"$work/context/Dockerfile"
podman build --quiet --format docker --isolation chroot --network host -t "$image" "$work/context" >/dev/null

inspect() { podman image inspect "$image" --format "$1"; }
expect() {
  local what="$1" got="$2" want="$3"
  [ "$got" = "$want" ] || { echo "check-image: $what is '$got', expected '$want'" >&2; exit 1; }
}
expect "user" "$(inspect '{{.Config.User}}')" "10001:10001"
expect "entry point" "$(inspect '{{json .Config.Entrypoint}}')" '["/usr/local/bin/roomkey"]'
expect "command" "$(inspect '{{json .Config.Cmd}}')" '["serve"]'
expect "stop signal" "$(inspect '{{.Config.StopSignal}}')" "SIGTERM"
health=$(inspect '{{json .Config.Healthcheck.Test}}')
case "$health" in *"/dev/tcp/127.0.0.1/9464"*"/healthz"*) ;; *) echo "check-image: health check is $health" >&2; exit 1 ;; esac
for port in 8080/tcp 9464/tcp; do
  inspect '{{json .Config.ExposedPorts}}' | grep -q "\"$port\"" || { echo "check-image: $port is not exposed" >&2; exit 1; }
done

# The image's file system, writable as a container's is, run as its user with its environment.
podman create --name "$container" "$image" >/dev/null
root=$(podman mount "$container")
expect "state folder owner" "$(stat -c %u:%g:%a "$root/var/lib/roomkey")" "10001:10001:750"
mapfile -t environment < <(inspect '{{range .Config.Env}}{{println .}}{{end}}' | sed '/^$/d')
env -i "${environment[@]}" chroot --userspec=10001:10001 "$root" /usr/local/bin/roomkey serve >"$work/serve.log" 2>&1 &
server=$!
healthy=""
for _ in $(seq 1 100); do
  if env -i "${environment[@]}" chroot --userspec=10001:10001 "$root" \
      bash -c "$(inspect '{{index .Config.Healthcheck.Test 3}}')" 2>/dev/null; then
    healthy=yes
    break
  fi
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
[ -n "$healthy" ] || { echo "check-image: the HEALTHCHECK never passed" >&2; tail -20 "$work/serve.log" >&2; exit 1; }
owner=$(stat -c %u "$root/var/lib/roomkey/roomkey.db")
expect "database owner" "$owner" "10001"
kill -TERM "$server"
wait "$server" || { echo "check-image: the server did not exit cleanly on SIGTERM" >&2; exit 1; }
server=""
echo "check-image: runtime stage built on $base, served /healthz as uid 10001, HEALTHCHECK passed, SIGTERM clean"
