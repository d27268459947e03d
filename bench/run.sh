#!/usr/bin/env bash
# bench/run.sh — side-by-side load figures: supportd versus the original Node
# (Express + Socket.IO) server, plus a plain mio+tungstenite echo server as the
# relay ceiling. Everything runs on loopback, is bounded in time, stops by itself,
# and kills the servers it started on exit.
#
# Usage: bench/run.sh [--quick] [--big] [--conns N] [--duration S] [--warmup S]
#                     [--repeat N] [--only-supportd] [--only-original] [--no-echo] [--out DIR]
#   --quick        short runs (3 s measurement, 1 s warmup, 2000 connections)
#   --big          also open 100,000 connections against supportd
#   --conns N      connections for the connect scenario (default 10000)
#   --repeat N     run every scenario N times, servers interleaved; the table shows the
#                  median run of each cell and the range (for noisy shared machines)
#   (scenarios: relay K=1, relay K=16, calls, connect, echo K=1/K=16 and, against supportd
#    if it queues, queue)
#
# File descriptors: the script raises the hard limit itself (`ulimit -Hn`, which
# needs root or CAP_SYS_RESOURCE) and then the soft limit; servers and the load
# tool inherit it, and supportd-load also raises its own soft limit to the hard
# limit. 100,000 connections need ~100k descriptors in each of supportd and the
# tool; source addresses are spread over 127.0.0.1..16 to pass the ~28k
# ephemeral-port limit per source address.
#
# The queue scenario (more users than agents) runs against supportd only, and only if a
# probe shows that it queues (`callAgent` with no free agent answered by `queued`).
#
# With 2+ cores, the server runs on CPU 0 and the generator on CPU 1 (taskset).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TDIR=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=10; WARMUP=2; CONNS=10000; BIG=0; QUICK=0; REPEAT=1
RUN_SUPPORTD=1; RUN_ORIGINAL=1; RUN_ECHO=1; OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; DURATION=3; WARMUP=1; CONNS=2000 ;;
    --big) BIG=1 ;;
    --conns) CONNS=$2; shift ;;
    --repeat) REPEAT=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --only-supportd) RUN_ORIGINAL=0 ;;
    --only-original) RUN_SUPPORTD=0; RUN_ECHO=0 ;;
    --no-echo) RUN_ECHO=0 ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

WORK=$(mktemp -d /tmp/supportd-bench.XXXXXX)
OUT=${OUT:-$WORK}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: > "$RESULTS"
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    sleep 0.5
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
trap 'cleanup; rm -rf "$WORK/ref"' EXIT
trap 'exit 130' INT TERM

# ---- limits and CPU pinning
ulimit -Hn 1048576 2>/dev/null || ulimit -Hn 400000 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open files limit: $(ulimit -n) (hard $(ulimit -Hn))"
SRV_CPU=(); GEN_CPU=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  SRV_CPU=(taskset -c 0); GEN_CPU=(taskset -c 1)
  echo "pinning: server on CPU 0, generator on CPU 1"
fi

# ---- builds
echo "building (release)…"
(cd "$ROOT" && cargo build --release -q -p supportd-load)
LOAD=$TDIR/release/supportd-load
SUPPORTD=$TDIR/release/supportd
ECHO=$TDIR/release/examples/echo_baseline
if [ "$RUN_SUPPORTD" = 1 ]; then
  (cd "$ROOT" && cargo build --release -q -p supportd --bin supportd)
fi
if [ "$RUN_ECHO" = 1 ]; then
  (cd "$ROOT" && cargo build --release -q -p supportd --example echo_baseline) || { echo "echo_baseline did not build; skipping echo"; RUN_ECHO=0; }
fi
if [ "$RUN_ORIGINAL" = 1 ]; then
  cp -r "$ROOT/../shared/reference" "$WORK/ref"
  chmod -R u+w "$WORK/ref"
  (cd "$WORK/ref" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { echo "npm ci failed; skipping the original"; RUN_ORIGINAL=0; }
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server did not listen on $1" >&2; return 1
}

start_supportd() {
  PORT=$(free_port); MPORT=$(free_port)
  cat > "$WORK/supportd.toml" <<CFG
[server]
bind = "127.0.0.1"
port = $PORT
[metrics]
bind = "127.0.0.1"
port = $MPORT
[log]
level = "warn"
# The load drives thousands of events per second per connection: the rate limiter runs
# (its cost is measured) but never refuses.
[limits]
events_per_sec = 1000000
events_burst = 1000000
toggles_per_sec = 1000000
toggles_burst = 1000000
CFG
  "${SRV_CPU[@]}" "$SUPPORTD" --config "$WORK/supportd.toml" > "$WORK/supportd.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$PORT"
}
start_original() {
  PORT=$(free_port)
  (cd "$WORK/ref" && PORT=$PORT exec "${SRV_CPU[@]}" node server.js) > "$WORK/original.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$PORT"
}
start_echo() {
  PORT=$(free_port)
  "${SRV_CPU[@]}" "$ECHO" "$PORT" > "$WORK/echo.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$PORT"
}

