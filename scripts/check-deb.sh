#!/usr/bin/env bash
# Builds the Debian package with cargo-deb and checks it with lintian (no errors allowed).
# Installs cargo-deb (from crates.io) and lintian (from Debian) when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! cargo deb --version >/dev/null 2>&1; then
    echo "installing cargo-deb"
    cargo install cargo-deb --locked --version 3.8.0 --quiet
fi
if ! command -v lintian >/dev/null 2>&1; then
    echo "installing lintian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lintian >/dev/null
fi
deb=$(cargo deb -p supportd 2>/dev/null | tail -n1)
[ -f "$deb" ] || { echo "FAIL: cargo deb produced no package" >&2; exit 1; }
# Listings are captured first: `grep -q` closing a pipe early would kill dpkg-deb (pipefail).
contents=$(dpkg-deb --contents "$deb")
conffiles=$(dpkg-deb --info "$deb" conffiles)
grep -q './usr/bin/supportd' <<<"$contents" || { echo "FAIL: no /usr/bin/supportd" >&2; exit 1; }
grep -q 'supportd.service' <<<"$contents" || { echo "FAIL: no unit" >&2; exit 1; }
grep -qx '/etc/support/config.toml' <<<"$conffiles" || { echo "FAIL: config is not a conffile" >&2; exit 1; }
# The packaged config binds loopback, and the install says what to set before exposing it.
config=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/support/config.toml)
grep -qx 'bind = "127.0.0.1"' <<<"$config" || { echo "FAIL: the packaged config does not bind 127.0.0.1" >&2; exit 1; }
postinst=$(dpkg-deb --info "$deb" postinst)
grep -q 'Agents are not authenticated' <<<"$postinst" || { echo "FAIL: postinst does not warn about unauthenticated agents" >&2; exit 1; }
grep -q 'deb-systemd-helper' <<<"$postinst" || { echo "FAIL: postinst lost the unit's snippets" >&2; exit 1; }
grep -q './usr/share/doc/supportd/deployment.md' <<<"$contents" || { echo "FAIL: no deployment.md" >&2; exit 1; }
if lintian --fail-on error "$deb"; then
    echo "PASS: $deb (lintian: no errors)"
else
    echo "FAIL: lintian reports errors for $deb" >&2
    exit 1
fi
