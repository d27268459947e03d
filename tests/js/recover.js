// Connection state recovery with the stock socket.io-client (4.6+): a user in a call loses
// its transport (the test closes the engine under it, as a network failure would), its
// agent sends 50 messages meanwhile, and the client reconnects by itself. The server must
// recover the session (`socket.recovered` true, the same pid), deliver the 50 messages in
// order and exactly once, tell the agent `peerDisconnected` then `peerReconnected`, and the
// call must go on. Env: SERVER_URL, TRANSPORTS (default|websocket|polling).
'use strict';
const { Client, guard, env, fail, ok } = require('./lib');

guard(Number(env('TIMEOUT_MS', '20000')));
const url = env('SERVER_URL');
const N = 50;

(async () => {
  const agent = new Client('agent', url);
  const user = new Client('user', url, { reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 500 });
  await Promise.all([agent.connected(), user.connected()]);
  // What a front end does: register on every `connect` (a recovered one included).
  user.socket.on('connect', () => user.emit('connectUser', { id: 'rec-user' }));
  agent.emit('connectAgent', { id: 'rec-agent' });
  if (!(await agent.waitFor('registered'))) fail('agent not registered');
  user.emit('connectUser', { id: 'rec-user' });
  const reg = await user.waitFor('registered');
  if (!reg || reg.data.resumed !== false || typeof reg.data.resumeToken !== 'string') {
    fail(`user registration: ${JSON.stringify(reg && reg.data)}`);
  }
  user.emit('callAgent', { roomId: 'rec-room' });
  if (!(await user.waitFor('callAgent', { roomId: 'rec-room' }))) fail('no call for the user');
  if (!(await agent.waitFor('callAgent', { roomId: 'rec-room' }))) fail('no call for the agent');
  agent.emit('agentMessage', { roomId: 'rec-room', messageInput: 'before' });
  if (!(await user.waitFor('agentMessage', { messageInput: 'before' }))) fail('no message before the drop');
  const pid = user.socket._pid;
  if (!pid) fail('the CONNECT answer carried no pid: recovery is off');

  // The transport dies under the client; the manager reconnects by itself.
  const reconnected = new Promise((resolve) => user.socket.once('connect', resolve));
  user.socket.io.engine.close();
  if (!(await agent.waitFor('peerDisconnected', { roomId: 'rec-room' }, 0, 5000))) {
    fail('the agent was not told its user dropped');
  }
  for (let i = 0; i < N; i++) agent.emit('agentMessage', { roomId: 'rec-room', messageInput: i });
  await reconnected;
  if (!user.socket.recovered) fail('socket.recovered is false: the session was not recovered');
  if (user.socket._pid !== pid) fail('the pid changed');
  if (!(await agent.waitFor('peerReconnected', { roomId: 'rec-room' }, 0, 5000))) {
    fail('the agent was not told its user is back');
  }
  // All 50, in order, once (wait until the last is in, then a little more for duplicates).
  const got = await user.waitFor('agentMessage', { messageInput: N - 1 }, 0, 5000);
  if (!got) fail(`message ${N - 1} never arrived`);
  await new Promise((r) => setTimeout(r, 300));
  const seen = user.log
    .filter((e) => e.name === 'agentMessage' && typeof e.data.messageInput === 'number')
    .map((e) => e.data.messageInput);
  const want = Array.from({ length: N }, (_, i) => i);
  if (JSON.stringify(seen) !== JSON.stringify(want)) fail(`messages after recovery: ${JSON.stringify(seen)}`);
  // The call goes on both ways.
  user.emit('userMessage', { roomId: 'rec-room', messageInput: 'still here' });
  if (!(await agent.waitFor('userMessage', { messageInput: 'still here' }))) fail('the call did not go on');
  for (const c of [agent, user]) {
    const err = c.log.find((x) => x.name === 'error');
    if (err) fail(`${c.label} received error ${JSON.stringify(err.data)}`);
  }
  await ok(agent, user);
})();
