#!/usr/bin/env bash
# Builds roomkey's Debian package from a staged tree with dpkg-deb.
#
#   packaging/build-deb.sh [--profile release|debug] [--out DIR]
#
# dpkg-deb (with dpkg-shlibdeps for the library dependencies) is on every Debian machine, so
# building the package needs nothing beyond the Rust toolchain; cargo-deb would add a tool
# to compile on every CI run for the same result. `--profile debug` packages the binary a
# test run already built (what packaging/check-deb.sh uses); ship `release`.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
out=target/debian
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: $0 [--profile release|debug] [--out DIR]" >&2; exit 2 ;;
  esac
done

if [ "$profile" = release ]; then
  nice -n 10 cargo build --locked --release --bin roomkey
else
  cargo build --locked --bin roomkey
fi
binary="target/$profile/roomkey"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"

install -D -m 0755 "$binary" "$stage/usr/bin/roomkey"
# Panic messages keep their file and line (they are strings in the binary, not DWARF); the
# debug sections are for a debugger, not for a server's disk.
strip --strip-debug "$stage/usr/bin/roomkey"
install -D -m 0644 packaging/roomkey.service "$stage/lib/systemd/system/roomkey.service"
install -D -m 0640 packaging/roomkey.toml "$stage/etc/roomkey/roomkey.toml"
# jitsi-meet's Prosody configuration puts this directory in plugin_paths.
install -D -m 0644 prosody-plugins/mod_roomkey.lua \
  "$stage/usr/share/jitsi-meet/prosody-plugins/mod_roomkey.lua"
install -D -m 0644 deploy/prometheus/roomkey.rules.yml "$stage/usr/share/roomkey/prometheus/roomkey.rules.yml"
install -D -m 0644 deploy/grafana/roomkey.json "$stage/usr/share/roomkey/grafana/roomkey.json"

doc="$stage/usr/share/doc/roomkey"
install -d "$doc"
install -m 0644 README.md "$doc/README.md"
for file in docs/*.md; do install -D -m 0644 "$file" "$doc/$file"; done
for file in prosody-plugins/README.md prosody-plugins/PROTOCOL.md jitsi-meet-config/* deploy/README.md; do
  install -D -m 0644 "$file" "$doc/$file"
done
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: roomkey

Files: *
License: AGPL-3.0-or-later
 On Debian systems the full text of the GNU Affero General Public License is not in
 /usr/share/common-licenses; see https://www.gnu.org/licenses/agpl-3.0.txt
COPYRIGHT
gzip -9n > "$doc/changelog.gz" <<CHANGELOG
roomkey ($version) unstable; urgency=medium

  * Built from $(git rev-parse --short HEAD 2>/dev/null || echo "a source tree").

 -- roomkey maintainers <roomkey@localhost>  $(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")
CHANGELOG

install -d "$stage/DEBIAN"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"
install -m 0644 packaging/debian/conffiles "$stage/DEBIAN/conffiles"

# The C libraries the binary links, as Debian package versions.
shlibs=$(mktemp -d)
mkdir -p "$shlibs/debian"
printf 'Source: roomkey\n\nPackage: roomkey\nArchitecture: any\n' > "$shlibs/debian/control"
depends=$(cd "$shlibs" && dpkg-shlibdeps -O "$stage/usr/bin/roomkey" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shlibs"
[ -n "$depends" ] || { echo "dpkg-shlibdeps found no library dependencies" >&2; exit 1; }

cat > "$stage/DEBIAN/control" <<CONTROL
Package: roomkey
Version: $version
Architecture: $arch
Maintainer: roomkey maintainers <roomkey@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: adduser, $depends
Suggests: jitsi-meet-prosody, postgresql, redis-server, prometheus
Section: net
Priority: optional
Description: token authority for paid Jitsi Meet rooms
 roomkey hands a signed-in, entitled, unbanned user a short-lived Jitsi JWT that a
 stock Prosody (authentication = "token") accepts, and refuses everyone else with
 the price, the ban or the reason. Payments become entitlements exactly once; bans,
 kicks, refunds and expiries reach running rooms through mod_roomkey, installed in
 /usr/share/jitsi-meet/prosody-plugins/. Runs on an embedded SQLite file out of the
 box; PostgreSQL and Redis for several instances.
CONTROL

mkdir -p "$out"
deb="$out/roomkey_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
