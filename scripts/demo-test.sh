#!/usr/bin/env bash
# Drives the demo page (examples/web) in headless Chromium through a queued call, an offer
# accepted, a chat, a transfer, an audio/video call (fake camera), a network drop and
# wrap-up (tests/js/demo.js), saving a screenshot per step in target/demo-screenshots/.
# Installs Debian's chromium (apt) and tests/js's npm packages if missing; builds the
# release binary if need be. Loopback only, bounded (4 minutes), cleans up after itself.
# Ends with one line: `demo: N passed, N failed` (one per step); exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}

fail() { echo "demo: $*" >&2; echo "demo: 0 passed, 1 failed"; exit 1; }

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  command -v apt-get >/dev/null 2>&1 || fail "chromium is missing and apt-get is not available"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
    || fail "could not install chromium with apt-get (root and Debian's package archive are needed)"
  [ -x "$chromium" ] || fail "chromium installed, but $chromium is not there"
fi
command -v node >/dev/null 2>&1 || fail "node is required"
if [ ! -d tests/js/node_modules/puppeteer-core ]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in tests/js failed"
fi
cargo build --release --quiet --bin supportd || fail "cargo build failed"

CHROMIUM=$chromium SUPPORTD_BIN="$target/release/supportd" SCREENSHOT_DIR="$target/demo-screenshots" \
  timeout -k 10 240 node tests/js/demo.js
status=$?
[ "$status" -eq 124 ] && fail "timed out after 240 s"
exit "$status"
