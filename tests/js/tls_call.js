// One call through a TLS reverse proxy (scripts/nginx-test.sh): an agent and a user
// connect over https/wss with the stock socket.io-client, register, the user calls, one
// message goes each way, the user leaves. The certificate is checked (NODE_EXTRA_CA_CERTS).
// TRANSPORTS=native does the same with a native WebSocket client on wss://.../ws.
// With REFUSED=1, the ORIGIN is one supportd's cors_origins does not list, and the
// handshake must be refused (the proxy passes the browser's Origin on).
// Env: SERVER_URL (https://127.0.0.1:PORT), TRANSPORTS (websocket|polling|native), ORIGIN
// (sent as the Origin header, as a browser on that page would), REFUSED (0|1).
'use strict';
const WebSocket = require('ws'); // socket.io-client's own WebSocket library
const { Client, guard, env, fail, ok, runIds, hasFields } = require('./lib');

guard(Number(env('TIMEOUT_MS', '15000')));
const url = env('SERVER_URL');
const transport = env('TRANSPORTS');
const origin = env('ORIGIN');
if (!url.startsWith('https://')) fail(`SERVER_URL must be https://, not ${url}`);

// A native /ws client with the lib Client's interface (emit, waitFor, log, close).
class NativeClient {
  constructor(label, base, headers) {
    this.label = label;
    this.log = [];
    this.waiters = [];
    this.ws = new WebSocket(`${base.replace(/^https:/, 'wss:')}/ws`, { headers });
    this.ws.on('message', (text) => {
      const m = JSON.parse(text.toString());
      this.log.push({ name: m.event, data: m.data });
      for (const f of this.waiters.slice()) f();
    });
  }
  connected() {
    return new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', (e) => reject(new Error(`${this.label}: ${e.message}`)));
    });
  }
  transport() {
    return this.ws.readyState === WebSocket.OPEN ? 'native' : 'closed';
  }
  emit(event, data) {
    this.ws.send(JSON.stringify({ event, data }));
  }
  waitFor(name, fields, from = 0, timeoutMs = 5000) {
    return new Promise((resolve) => {
      const check = () => {
        const e = this.log.slice(from).find((x) => !x.consumed && x.name === name && hasFields(x.data, fields));
        if (!e) return;
        e.consumed = true;
        clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(e);
      };
      const t = setTimeout(() => resolve(null), timeoutMs);
      this.waiters.push(check);
      check();
    });
  }
  close() {
    this.ws.close(1000);
  }
}

function client(label) {
  const headers = { Origin: origin };
  if (transport === 'native') return new NativeClient(label, url, headers);
  const c = new Client(label, url, { extraHeaders: headers });
  c.transport = () => c.socket.io.engine.transport.name;
  return c;
}

async function expect(client, name, fields, from) {
  const e = await client.waitFor(name, fields, from);
  if (!e) fail(`${client.label} did not receive ${name} ${JSON.stringify(fields)}; got ${JSON.stringify(client.log.map((x) => [x.name, x.data]))}`);
  return e;
}

(async () => {
  const { a1, u1, r1 } = runIds();
  if (env('REFUSED', '0') === '1') {
    const c = client('stranger');
    const err = await c.connected().then(() => null, (e) => e);
    if (!err) fail(`a handshake from Origin ${origin} was accepted`);
    if (!/403|error/.test(err.message)) fail(`unexpected refusal: ${err.message}`);
    console.log(`ok ${require('path').basename(__filename, '.js')} (refused: ${err.message})`);
    process.exit(0);
  }
  const agent = client('agent');
  const user = client('user');
  await Promise.all([agent.connected(), user.connected()]);
  for (const c of [agent, user]) {
    const used = c.transport();
    if (used !== transport) fail(`${c.label} uses transport ${used}, expected ${transport}`);
  }

  agent.emit('connectAgent', { id: a1 });
  await expect(agent, 'registered', { role: 'agent', id: a1 });
  user.emit('connectUser', { id: u1 });
  await expect(user, 'registered', { role: 'user', id: u1 });

  user.emit('callAgent', { userId: u1, roomId: r1 });
  await expect(agent, 'callAgent', { userId: u1, roomId: r1, agentId: a1 });
  await expect(user, 'callAgent', { userId: u1, roomId: r1, agentId: a1 });

  user.emit('userMessage', { roomId: r1, messageInput: 'hello over TLS' });
  await expect(agent, 'userMessage', { messageInput: 'hello over TLS' });
  agent.emit('agentMessage', { roomId: r1, messageInput: 'hello back ✓' });
  await expect(user, 'agentMessage', { messageInput: 'hello back ✓' });

  user.emit('leaveCall', { roomId: r1, agentId: a1 });
  await expect(agent, 'callEnded', { roomId: r1, reason: 'left', by: 'user' });

  // Still the transport it started with (polling stays polling: upgrade is off).
  for (const c of [agent, user]) {
    const err = c.log.find((x) => x.name === 'error');
    if (err) fail(`${c.label} received error ${JSON.stringify(err.data)}`);
    if (c.transport() !== transport) fail(`${c.label} changed transport`);
  }
  await ok(agent, user);
})();
