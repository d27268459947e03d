#!/usr/bin/env bash
# Runs the official Engine.IO and Socket.IO protocol test suites (mocha) against supportd.
#
#   bash scripts/conformance.sh [--keep]
#
# Expects target/release/supportd (builds it with `cargo build --release` if missing) and the
# suites in $CONFORMANCE_DIR (default: $SUPPORTD_SHARED/conformance, or <repo>/../shared/conformance; see its README.md). The
# originals are never modified: each test-suite/ folder is copied to a temp dir, its server URL
# (http://localhost:3000) is rewritten to the loopback port supportd is bound to (port 0: the
# kernel picks a free one at run time, read back from the daemon's log), and in the Engine.IO
# suite the path /engine.io/ becomes /socket.io/ (supportd serves Engine.IO there).
# Every suite runs against its own fresh daemon, with the settings of the suites' reference
# servers (pingInterval 300, pingTimeout 200, maxPayload 1e6, connectTimeout 1000, any origin).
#
# Cases that cannot pass against supportd because they need the suites' echo test app are
# listed in EXPECTED_FAILURES below, each with its reason. Exit status: 0 if every other case
# passed, 1 otherwise (or if a suite could not be run). A listed case that passes is reported as
# XPASS and does not fail the run. --keep keeps the temp dir (copies, configs, logs, reports).
#
# Bounded: timeouts on npm, the daemon's start, every mocha run; loopback only (npm ci needs
# the npm registry).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shared=${CONFORMANCE_DIR:-${SUPPORTD_SHARED:-$root/../shared}/conformance}
bin=$root/target/release/supportd
keep=0
[ "${1:-}" = "--keep" ] && keep=1

# suite|full test title (mocha fullTitle)|reason
EXPECTED_FAILURES=$(cat <<'EOF'
engine.io|Engine.IO protocol message HTTP long-polling sends and receives a payload containing one plain text packet|needs the echo app: expects 4hello echoed on the next poll; to supportd (a Socket.IO server) "hello" is a malformed Socket.IO packet, so it answers the POST ok and ends the session (next poll 400), as Node's socket.io does
engine.io|Engine.IO protocol message HTTP long-polling sends and receives a payload containing several plain text packets|needs the echo app: expects 4test1..4test3 echoed; supportd ends the session on the malformed Socket.IO packet "test1"
engine.io|Engine.IO protocol message HTTP long-polling sends and receives a payload containing plain text and binary packets|needs the echo app: expects 4hello and the binary packet echoed; supportd ends the session on the malformed Socket.IO packet "hello"
engine.io|Engine.IO protocol message WebSocket sends and receives a plain text packet|needs the echo app: expects 4hello echoed; supportd ends the session (close 1000) on the malformed Socket.IO packet "hello"
engine.io|Engine.IO protocol message WebSocket sends and receives a binary packet|needs the echo app: expects the binary frame echoed; supportd ignores binary frames on Socket.IO (only pings follow)
engine.io|Engine.IO protocol upgrade successfully upgrades from HTTP long-polling to WebSocket|needs the echo app: 3probe, the noop 6 and 5 work; then expects 4hello echoed, supportd ends the session on the malformed Socket.IO packet "hello"
engine.io|Engine.IO protocol upgrade ignores HTTP requests with same sid after upgrade|needs the echo app: the poll after the upgrade gets 400 as required; then expects 4hello echoed on the WebSocket
engine.io|Engine.IO protocol upgrade ignores WebSocket connection with same sid after upgrade|needs the echo app for its last step (4hello echoed); its first part is the same check as the Socket.IO suite's "should ignore WebSocket connection with same sid after upgrade"
socket.io|Socket.IO protocol connect should allow connection to the main namespace|needs the echo app: expects the app's emit("auth", handshake.auth) as 42["auth",{}] after the CONNECT reply (supportd sends nothing; the next frame is a ping)
socket.io|Socket.IO protocol connect should allow connection to the main namespace with a payload|needs the echo app: expects the CONNECT auth payload echoed back as 42["auth",{"token":"123"}]
socket.io|Socket.IO protocol connect should allow connection to a custom namespace|needs the echo app: the app defines the /custom namespace; supportd serves only / and answers 44/custom,{"message":"Invalid namespace"}
socket.io|Socket.IO protocol connect should allow connection to a custom namespace with a payload|needs the echo app: the /custom namespace and 42/custom,["auth",{"token":"abc"}]
socket.io|Socket.IO protocol disconnect should disconnect from the main namespace|needs the echo app: the helper takes the app's 42["auth",...] as its third frame; without it the third frame is supportd's first ping, which the test never answers, so the session ends by ping timeout (500 ms) before the ping the test waits for (600 ms)
socket.io|Socket.IO protocol disconnect should connect then disconnect from a custom namespace|needs the echo app: the /custom namespace, then 42["message-back",...] for the app's "message" event
socket.io|Socket.IO protocol message should send a plain-text packet|needs the echo app: expects 42["message-back",1,"2",{"3":[true]}]; supportd answers 42["error",{"code":"unknown_event",...,"event":"message"}]
socket.io|Socket.IO protocol message should send a packet with binary attachments|needs the echo app: expects the binary event echoed as 452-["message-back",...] with both attachments; supportd refuses binary events by design (42["error",{"code":"binary_unsupported",...}])
socket.io|Socket.IO protocol message should send a plain-text packet with an ack|needs the echo app: expects the app's ack 43456[1,"2",{"3":[false]}]; supportd acks 43456[{"ok":false,"error":{"code":"unknown_event",...}}]
socket.io|Socket.IO protocol message should send a packet with binary attachments and an ack|needs the echo app: expects a binary ack 462-789[...] with both attachments; supportd refuses binary events by design (42["error",{"code":"binary_unsupported",...}])
EOF
)