# run NAME SERVER(supportd|supportd-sio|original|echo) -- load args...
run() {
  local name=$1 server=$2; shift 3
  local url kind=supportd proto=native
  case "$server" in
    supportd) start_supportd; url="ws://127.0.0.1:$PORT/ws" ;;
    supportd-sio) start_supportd; url="ws://127.0.0.1:$PORT/socket.io/?EIO=4&transport=websocket"; proto=socketio ;;
    original) start_original; url="ws://127.0.0.1:$PORT/socket.io/?EIO=4&transport=websocket"; proto=socketio; kind=original ;;
    echo) start_echo; url="ws://127.0.0.1:$PORT/"; proto=echo ;;
  esac
  echo "--- $name on $server: $*"
  local log="$OUT/$name-$server.txt"
  if timeout 900 "${GEN_CPU[@]}" "$LOAD" "$@" --proto "$proto" --server-kind "$kind" --url "$url" \
      --server-pid "$SERVER_PID" --label "$name/$server" > "$log" 2>&1; then :; else
    echo "    (run exited non-zero, see $log)"
  fi
  grep -v '^{' "$log" | sed 's/^/    /' | tail -12
  grep '^{' "$log" | tail -1 >> "$RESULTS" || true
  cleanup
  sleep 1
}

D=(--duration "$DURATION" --warmup "$WARMUP")
SERVERS=()
[ "$RUN_SUPPORTD" = 1 ] && SERVERS+=(supportd)
[ "$RUN_ORIGINAL" = 1 ] && SERVERS+=(original)

# Does supportd speak Socket.IO yet? Probe with one connection.
if [ "$RUN_SUPPORTD" = 1 ]; then
  start_supportd
  if timeout 20 "$LOAD" connect --conns 1 --hold 0 --proto socketio --timeout-ms 3000 \
       --url "ws://127.0.0.1:$PORT/socket.io/?EIO=4&transport=websocket" 2>/dev/null | grep -q '"count":1,'; then
    SERVERS+=(supportd-sio); echo "supportd answers Socket.IO: included as supportd-sio"
  fi
  cleanup
fi

# Does supportd queue callers when every agent is busy? Probe with 4 users and 1 agent.
QUEUE=0
if [ "$RUN_SUPPORTD" = 1 ]; then
  start_supportd
  if timeout 30 "$LOAD" queue --users 4 --agents 1 --duration 1 --warmup 0.2 --call-ms-min 100 --call-ms-max 100 \
       --timeout-ms 3000 --url "ws://127.0.0.1:$PORT/ws" 2>/dev/null | grep -q '"queued_frames":[1-9]'; then
    QUEUE=1; echo "supportd queues: queue scenario included"
  else
    echo "supportd does not queue (no \`queued\` reply): queue scenario skipped"
  fi
  cleanup
fi

for rep in $(seq 1 "$REPEAT"); do
  [ "$REPEAT" -gt 1 ] && echo "=== repetition $rep of $REPEAT"
  for s in "${SERVERS[@]}"; do
    run relay_k1  "$s" -- relay --pairs 100 --inflight 1 "${D[@]}"
    run relay_k16 "$s" -- relay --pairs 100 --inflight 16 "${D[@]}"
    run calls     "$s" -- calls --pairs 100 "${D[@]}"
    run connect   "$s" -- connect --conns "$CONNS" --batch 200 --hold 2
    if [ "$QUEUE" = 1 ] && [ "${s#supportd}" != "$s" ]; then  # supportd and supportd-sio only
      run queue   "$s" -- queue --users 400 --agents 20 --call-ms-min 50 --call-ms-max 500 "${D[@]}"
    fi
  done
  if [ "$RUN_ECHO" = 1 ]; then
    run relay_k1  echo -- echo --pairs 100 --inflight 1 "${D[@]}"
    run relay_k16 echo -- echo --pairs 100 --inflight 16 "${D[@]}"
  fi
done
if [ "$BIG" = 1 ] && [ "$RUN_SUPPORTD" = 1 ]; then
  BIGN=100000
  LIM=$(ulimit -n)
  if [ "$LIM" != unlimited ] && [ "$LIM" -lt $((BIGN + 1000)) ]; then
    BIGN=$((LIM - 1000))
    echo "WARNING: open-files limit is $LIM and the hard limit could not be raised"
    echo "         (needs root with CAP_SYS_RESOURCE); --big runs $BIGN connections instead of 100000"
  fi
  run connect_big supportd -- connect --conns "$BIGN" --batch 500 --hold 5 --timeout-ms 30000
fi

python3 "$ROOT/bench/table.py" "$RESULTS"
echo "raw results: $RESULTS"
