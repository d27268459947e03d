#!/usr/bin/env bash
# Builds the Debian packages with cargo-deb and checks them: the main package is small (the
# binary stripped, its symbols in supportd-dbgsym), ships the docs, the Prometheus files,
# the man page and the copyright, and lintian reports no errors for it.
# Installs cargo-deb (from crates.io), lintian and groff (from Debian) when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() { echo "FAIL: $*" >&2; exit 1; }

# The one install command (tests/packaging.rs checks that every doc names this one).
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb 3.8.0" ]; then
    echo "installing cargo-deb"
    cargo install cargo-deb --locked --version 3.8.0
fi
missing=()
command -v lintian >/dev/null 2>&1 || missing+=(lintian)
command -v groff >/dev/null 2>&1 || missing+=(groff-base)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# cargo-deb prints the path of each package it wrote: the .ddeb, then the .deb.
built=$(cargo deb -p supportd 2>/dev/null)
deb=$(grep '/supportd_[^/]*\.deb$' <<<"$built" || true)
ddeb=$(grep '/supportd-dbgsym_[^/]*\.ddeb$' <<<"$built" || true)
[ -f "$deb" ] || fail "cargo deb produced no package"
[ -f "$ddeb" ] || fail "cargo deb produced no supportd-dbgsym package"
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked/main"
dpkg-deb -x "$ddeb" "$unpacked/dbgsym"
# Listings are captured first: `grep -q` closing a pipe early would kill dpkg-deb (pipefail).
contents=$(dpkg-deb --contents "$deb")
conffiles=$(dpkg-deb --info "$deb" conffiles)

# Small: no debug symbols in the main package (they were 44 of its 47 MB installed).
deb_bytes=$(stat -c %s "$deb")
installed_kib=$(dpkg-deb --field "$deb" Installed-Size)
[ "$deb_bytes" -lt 4000000 ] || fail "$deb is $deb_bytes bytes (limit 4 MB)"
[ "$installed_kib" -lt 8192 ] || fail "$deb installs $installed_kib KiB (limit 8 MiB)"
if grep -q './usr/lib/debug' <<<"$contents"; then fail "debug symbols in the main package"; fi
# The symbols: a .debug file named by the binary's build id, with the DWARF in it.
build_id=$(readelf -n "$unpacked/main/usr/bin/supportd" | sed -n 's/^ *Build ID: *//p')
[ -n "$build_id" ] || fail "the binary has no build id"
debug_file="$unpacked/dbgsym/usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug"
[ -f "$debug_file" ] || fail "supportd-dbgsym has no usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug"
sections=$(readelf -S -W "$debug_file" 2>/dev/null)
grep -q ' \.debug_info ' <<<"$sections" || fail "the .debug file has no .debug_info"
grep -q ' \.debug_line ' <<<"$sections" || fail "the .debug file has no .debug_line"
[ "$(dpkg-deb --field "$ddeb" Package)" = supportd-dbgsym ] || fail "the .ddeb is not supportd-dbgsym"

# The binary, the unit, the config.
grep -q './usr/bin/supportd$' <<<"$contents" || fail "no /usr/bin/supportd"
grep -q 'supportd.service' <<<"$contents" || fail "no unit"
grep -qx '/etc/support/config.toml' <<<"$conffiles" || fail "config is not a conffile"
# The packaged config binds loopback, and the install says what to set before exposing it.
grep -qx 'bind = "127.0.0.1"' "$unpacked/main/etc/support/config.toml" \
    || fail "the packaged config does not bind 127.0.0.1"
postinst=$(dpkg-deb --info "$deb" postinst)
grep -q 'Agents are not authenticated' <<<"$postinst" || fail "postinst does not warn about unauthenticated agents"
grep -q 'deb-systemd-helper' <<<"$postinst" || fail "postinst lost the unit's snippets"

# The docs and the Prometheus files, as they are in the repository.
doc=usr/share/doc/supportd
for pair in README.md:README.md docs/operations.md:operations.md \
    docs/deployment.md:deployment.md docs/protocol.md:protocol.md \
    etc/prometheus/scrape.yml:prometheus/scrape.yml etc/prometheus/alerts.yml:prometheus/alerts.yml \
    etc/grafana/supportd.json:grafana/supportd.json \
    systemd/debian/copyright:copyright; do
    src=${pair%%:*} dst=$doc/${pair#*:}
    [ -f "$unpacked/main/$dst" ] || fail "no /$dst"
    cmp -s "$src" "$unpacked/main/$dst" || fail "/$dst differs from $src"
done
grep -q '^License: MIT$' "$unpacked/main/$doc/copyright" || fail "copyright names no MIT license"
grep -q 'Permission is hereby granted' "$unpacked/main/$doc/copyright" || fail "copyright lacks the MIT text"

# The man page: gzip'd, the generated docs/supportd.1, and groff renders it without warnings.
page="$unpacked/main/usr/share/man/man1/supportd.1.gz"
[ -f "$page" ] || fail "no /usr/share/man/man1/supportd.1.gz"
zcat "$page" | cmp -s - docs/supportd.1 || fail "the shipped man page differs from docs/supportd.1"
warnings=$(zcat "$page" | groff -man -Tutf8 -ww -z 2>&1)
[ -z "$warnings" ] || fail "groff warns about the man page: $warnings"

# lintian on the main package. (supportd-dbgsym is cargo-deb's as it makes it: lintian
# reports no-copyright-file, no-changelog and unknown-priority extra there; not checked.)
if lintian --fail-on error "$deb"; then
    echo "PASS: $deb ($deb_bytes bytes, $installed_kib KiB installed; lintian: no errors)"
    echo "PASS: $ddeb ($(stat -c %s "$ddeb") bytes: usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug)"
else
    fail "lintian reports errors for $deb"
fi