for c in node npm timeout; do
  command -v "$c" >/dev/null 2>&1 || { echo "conformance: $c is required" >&2; exit 1; }
done
for s in engine.io socket.io; do
  [ -f "$shared/$s-protocol/test-suite/test-suite.js" ] \
    || { echo "conformance: no $shared/$s-protocol/test-suite (set CONFORMANCE_DIR)" >&2; exit 1; }
done
if [ ! -x "$bin" ]; then
  echo "conformance: $bin missing, building it"
  (cd "$root" && timeout 3600 cargo build --release --quiet)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/supportd-conformance.XXXXXX")
pid=""
stop_daemon() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    # SIGTERM stops it within 2 s; do not wait forever.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  stop_daemon
  if [ "$keep" = 1 ]; then echo "conformance: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

printf '%s\n' "$EXPECTED_FAILURES" >"$tmp/expected-failures.txt"

cat >"$tmp/config.toml" <<'EOF'
# supportd configured as the suites' reference servers (see each protocol's README.md, "Test suite").
[server]
bind = "127.0.0.1"
port = 0
cors_origins = ["*"]
[socketio]
ping_interval_ms = 300
ping_timeout_ms = 200
max_payload_bytes = 1000000
connect_timeout_ms = 1000
[metrics]
enabled = true
bind = "127.0.0.1"
port = 0
[log]
level = "info"
EOF

