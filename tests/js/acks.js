// supportd only: emits with acknowledgement callbacks. Needs a server with no free agent
// (and the call queue on, as by default).
// Expects {ok:true} on success and {ok:false, error:{code, message}} on refusal.
// Env: SERVER_URL, TRANSPORTS (default|websocket|polling).
'use strict';
const { Client, guard, env, fail, ok, runIds } = require('./lib');

guard(Number(env('TIMEOUT_MS', '10000')));
const url = env('SERVER_URL');

async function ack(client, name, data) {
  try {
    return await client.socket.timeout(3000).emitWithAck(name, data);
  } catch (e) {
    return fail(`${client.label} ${name}: no acknowledgement within 3 s (${e.message})`);
  }
}

function expectOk(what, res) {
  if (!res || res.ok !== true) fail(`${what}: expected {ok:true}, got ${JSON.stringify(res)}`);
}

function expectError(what, res, code) {
  if (
    !res ||
    res.ok !== false ||
    !res.error ||
    res.error.code !== code ||
    typeof res.error.message !== 'string' ||
    res.error.message === ''
  ) {
    fail(`${what}: expected {ok:false, error:{code:"${code}", message}}, got ${JSON.stringify(res)}`);
  }
}

async function must(client, name, fields) {
  const e = await client.waitFor(name, fields, 0, 5000);
  if (!e) fail(`${client.label} did not receive ${name} ${JSON.stringify(fields)}; got ${JSON.stringify(client.log.map((x) => [x.name, x.data]))}`);
  return e;
}

(async () => {
  const { a1, u1, r1 } = runIds();
  const U = new Client('U', url);
  const A = new Client('A', url);
  await Promise.all([U.connected(), A.connected()]);

  U.emit('connectUser', { id: u1 });
  await must(U, 'registered', { role: 'user', id: u1 });

  // No agent: the user is queued (acknowledged), and may not ask twice or talk yet.
  expectOk('callAgent with no agent', await ack(U, 'callAgent', { userId: u1, roomId: r1 }));
  await must(U, 'queued', { roomId: r1, position: 1, queueLength: 1 });
  expectError('callAgent while queued', await ack(U, 'callAgent', { userId: u1, roomId: r1 }), 'already_in_call');
  expectError('userMessage outside a call', await ack(U, 'userMessage', { roomId: r1, messageInput: 'x' }), 'not_in_call');

  // The agent who registers gets the waiting user.
  A.emit('connectAgent', { id: a1 });
  await must(A, 'registered', { role: 'agent', id: a1 });
  await must(A, 'callAgent', { userId: u1, roomId: r1, agentId: a1 });
  await must(U, 'callAgent', { userId: u1, roomId: r1, agentId: a1 });

  expectOk('userMessage in a call', await ack(U, 'userMessage', { roomId: r1, messageInput: 'hi' }));
  await must(A, 'userMessage', { messageInput: 'hi' });

  expectOk('leaveCall', await ack(U, 'leaveCall', { roomId: r1 }));
  await must(U, 'callEnded', { roomId: r1, reason: 'left' });
  await must(A, 'callEnded', { roomId: r1, reason: 'left' });

  expectError('userMessage after leaving', await ack(U, 'userMessage', { roomId: r1, messageInput: 'x' }), 'not_in_call');
  await ok(U, A);
})();
