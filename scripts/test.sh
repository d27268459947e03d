#!/usr/bin/env bash
# Runs every test of supportd: unit and integration tests (the real binary on loopback),
# the Socket.IO client tests (installs tests/js's npm packages), and the operations checks
# (installs systemd-analyze and promtool from Debian if missing). Bounded; loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f tests/js/package-lock.json ]; then
  if command -v npm >/dev/null 2>&1; then
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "npm is required for the Socket.IO client tests" >&2
    exit 1
  fi
fi

cargo build --workspace --release --quiet
cargo test --workspace

if [ -f scripts/check-ops.sh ]; then
  bash scripts/check-ops.sh
fi