# Per-case results from a mocha JSON report against the allow-list; prints them, the summary
# line, and exits 1 on an unexpected failure (or a report that is missing or unreadable).
cat >"$tmp/summarize.mjs" <<'EOF'
import fs from "node:fs";
const [suite, report, allowFile] = process.argv.slice(2);
const allowed = new Map();
for (const line of fs.readFileSync(allowFile, "utf8").split("\n")) {
  const [s, title, reason] = line.split("|");
  if (s === suite && title) allowed.set(title, reason);
}
let r;
try { r = JSON.parse(fs.readFileSync(report, "utf8")); }
catch (e) { console.log(`${suite}: no usable mocha report (${e.message})`); process.exit(1); }
const failed = new Map(r.failures.map((t) => [t.fullTitle, t]));
const passed = new Set(r.passes.map((t) => t.fullTitle));
let pass = 0, fail = 0, xfail = 0, xpass = 0;
const seen = new Set();
for (const t of r.tests.concat(r.failures.filter((f) => !r.tests.some((t) => t.fullTitle === f.fullTitle)))) {
  const title = t.fullTitle;
  if (seen.has(title)) continue;
  seen.add(title);
  if (failed.has(title)) {
    const err = failed.get(title).err || {};
    const why = (err.message || "").split("\n")[0];
    if (allowed.has(title)) { xfail++; console.log(`  xfail  ${title}\n           (${allowed.get(title)})\n           got: ${why}`); }
    else { fail++; console.log(`  FAIL   ${title}\n           ${why}`); }
  } else if (passed.has(title)) {
    if (allowed.has(title)) { xpass++; console.log(`  XPASS  ${title} (listed as expected to fail: ${allowed.get(title)})`); }
    else { pass++; console.log(`  ok     ${title}`); }
  } else {
    console.log(`  skip   ${title}`);
  }
}
for (const title of allowed.keys()) if (!seen.has(title)) console.log(`  note: listed case not in the suite: ${title}`);
const extra = xpass ? `, ${xpass} unexpected passes` : "";
console.log(`${suite}: ${pass + xpass} passed, ${fail} failed, ${xfail} expected-failures${extra}`);
process.exit(fail || r.stats.tests === 0 ? 1 : 0);
EOF

start_daemon() { # $1: log file; sets pid and port
  "$bin" --config "$tmp/config.toml" 2>"$1" &
  pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    cat "$1" >&2
    echo "conformance: supportd did not start" >&2
    exit 1
  fi
}

status=0
summaries=()
for s in engine.io socket.io; do
  dir="$tmp/$s"
  cp -R "$shared/$s-protocol/test-suite" "$dir"
  rm -rf "$dir/node_modules"
  echo "== $s: npm ci"
  (cd "$dir" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >"$tmp/$s-npm.log" 2>&1) \
    || { cat "$tmp/$s-npm.log" >&2; echo "conformance: npm ci failed for $s" >&2; exit 1; }

  start_daemon "$tmp/$s-supportd.log"
  echo "== $s: supportd on 127.0.0.1:$port"
  # localhost may resolve to ::1 first; supportd is bound to 127.0.0.1 only.
  sed -i "s#http://localhost:3000#http://127.0.0.1:$port#g" "$dir/test-suite.js"
  [ "$s" = engine.io ] && sed -i 's#/engine\.io/#/socket.io/#g' "$dir/test-suite.js"
  grep -q "127.0.0.1:$port" "$dir/test-suite.js" || { echo "conformance: URL rewrite failed for $s" >&2; exit 1; }

  # --exit: some cases leave sockets open; mocha's own per-case timeouts bound each case.
  (cd "$dir" && timeout 300 ./node_modules/.bin/mocha --exit --reporter json \
    --reporter-option "output=$tmp/$s-report.json" test-suite.js >"$tmp/$s-mocha.log" 2>&1) || true
  stop_daemon

  echo "== $s: results"
  set +e
  out=$(node "$tmp/summarize.mjs" "$s" "$tmp/$s-report.json" "$tmp/expected-failures.txt")
  rc=$?
  set -e
  printf '%s\n' "$out"
  if [ "$rc" != 0 ]; then
    status=1
    [ -s "$tmp/$s-report.json" ] || { echo "-- mocha output:"; tail -n 40 "$tmp/$s-mocha.log"; }
  fi
  summaries+=("$(printf '%s\n' "$out" | tail -n 1)")
done

echo "== summary"
printf '%s\n' "${summaries[@]}"
if [ "$status" = 0 ]; then echo "conformance: OK"; else echo "conformance: unexpected failures" >&2; fi
exit "$status"
