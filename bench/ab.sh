#!/usr/bin/env bash
# Paired A/B of two supportd builds with the same load tool: old and new alternately (the
# order flips every rep, so a drift of the host favours neither), server on CPU 0, load on
# CPU 1, loopback only, bounded in time. Prints the median per server CPU second of each.
# Usage: bench/ab.sh OLD_BINARY NEW_BINARY   (env: REPS=3, DUR=6, LOAD=target/release/
# supportd-load, OLD_EXTRA / NEW_EXTRA: TOML appended to each one's config, e.g. the rate
# limits a build that has them must lift: NEW_EXTRA='[limits]\nevents_per_sec = 1000000...')
set -u
OLD=${1:?usage: bench/ab.sh OLD_BINARY NEW_BINARY}
NEW=${2:?usage: bench/ab.sh OLD_BINARY NEW_BINARY}
cd "$(dirname "$0")/.."
LOAD=${LOAD:-target/release/supportd-load}
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
REPS=${REPS:-3}; DUR=${DUR:-6}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run() { # label bin extra proto args...
  local label=$1 bin=$2 extra=$3 proto=$4; shift 4
  local port; port=$(free_port)
  printf '[server]\nbind="127.0.0.1"\nport=%s\n[metrics]\nenabled=false\n[log]\nlevel="warn"\n%b\n' "$port" "$extra" >"$OUT/c.toml"
  taskset -c 0 "$bin" --config "$OUT/c.toml" >"$OUT/srv.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  local url="ws://127.0.0.1:$port/ws"
  [ "$proto" = socketio ] && url="ws://127.0.0.1:$port/socket.io/?EIO=4&transport=websocket"
  timeout 300 taskset -c 1 "$LOAD" "$@" --proto "$proto" --server-kind supportd --url "$url" \
    --server-pid "$pid" --label "$label" 2>/dev/null | grep '^{' | tail -1 >>"$OUT/results.jsonl"
  kill "$pid"; wait "$pid" 2>/dev/null; sleep 0.5
}
one() { # old|new
  local bin=$OLD extra=${OLD_EXTRA:-}
  [ "$1" = new ] && { bin=$NEW; extra=${NEW_EXTRA:-}; }
  run "$1/relay_k16_native" "$bin" "$extra" native relay --pairs 100 --inflight 16 --duration "$DUR" --warmup 2
  run "$1/relay_k16_sio" "$bin" "$extra" socketio relay --pairs 100 --inflight 16 --duration "$DUR" --warmup 2
  run "$1/calls_native" "$bin" "$extra" native calls --pairs 100 --duration "$DUR" --warmup 2
  run "$1/connect_native" "$bin" "$extra" native connect --conns 5000 --batch 200 --hold 1
}
for rep in $(seq "$REPS"); do
  if [ $((rep % 2)) = 1 ]; then one old; one new; else one new; one old; fi
done
python3 - "$OUT/results.jsonl" <<'PY'
import json, statistics, collections, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(list)
for r in rows:
    by[r["label"]].append(r)
fig = lambda r: r.get("per_cpu_s") or 0
for n in sorted({k.split("/", 1)[1] for k in by}):
    o = [round(fig(r)) for r in by["old/" + n]]
    w = [round(fig(r)) for r in by["new/" + n]]
    mo, mw = statistics.median(o), statistics.median(w)
    bad = sum((r.get("errors") or 0) + (r.get("unexpected") or 0) for r in by["new/" + n])
    print(f"{n}: old {mo:.0f} {o}  new {mw:.0f} {w}  {100 * (mw - mo) / mo:+.1f} %  (new errors: {bad})")
PY
