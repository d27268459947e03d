#!/usr/bin/env bash
# Instructions per relayed message, for comparing two builds without the wall clock's noise.
# Runs each binary under valgrind's cachegrind (instruction counts only) while supportd-load
# relays for DUR seconds (pairs 20, 4 in flight: under valgrind the server is the limit, so
# batching is the same for both), and prints the instructions the whole server process ran
# divided by the messages relayed (start-up is included, and is the same for both builds).
# Runs of the same binary agree to about 0.1 %; on this VM timed runs of the same binary
# spread ±10 % (docs/performance.md), so a change of a few percent shows here first.
# Usage: bench/ir.sh BINARY [BINARY...]   (env: PROTOS="native socketio", DUR=8, REPS=1,
# LOAD=target/release/supportd-load). Installs valgrind (Debian) if missing. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/ir.sh BINARY [BINARY...]" >&2; exit 2; }
LOAD=${LOAD:-target/release/supportd-load}
PROTOS=${PROTOS:-native socketio}
DUR=${DUR:-8}
REPS=${REPS:-1}
[ -x "$LOAD" ] || cargo build --release --quiet -p supportd-load
if ! command -v valgrind >/dev/null 2>&1; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get install -y -qq valgrind >/dev/null
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# One run: prints "instructions messages".
one() {
  local bin=$1 proto=$2 port url pid json
  port=$(free_port)
  printf '[server]\nbind="127.0.0.1"\nport=%s\n[metrics]\nenabled=false\n[log]\nlevel="warn"\n[limits]\nevents_per_sec = 1000000\nevents_burst = 1000000\ntoggles_per_sec = 1000000\ntoggles_burst = 1000000\nping_interval_ms = 0\n' \
    "$port" >"$out/c.toml"
  taskset -c 0 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out/cg" \
    "$bin" --config "$out/c.toml" >/dev/null 2>"$out/vg.log" &
  pid=$!
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  url="ws://127.0.0.1:$port/ws"
  [ "$proto" = socketio ] && url="ws://127.0.0.1:$port/socket.io/?EIO=4&transport=websocket"
  json=$(timeout 120 taskset -c 1 "$LOAD" relay --pairs 20 --inflight 4 --duration "$DUR" --warmup 0 \
    --proto "$proto" --server-kind supportd --url "$url" --label ir 2>/dev/null | grep '^{' | tail -1)
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  echo "$(awk '/^summary:/ {print $2}' "$out/cg") $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["count"])' "$json")"
}

for proto in $PROTOS; do
  for bin in "$@"; do
    for _ in $(seq "$REPS"); do
      read -r ir n < <(one "$bin" "$proto")
      echo "$proto $bin: $((ir / n)) instructions per message ($n messages)"
    done
  done
done
