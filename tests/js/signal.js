// Calls with audio and video through the stock socket.io-client: both parties get iceServers
// and polite in callAgent, the recorded WebRTC exchange (../fixtures/webrtc_exchange.json)
// relays intact and in order both ways, an oversize signal is refused in its ack
// (too_large). Env: SERVER_URL, TRANSPORTS; the daemon runs with one STUN server in
// [calls] ice_servers.
'use strict';
const { Client, guard, env, fail, ok, same } = require('./lib');

guard(Number(env('TIMEOUT_MS', '15000')));
const url = env('SERVER_URL');
const steps = require('../fixtures/webrtc_exchange.json').steps;

async function registered(c, event, id) {
  await c.connected();
  c.emit(event, { id });
  if (!(await c.waitFor('registered', { id }))) fail(`${c.label} not registered`);
}

async function must(c, name, fields) {
  const e = await c.waitFor(name, fields);
  if (!e) fail(`${c.label} did not get ${name} ${JSON.stringify(fields || {})}; got ${c.names().join(',')}`);
  return e.data;
}

(async () => {
  const a = new Client('agent', url);
  const u = new Client('user', url);
  await registered(a, 'connectAgent', 's-a');
  await registered(u, 'connectUser', 's-u');
  u.emit('callAgent', { roomId: 's-r', polite: true });
  const servers = [{ urls: ['stun:stun.example.com:3478'] }];
  const ac = await must(a, 'callAgent', { roomId: 's-r', polite: true });
  const uc = await must(u, 'callAgent', { roomId: 's-r', polite: false });
  if (!same(ac.iceServers, servers) || !same(uc.iceServers, servers)) {
    fail(`iceServers: ${JSON.stringify(ac.iceServers)} / ${JSON.stringify(uc.iceServers)}`);
  }
  for (const s of steps) (s.from === 'agent' ? a : u).emit('signal', { roomId: 's-r', data: s.data });
  for (const [who, to] of [['agent', u], ['user', a]]) {
    const want = steps.filter((s) => s.from === who).map((s) => s.data);
    for (let i = 0; i < want.length; i++) {
      const e = await to.waitFor('signal');
      if (!e) fail(`${to.label}: signal ${i + 1} of ${want.length} did not come`);
      if (e.data.roomId !== 's-r' || !same(e.data.data, want[i])) {
        fail(`${to.label}: signal ${i + 1} differs: ${JSON.stringify(e.data).slice(0, 200)}`);
      }
    }
  }
  const big = { type: 'offer', sdp: 'a=x\r\n'.repeat(7000) };
  const answer = await new Promise((resolve) => u.socket.emit('signal', { roomId: 's-r', data: big }, resolve));
  if (!answer || answer.ok !== false || !answer.error || answer.error.code !== 'too_large') {
    fail(`oversize signal answered ${JSON.stringify(answer)}`);
  }
  for (const c of [a, u]) {
    const err = c.log.find((x) => x.name === 'error');
    if (err) fail(`${c.label} received error ${JSON.stringify(err.data)}`);
  }
  await ok(a, u);
})();
