#!/usr/bin/env bash
# The reverse-proxy configs of docs/deployment.md, exercised: etc/nginx/supportd.conf and
# etc/caddy/Caddyfile, templated only for ports and certificate paths, in front of supportd,
# with a self-signed certificate (openssl). Through each proxy, the stock socket.io-client
# (tests/js/tls_call.js, with the certificate as its CA) registers an agent and a user, makes
# a call and sends a message each way, over wss:// and over polling; a native WebSocket
# client does the same over wss://.../ws, and a page of another origin is refused. Then,
# with max_connections_per_ip reloaded to 2, tests/js/xff.js checks through each proxy that
# supportd counts the client address the proxy forwards (X-Forwarded-For), not the proxy's,
# and that a client cannot forge it. Installs
# nginx-light and caddy from Debian (apt-get; sudo if not root) when missing, without
# starting their system services.
# Loopback only, bounded in time; cleans up what it started. Ends with
# "nginx-test: N passed, N failed" (one per proxy and client; a proxy that cannot start fails
# its cases; Caddy not installable is said and skipped).
# Usage: scripts/nginx-test.sh   (needs target/release/supportd or builds it; npm ci in tests/js)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
ORIGIN=https://support.example.com

summary() { echo "nginx-test: $passed passed, $failed failed"; }
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAILED: $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
bin() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || echo "/usr/bin/$1"; }

# apt-get install PACKAGE, as root or with sudo, with policy-rc.d telling maintainer scripts
# not to start the package's service (the Debian nginx would listen on every address).
apt_install() {
  local sudo=() policy=/usr/sbin/policy-rc.d made=0 rc=0
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null && "${sudo[@]}" chmod 755 "$policy" && made=1
  fi
  "${sudo[@]}" apt-get update -qq >/dev/null 2>&1
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "$@" >"$tmp/apt.log" 2>&1 || rc=1
  [ "$made" -eq 1 ] && "${sudo[@]}" rm -f "$policy"
  [ "$rc" -eq 0 ] || tail -5 "$tmp/apt.log" >&2
  return $rc
}

have nginx || { echo "== nginx-test: installing nginx-light"; apt_install nginx-light || apt_install nginx; }
have caddy || { echo "== nginx-test: installing caddy"; apt_install caddy || echo "nginx-test: caddy is not installable here; its config is not tested" >&2; }
if [ ! -d tests/js/node_modules/socket.io-client ]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error) || { fail "npm ci in tests/js"; summary; exit 1; }
fi
if [ ! -x target/release/supportd ]; then
  cargo build --release --quiet --bin supportd || { fail "build supportd"; summary; exit 1; }
fi

# A certificate for 127.0.0.1, the CA the clients trust.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 || { fail "openssl certificate"; summary; exit 1; }
# nginx's workers (nobody, when started as root) read and write under $tmp.
chmod 755 "$tmp"

# supportd on loopback, configured as docs/deployment.md says for a proxy on this host.
sport=$(free_port)
cat >"$tmp/supportd.toml" <<END
[server]
bind = "127.0.0.1"
port = $sport
cors_origins = ["$ORIGIN"]
[limits]
trusted_proxies = ["127.0.0.1"]
[metrics]
enabled = false
[log]
level = "info"
END
target/release/supportd --config "$tmp/supportd.toml" 2>"$tmp/supportd.log" &
pids+=($!)
wait_port "$sport" || { cat "$tmp/supportd.log" >&2; fail "supportd did not start"; summary; exit 1; }

# The clients through a proxy at https://127.0.0.1:PORT; NAME labels the results.
# One client case: `js_case LABEL LOG SCRIPT VAR=VALUE...` runs tests/js/SCRIPT through the
# proxy (trusting the test certificate) with those variables; its log is shown if it fails.
js_case() {
  local label=$1 log=$2 script=$3
  shift 3
  if env NODE_EXTRA_CA_CERTS="$tmp/cert.pem" "$@" timeout 30 node "tests/js/$script" >"$log" 2>&1; then
    pass "$label"
  else
    cat "$log" >&2
    fail "$label"
  fi
}

clients() {
  local name=$1 port=$2 t
  for t in websocket polling native; do
    js_case "$name: $t call over TLS" "$tmp/$name-$t.log" tls_call.js \
      SERVER_URL="https://127.0.0.1:$port" TRANSPORTS=$t ORIGIN=$ORIGIN
  done
  # The page's Origin reaches supportd: one it does not allow is refused through the proxy.
  js_case "$name: another origin refused" "$tmp/$name-origin.log" tls_call.js \
    SERVER_URL="https://127.0.0.1:$port" TRANSPORTS=polling ORIGIN=https://elsewhere.example REFUSED=1
}
# Counts the client cases of a proxy that could not be set up as failed.
broken() { failed=$((failed + 4)); echo "FAILED: $1 (4 cases)" >&2; }

