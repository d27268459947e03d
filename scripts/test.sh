#!/usr/bin/env bash
# Runs every test of supportd: unit and integration tests (the real binary on loopback),
# the Socket.IO client tests (installs tests/js's npm packages), the operations checks
# (installs systemd-analyze, promtool, cargo-deb and lintian if missing) against a live
# scrape. Bounded; loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f tests/js/package-lock.json ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm is required for the Socket.IO client tests" >&2; exit 1; }
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo build --workspace --release --quiet
cargo test --workspace

# Operations: a live daemon's /metrics for promtool, the unit, the rules, the package.
tmp=$(mktemp -d)
printf '[server]\nbind = "127.0.0.1"\nport = 0\n[metrics]\nbind = "127.0.0.1"\nport = 0\n' >"$tmp/config.toml"
target/release/supportd --config "$tmp/config.toml" 2>"$tmp/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do grep -q 'metrics on' "$tmp/log" && break; sleep 0.1; done
maddr=$(sed -n '/metrics on /{s/.*metrics on \([0-9.:]*\).*/\1/p;q}' "$tmp/log")
[ -n "$maddr" ] || { cat "$tmp/log"; echo "supportd did not start" >&2; exit 1; }
bash scripts/check-ops.sh "http://$maddr/metrics"
kill "$pid"; wait "$pid" || true
bash scripts/check-deb.sh
echo "all test suites passed"
