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
dpkg-deb --contents "$deb" | grep -q './usr/bin/supportd' || { echo "FAIL: no /usr/bin/supportd" >&2; exit 1; }
dpkg-deb --contents "$deb" | grep -q 'supportd.service' || { echo "FAIL: no unit" >&2; exit 1; }
dpkg-deb -e "$deb" "$(mktemp -d)" >/dev/null
dpkg-deb --info "$deb" conffiles | grep -qx '/etc/support/config.toml' || { echo "FAIL: config is not a conffile" >&2; exit 1; }
if lintian --fail-on error "$deb"; then
    echo "PASS: $deb (lintian: no errors)"
else
    echo "FAIL: lintian reports errors for $deb" >&2
    exit 1
fi
