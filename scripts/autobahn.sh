#!/usr/bin/env bash
# Autobahn|Testsuite's fuzzingclient against supportd's WebSocket stack: a build with the
# `autobahn-echo` feature serves /autobahn-echo, an echo on the daemon's own loop and
# connection code (the same reads, limits, close handshake and flushing as /ws). Every case
# must be OK, NON-STRICT or INFORMATIONAL; excluded: 9.x (performance) and 12.x/13.x
# (permessage-deflate, which supportd does not negotiate). Loopback only, bounded in time.
# Ends with "autobahn: N passed, N failed"; the summary goes to tests/autobahn/summary.txt
# (committed) and the full report to target/autobahn/reports.
# Usage: scripts/autobahn.sh   (WSTEST_DIR: where wstest is, or is installed; default
# target/wstest, installed with $SUPPORTD_SHARED/tools/install-wstest, default ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/target/autobahn
wstest_dir=${WSTEST_DIR:-$root/target/wstest}
mkdir -p "$out"

if [ ! -x "$wstest_dir/py27/bin/wstest" ]; then
  installer=${SUPPORTD_SHARED:-$root/../shared}/tools/install-wstest
  [ -x "$installer" ] || { echo "autobahn: no wstest and no $installer" >&2; echo "autobahn: 0 passed, 1 failed"; exit 1; }
  echo "== autobahn: installing wstest into $wstest_dir"
  "$installer" "$wstest_dir" >"$out/install.log" 2>&1 || { tail -20 "$out/install.log" >&2; echo "autobahn: 0 passed, 1 failed"; exit 1; }
fi

echo "== autobahn: building supportd with the autobahn-echo feature"
cargo build --release --quiet --features autobahn-echo --bin supportd

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$out/config.toml" <<EOF
[server]
bind = "127.0.0.1"
port = $port
[limits]
# Large enough for every case's messages.
max_message_bytes = 16777216
max_outbound_bytes = 33554432
register_timeout_ms = 0
[metrics]
enabled = false
[log]
level = "warn"
EOF
target/release/supportd --config "$out/config.toml" 2>"$out/supportd.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

cat >"$out/spec.json" <<EOF
{
  "options": {"failByDrop": false},
  "outdir": "$out/reports",
  "servers": [{"agent": "supportd", "url": "ws://127.0.0.1:$port/autobahn-echo"}],
  "cases": ["*"],
  "exclude-cases": ["9.*", "12.*", "13.*"],
  "exclude-agent-cases": {}
}
EOF
echo "== autobahn: fuzzingclient against ws://127.0.0.1:$port/autobahn-echo"
(cd "$out" && timeout 900 "$wstest_dir/py27/bin/wstest" -m fuzzingclient -s "$out/spec.json") >"$out/wstest.log" 2>&1 || {
  tail -20 "$out/wstest.log" >&2
  echo "autobahn: 0 passed, 1 failed"
  exit 1
}
kill -0 $pid 2>/dev/null || { echo "autobahn: supportd died during the run" >&2; tail "$out/supportd.log" >&2; echo "autobahn: 0 passed, 1 failed"; exit 1; }

python3 - "$out/reports/index.json" "$root/tests/autobahn/summary.txt" <<'PY'
import json, sys, collections
index = json.load(open(sys.argv[1]))["supportd"]
ok = {"OK", "NON-STRICT", "INFORMATIONAL"}
def key(case):
    return [int(p) for p in case.split(".")]
counts = collections.Counter()
bad = []
lines = []
for case in sorted(index, key=key):
    r = index[case]
    b, c = r["behavior"], r["behaviorClose"]
    counts[b] += 1
    good = b in ok and c in ok
    if not good:
        bad.append(case)
    lines.append(f"{case} {b} {c}")
with open(sys.argv[2], "w") as f:
    f.write("# Autobahn|Testsuite fuzzingclient against supportd's /autobahn-echo (scripts/autobahn.sh)\n")
    f.write("# excluded: 9.x (performance), 12.x/13.x (compression); case behavior behaviorClose\n")
    f.write("# totals: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + "\n")
    f.write("\n".join(lines) + "\n")
for case in bad:
    print(f"FAILED autobahn case {case}: {index[case]['behavior']} / {index[case]['behaviorClose']}", file=sys.stderr)
print(f"autobahn: {len(index) - len(bad)} passed, {len(bad)} failed")
sys.exit(1 if bad else 0)
PY
