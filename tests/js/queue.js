// Contact-center flows with the stock socket.io-client. Env: SERVER_URL, TRANSPORTS,
// SCENARIO: "queue" (daemon on defaults: queue and assignment, reject and re-route) or
// "offer" (daemon with offer_timeout_ms = 300 and wrap_up_ms = 300: an offer expires and is
// offered again, accepted, then wrap-up after the call) or "priority" (daemon with a `vip`
// entry point of priority 10 open to Origin https://vip.example: a vip user overtakes the
// queue, and a call requiring a skill goes to the agent that has it).
'use strict';
const { Client, guard, env, fail, ok } = require('./lib');

guard(Number(env('TIMEOUT_MS', '10000')));
const url = env('SERVER_URL');
const scenario = env('SCENARIO', 'queue');

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

async function queueScenario() {
  const u1 = new Client('u1', url);
  const u2 = new Client('u2', url);
  await registered(u1, 'connectUser', 'q-u1');
  await registered(u2, 'connectUser', 'q-u2');
  u1.emit('callAgent', { userId: 'q-u1', roomId: 'q-r1' });
  await must(u1, 'queued', { roomId: 'q-r1', position: 1, queueLength: 1 });
  u2.emit('callAgent', { userId: 'q-u2', roomId: 'q-r2' });
  await must(u2, 'queued', { roomId: 'q-r2', position: 2, queueLength: 2 });
  const a1 = new Client('a1', url);
  await registered(a1, 'connectAgent', 'q-a1');
  await must(a1, 'callAgent', { userId: 'q-u1', roomId: 'q-r1', agentId: 'q-a1' });
  await must(u1, 'callAgent', { agentId: 'q-a1' });
  await must(u2, 'queued', { position: 1, queueLength: 1 });
  // a1 rejects: u1 goes back first in line, ahead of u2, and gets the next agent.
  a1.emit('rejectCall', { roomId: 'q-r1' });
  await must(a1, 'callEnded', { roomId: 'q-r1', reason: 'rejected' });
  await must(u1, 'queued', { roomId: 'q-r1', position: 1, reason: 'rejected' });
  const a2 = new Client('a2', url);
  await registered(a2, 'connectAgent', 'q-a2');
  await must(a2, 'callAgent', { userId: 'q-u1', roomId: 'q-r1', agentId: 'q-a2' });
  await must(u1, 'callAgent', { agentId: 'q-a2' });
  return [u1, u2, a1, a2];
}

async function offerScenario() {
  const a = new Client('a', url);
  const u = new Client('u', url);
  await registered(a, 'connectAgent', 'o-a');
  await registered(u, 'connectUser', 'o-u');
  u.emit('callAgent', { userId: 'o-u', roomId: 'o-r', topic: 'billing' });
  await must(a, 'callOffered', { roomId: 'o-r', userId: 'o-u', expiresInMs: 300, topic: 'billing' });
  await must(a, 'offerExpired', { roomId: 'o-r' });
  await must(a, 'callOffered', { roomId: 'o-r' });
  a.emit('acceptCall', { roomId: 'o-r' });
  await must(a, 'callAgent', { roomId: 'o-r', userId: 'o-u', agentId: 'o-a' });
  await must(u, 'callAgent', { roomId: 'o-r', agentId: 'o-a' });
  u.emit('leaveCall', { roomId: 'o-r' });
  await must(a, 'callEnded', { roomId: 'o-r', reason: 'left' });
  await must(a, 'wrapUp', { roomId: 'o-r', durationMs: 300 });
  return [a, u];
}

async function priorityScenario() {
  const a = new Client('a', url);
  await registered(a, 'connectAgent', 'p-a');
  const u0 = new Client('u0', url);
  await registered(u0, 'connectUser', 'p-u0');
  u0.emit('callAgent', { roomId: 'p-r0' });
  await must(a, 'callAgent', { userId: 'p-u0' });
  const u1 = new Client('u1', url);
  await registered(u1, 'connectUser', 'p-u1');
  u1.emit('callAgent', { roomId: 'p-r1', priority: 99 });
  await must(u1, 'queued', { roomId: 'p-r1', position: 1 });
  const vip = new Client('vip', url, { extraHeaders: { Origin: 'https://vip.example' } });
  await registered(vip, 'connectUser', 'p-vip');
  vip.emit('callAgent', { roomId: 'p-rv', entry: 'vip' });
  await must(vip, 'queued', { roomId: 'p-rv', position: 1, queueLength: 2 });
  await must(u1, 'queued', { roomId: 'p-r1', position: 2 });
  u0.emit('leaveCall', { roomId: 'p-r0' });
  await must(a, 'callAgent', { userId: 'p-vip', roomId: 'p-rv' });
  await must(vip, 'callAgent', { agentId: 'p-a' });
  // A call requiring es goes to the agent with es, not the one idle longer.
  const plain = new Client('plain', url);
  await registered(plain, 'connectAgent', 'p-plain');
  await must(u1, 'callAgent', { agentId: 'p-plain' });
  // Idle longer than the skilled agent, but without the skill.
  const idle = new Client('idle', url);
  await registered(idle, 'connectAgent', 'p-idle');
  const skilled = new Client('skilled', url);
  await skilled.connected();
  skilled.emit('connectAgent', { id: 'p-skilled', skills: { es: 4 } });
  if (!(await skilled.waitFor('registered', { id: 'p-skilled' }))) fail('skilled not registered');
  const u2 = new Client('u2', url);
  await registered(u2, 'connectUser', 'p-u2');
  u2.emit('callAgent', { roomId: 'p-r2', skills: { es: 3 } });
  await must(u2, 'callAgent', { agentId: 'p-skilled' });
  return [a, u0, u1, vip, plain, idle, skilled, u2];
}

(async () => {
  const run = { offer: offerScenario, priority: priorityScenario }[scenario] || queueScenario;
  const clients = await run();
  for (const c of clients) {
    const err = c.log.find((x) => x.name === 'error');
    if (err) fail(`${c.label} received error ${JSON.stringify(err.data)}`);
  }
  await ok(clients);
})();
