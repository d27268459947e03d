// Connect, register as an agent, wait for the server to drop the connection (triggered
// externally, e.g. a restart), expect socket.io-client's automatic reconnection within
// 10 s and register again successfully.
// Env: SERVER_URL, TRANSPORTS, MODE (reference|supportd: supportd also expects `registered`),
// RECONNECT_TRIGGER (optional shell command run once registered, e.g. one that restarts the
// server; without it the script waits DISCONNECT_WAIT_MS (60000) for an outside disconnect).
'use strict';
const { execSync } = require('child_process');
const { Client, guard, env, fail, ok, runIds } = require('./lib');

const waitMs = Number(env('DISCONNECT_WAIT_MS', '60000'));
guard(waitMs + 30000);
const url = env('SERVER_URL');
const supportd = env('MODE', 'reference') === 'supportd';
const trigger = env('RECONNECT_TRIGGER', '');

async function register(c, id, from) {
  c.emit('connectAgent', { id });
  if (supportd && !(await c.waitFor('registered', { role: 'agent', id }, from, 5000))) {
    fail(`no registered {role:"agent", id:"${id}"} after connectAgent`);
  }
  if (!(await c.waitFor('getAvailableAgents', null, from, 5000))) fail('no getAvailableAgents after connectAgent');
}

(async () => {
  const { a1 } = runIds();
  const c = new Client('A', url, { reconnection: true, reconnectionDelay: 500, reconnectionDelayMax: 2000 });
  await c.connected();
  await register(c, a1, 0);

  const reason = await new Promise((resolve) => {
    const t = setTimeout(() => fail(`no disconnect within ${waitMs} ms (set RECONNECT_TRIGGER or drop the connection)`), waitMs);
    c.socket.once('disconnect', (r) => {
      clearTimeout(t);
      resolve(r);
    });
    if (trigger) {
      console.log(`reconnect: registered; running RECONNECT_TRIGGER`);
      execSync(trigger, { stdio: 'inherit', shell: '/bin/bash' });
    } else {
      console.log(`reconnect: registered as ${a1}; waiting for the server to drop the connection`);
    }
  });
  if (reason === 'io server disconnect') {
    // A Socket.IO DISCONNECT from the server: the client does not reconnect by itself.
    console.log('reconnect: server sent a Socket.IO disconnect; reconnecting by hand');
    c.socket.connect();
  }
  const from = c.log.length;
  const back = await new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), 10000);
    c.socket.once('connect', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
  if (!back) fail(`no reconnection within 10 s after disconnect (${reason})`);
  await register(c, a1, from);
  await ok(c);
})();