# Replaces $2 by $3 in file $1 and fails when $2 is not in it (the shipped file changed).
subst() {
  grep -qF -- "$2" "$1" || { echo "template: '$2' not in $1" >&2; return 1; }
  python3 - "$@" <<'PY'
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
open(path, "w").write(text.replace(old, new))
PY
}

# nginx: etc/nginx/supportd.conf included in a main config of its own (no system files).
nginx_test() {
  local nport site=$tmp/nginx-supportd.conf
  nport=$(free_port)
  cp etc/nginx/supportd.conf "$site"
  subst "$site" "listen 443 ssl;" "listen 127.0.0.1:$nport ssl;" &&
    subst "$site" "server 127.0.0.1:8080;" "server 127.0.0.1:$sport;" &&
    subst "$site" "/etc/ssl/certs/support.example.com.pem" "$tmp/cert.pem" &&
    subst "$site" "/etc/ssl/private/support.example.com.key" "$tmp/key.pem" || { broken "nginx: template"; return; }
  mkdir -p "$tmp/nginx"
  cat >"$tmp/nginx.conf" <<END
daemon off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log $tmp/nginx/access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    include $site;
}
END
  local nginx
  nginx=$(bin nginx)
  "$nginx" -t -q -c "$tmp/nginx.conf" -p "$tmp/nginx" 2>"$tmp/nginx-t.log" || { cat "$tmp/nginx-t.log" >&2; broken "nginx: config test"; return; }
  timeout 300 "$nginx" -c "$tmp/nginx.conf" -p "$tmp/nginx" 2>>"$tmp/nginx/error.log" &
  pids+=($!)
  wait_port "$nport" || { cat "$tmp/nginx/error.log" >&2; broken "nginx did not start"; return; }
  clients nginx "$nport"
  proxies+=("nginx $nport")
}

# Caddy: etc/caddy/Caddyfile after a global block (no admin endpoint, no port 80 redirects),
# its state under $tmp.
caddy_test() {
  local cport file=$tmp/Caddyfile
  cport=$(free_port)
  printf '{\n\tadmin off\n\tauto_https disable_redirects\n}\n\n' >"$file"
  cat etc/caddy/Caddyfile >>"$file"
  subst "$file" "support.example.com {" "https://127.0.0.1:$cport {
	bind 127.0.0.1
	tls $tmp/cert.pem $tmp/key.pem" &&
    subst "$file" "reverse_proxy 127.0.0.1:8080" "reverse_proxy 127.0.0.1:$sport" || { broken "caddy: template"; return; }
  local caddy
  caddy=$(bin caddy)
  mkdir -p "$tmp/caddy"
  HOME=$tmp/caddy XDG_DATA_HOME=$tmp/caddy XDG_CONFIG_HOME=$tmp/caddy \
    "$caddy" validate --config "$file" --adapter caddyfile >"$tmp/caddy-validate.log" 2>&1 ||
    { cat "$tmp/caddy-validate.log" >&2; broken "caddy: config validation"; return; }
  HOME=$tmp/caddy XDG_DATA_HOME=$tmp/caddy XDG_CONFIG_HOME=$tmp/caddy \
    timeout 300 "$caddy" run --config "$file" --adapter caddyfile >"$tmp/caddy.log" 2>&1 &
  pids+=($!)
  wait_port "$cport" || { cat "$tmp/caddy.log" >&2; broken "caddy did not start"; return; }
  clients caddy "$cport"
  proxies+=("caddy $cport")
}

# The per-address limit through each proxy that ran: supportd reloaded (SIGHUP) with
# max_connections_per_ip = 2, then tests/js/xff.js from 127.0.0.2 and 127.0.0.3.
forwarded_test() {
  local p name port
  [ "${#proxies[@]}" -gt 0 ] || return 0
  subst "$tmp/supportd.toml" 'trusted_proxies = ["127.0.0.1"]' 'trusted_proxies = ["127.0.0.1"]
max_connections_per_ip = 2' || { failed=$((failed + ${#proxies[@]})); return; }
  kill -HUP "${pids[0]}"
  for _ in $(seq 50); do grep -q 'configuration reloaded' "$tmp/supportd.log" && break; sleep 0.1; done
  grep -q 'configuration reloaded' "$tmp/supportd.log" || { tail "$tmp/supportd.log" >&2; failed=$((failed + ${#proxies[@]})); echo "FAILED: supportd did not reload" >&2; return; }
  for p in "${proxies[@]}"; do
    read -r name port <<<"$p"
    js_case "$name: the forwarded client address is counted, and cannot be forged" \
      "$tmp/$name-xff.log" xff.js SERVER_URL="https://127.0.0.1:$port" ORIGIN=$ORIGIN LIMIT=2
  done
}

proxies=()
if have nginx; then nginx_test; else broken "nginx is not installed"; fi
if have caddy; then caddy_test; fi
forwarded_test
kill -0 "${pids[0]}" 2>/dev/null || { tail "$tmp/supportd.log" >&2; fail "supportd died during the run"; }
summary
[ "$failed" -eq 0 ]
