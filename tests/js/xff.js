// The client address a TLS reverse proxy forwards reaches supportd's per-address limits
// (scripts/nginx-test.sh, with supportd's limits.trusted_proxies = ["127.0.0.1"] and
// max_connections_per_ip = LIMIT). Native WebSockets on wss://.../ws from two loopback
// addresses (127.0.0.2 and 127.0.0.3; every 127/8 address is on lo): each address gets
// LIMIT connections at once, so the proxy's own address is not what is counted; the next one
// from 127.0.0.2 is refused with 503, also when it sends a forged X-Forwarded-For (the proxy
// appends the address it saw, and supportd takes the last); once one of 127.0.0.2's
// connections closes, 127.0.0.2 is let in again.
// Env: SERVER_URL (https://127.0.0.1:PORT), LIMIT (default 2), ORIGIN.
'use strict';
const WebSocket = require('ws'); // socket.io-client's own WebSocket library
const { guard, env, fail, sleep } = require('./lib');

guard(Number(env('TIMEOUT_MS', '15000')));
const url = `${env('SERVER_URL').replace(/^https:/, 'wss:')}/ws`;
const limit = Number(env('LIMIT', '2'));
const origin = env('ORIGIN');

// Opens a WebSocket from `localAddress`: resolves 'open', or 'refused NNN' (an HTTP answer
// instead of the upgrade), or 'error: ...'.
function open(localAddress, headers = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress, headers: { Origin: origin, ...headers } });
    ws.once('open', () => resolve({ ws, result: 'open' }));
    ws.once('unexpected-response', (_req, res) => resolve({ ws, result: `refused ${res.statusCode}` }));
    ws.once('error', (e) => resolve({ ws, result: `error: ${e.message}` }));
  });
}

function expect(what, got, want) {
  if (got.result !== want) fail(`${what}: expected ${want}, got ${got.result}`);
  console.log(`${what}: ${got.result}`);
}

(async () => {
  const held = { '127.0.0.2': [], '127.0.0.3': [] };
  for (const addr of Object.keys(held)) {
    for (let i = 0; i < limit; i++) {
      const c = await open(addr);
      expect(`${addr} connection ${i + 1} of ${limit}`, c, 'open');
      held[addr].push(c.ws);
    }
  }
  expect(`127.0.0.2 connection ${limit + 1}`, await open('127.0.0.2'), 'refused 503');
  const forged = await open('127.0.0.2', { 'X-Forwarded-For': '198.51.100.7' });
  expect('127.0.0.2 with a forged X-Forwarded-For', forged, 'refused 503');
  // One closes; its count is released when supportd reaps it (bounded retries).
  held['127.0.0.2'].shift().close();
  let again;
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    again = await open('127.0.0.2');
    if (again.result === 'open') break;
  }
  expect('127.0.0.2 after one of its connections closed', again, 'open');
  again.ws.close();
  for (const list of Object.values(held)) for (const ws of list) ws.close();
  await sleep(200);
  console.log('ok xff');
  process.exit(0);
})();
