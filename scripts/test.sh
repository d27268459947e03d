#!/usr/bin/env bash
# Runs every test of supportd: unit and integration tests (the real binary on loopback),
# the Socket.IO client tests (installs tests/js's npm packages), the official Engine.IO and
# Socket.IO protocol suites (scripts/conformance.sh), the operations checks (installs
# systemd-analyze, promtool, cargo-deb and lintian if missing) against a live scrape.
# Bounded; loopback only. Ends with one line: `N passed, N failed` (test cases of cargo test
# and of the protocol suites; each other check counts as one).
#
# Everything is compiled once, in the release profile: `cargo test --release` builds the
# tests and target/release/supportd, which every later step runs (only autobahn.sh, last,
# rebuilds the supportd crate with its test feature).
#
# What lives outside the repository, in $SUPPORTD_SHARED (default ../shared): the original
# backend (reference/, for the side-by-side test), the protocol suites (conformance/) and the
# Autobahn installer (tools/install-wstest). Each one that is absent is skipped with a
# `SKIPPED:` line saying why; a skipped test is counted neither as passed nor as failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
skipped=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
SUPPORTD_SHARED=$(cd "${SUPPORTD_SHARED:-../shared}" 2>/dev/null && pwd || echo "${SUPPORTD_SHARED:-../shared}")
export SUPPORTD_SHARED

# A step that prints its own `NAME: N passed, N failed` lines: `suite "NAME..." CMD...` runs
# CMD and adds the first such line of each NAME; a non-zero exit with no failure counted is
# one failure (the step could not run).
suite() {
  local names=$1 status p f
  shift
  "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  read -r p f < <(awk -v names="$names" '
    BEGIN { n = split(names, a, " "); for (i = 1; i <= n; i++) want[a[i] ":"] = 1 }
    want[$1] && $3 == "passed," && !seen[$1]++ { p += $2; f += $4 }
    END { print p + 0, f + 0 }' "$log")
  passed=$((passed + p)); failed=$((failed + f))
  [ "$status" -eq 0 ] || [ "$f" -gt 0 ] || failed=$((failed + 1))
}

# Records a step left out: `skip WHAT WHY`.
skip() {
  skipped+=("$1 ($2)")
  echo "SKIPPED: $1: $2"
}

# A check that is one case: counted by its exit status.
check() {
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $*" >&2; fi
}

if [ -f tests/js/package-lock.json ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm is required for the Socket.IO client tests" >&2; exit 1; }
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi

cargo test --workspace --release --no-run --quiet || { echo "0 passed, 1 failed"; exit 1; }

# cargo test: sum its per-binary result lines.
cargo_skip=()
if [ ! -f "$SUPPORTD_SHARED/reference/server.js" ]; then
  skip "same_events_as_the_original" "no original backend at $SUPPORTD_SHARED/reference"
  cargo_skip=(--skip same_events_as_the_original)
fi
cargo test --workspace --release -- "${cargo_skip[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
read -r p f < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } } END { print p + 0, f + 0 }' "$log")
passed=$((passed + p)); failed=$((failed + f))
[ "$status" -eq 0 ] || [ "$f" -gt 0 ] || failed=$((failed + 1)) # failed to build or run

# The official Engine.IO and Socket.IO protocol suites ($SUPPORTD_SHARED/conformance).
if [ -d "$SUPPORTD_SHARED/conformance" ]; then
  suite "engine.io socket.io" env CONFORMANCE_DIR="$SUPPORTD_SHARED/conformance" bash scripts/conformance.sh
else
  skip "the Engine.IO and Socket.IO protocol suites" "no $SUPPORTD_SHARED/conformance"
fi

# Operations: a live daemon's /metrics for promtool, the unit, the rules, the package.
ops() {
  local tmp pid maddr rc=0
  tmp=$(mktemp -d)
  printf '[server]\nbind = "127.0.0.1"\nport = 0\n[metrics]\nbind = "127.0.0.1"\nport = 0\n' >"$tmp/config.toml"
  target/release/supportd --config "$tmp/config.toml" 2>"$tmp/log" &
  pid=$!
  for _ in $(seq 50); do grep -q 'metrics on' "$tmp/log" && break; sleep 0.1; done
  maddr=$(sed -n '/metrics on /{s/.*metrics on \([0-9.:]*\).*/\1/p;q}' "$tmp/log")
  if [ -n "$maddr" ]; then
    bash scripts/check-ops.sh "http://$maddr/metrics" || rc=1
  else
    cat "$tmp/log"; echo "supportd did not start" >&2; rc=1
  fi
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  rm -rf "$tmp"
  return $rc
}
check ops
check bash scripts/check-deb.sh

# The reverse-proxy configs of docs/deployment.md: nginx and Caddy over TLS.
suite nginx-test bash scripts/nginx-test.sh

# The demo page in headless Chromium (installs chromium): one case per step.
suite demo bash scripts/demo-test.sh

# Last: it rebuilds the release binary with the autobahn-echo feature.
if [ -x "${WSTEST_DIR:-target/wstest}/py27/bin/wstest" ] || [ -x "$SUPPORTD_SHARED/tools/install-wstest" ]; then
  suite autobahn bash scripts/autobahn.sh
else
  skip "the Autobahn|Testsuite run" "no wstest and no installer at $SUPPORTD_SHARED/tools/install-wstest"
fi

for s in "${skipped[@]}"; do echo "SKIPPED (not counted): $s"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
