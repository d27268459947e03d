#!/usr/bin/env bash
# Checks the operational files: systemd unit, Prometheus config and alerts,
# and optionally a running daemon's /metrics output.
#
#   bash scripts/check-ops.sh                                  # static checks
#   bash scripts/check-ops.sh http://127.0.0.1:9102/metrics    # + live scrape
#
# Installs systemd-analyze, promtool and curl with apt-get when missing
# (as root, or through sudo). Exits non-zero if any check fails.
set -euo pipefail

MAX_EXPOSURE=1.5
UNIT=systemd/supportd.service
PROM_CONFIG=etc/prometheus/scrape.yml
PROM_RULES=etc/prometheus/alerts.yml
PROM_RULES_TEST=etc/prometheus/alerts_test.yml
METRICS_URL=${1:-}

cd "$(dirname "${BASH_SOURCE[0]}")/.."

failures=0
pass() { printf 'PASS: %s\n' "$1"; }
fail() {
    printf 'FAIL: %s\n' "$1"
    failures=$((failures + 1))
}

# --- tools -------------------------------------------------------------------
SUDO=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
fi
apt_updated=no
need() { # need COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "installing $2 (for $1)"
    if [ "$apt_updated" = no ]; then
        "${SUDO[@]}" apt-get update -qq
        apt_updated=yes
    fi
    # A package's service may fail to start in a container; the binaries
    # are installed all the same, so only the presence of $1 is checked.
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$2" >/dev/null || true
    command -v "$1" >/dev/null 2>&1 || {
        echo "FAIL: could not install $2" >&2
        exit 1
    }
}
need systemd-analyze systemd
need promtool prometheus
if [ -n "$METRICS_URL" ]; then need curl curl; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- systemd unit ------------------------------------------------------------
# verify checks that every Exec path exists. The real binary need not be
# installed here, so verify a copy whose /usr/bin/supportd points at a dummy
# executable in a temporary directory (nothing is installed system-wide).
# verify exits 0 on warnings, so any output at all is a failure.
printf '#!/bin/sh\nexit 0\n' >"$tmp/supportd"
chmod +x "$tmp/supportd"
sed "s#/usr/bin/supportd#$tmp/supportd#g" "$UNIT" >"$tmp/supportd.service"
if out=$(cd "$tmp" && systemd-analyze verify supportd.service 2>&1) && [ -z "$out" ]; then
    pass "systemd-analyze verify $UNIT"
else
    printf '%s\n' "$out"
    fail "systemd-analyze verify $UNIT"
fi

if out=$(systemd-analyze security --offline=true --no-pager "$UNIT" 2>&1); then
    exposure=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' | tail -n1)
else
    printf '%s\n' "$out"
    exposure=
fi
if [ -z "$exposure" ]; then
    fail "systemd-analyze security $UNIT (no exposure level reported)"
elif awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }'; then
    pass "systemd-analyze security $UNIT: exposure $exposure <= $MAX_EXPOSURE"
else
    printf '%s\n' "$out" | grep -F '✗' || true
    fail "systemd-analyze security $UNIT: exposure $exposure > $MAX_EXPOSURE"
fi

# --- Prometheus --------------------------------------------------------------
check() { # check DESCRIPTION COMMAND...
    local desc=$1
    shift
    if out=$("$@" 2>&1); then
        pass "$desc"
    else
        printf '%s\n' "$out"
        fail "$desc"
    fi
}
check "promtool check config $PROM_CONFIG" promtool check config "$PROM_CONFIG"
check "promtool check rules $PROM_RULES" promtool check rules "$PROM_RULES"
check "promtool test rules $PROM_RULES_TEST" promtool test rules "$PROM_RULES_TEST"

if [ -n "$METRICS_URL" ]; then
    if curl -fsS --max-time 10 "$METRICS_URL" >"$tmp/metrics.txt"; then
        check_metrics() { promtool check metrics <"$tmp/metrics.txt"; }
        check "promtool check metrics $METRICS_URL" check_metrics
        for name in support_connected_users support_open_connections \
            support_events_received_total support_call_duration_seconds; do
            if ! grep -q "^# TYPE $name " "$tmp/metrics.txt"; then
                fail "$METRICS_URL exports $name"
            fi
        done
    else
        fail "curl $METRICS_URL"
    fi
fi

echo
if [ "$failures" -eq 0 ]; then
    echo "check-ops: all checks passed"
else
    echo "check-ops: $failures check(s) failed"
    exit 1
fi
