// A binary attachment through a call with the stock socket.io-client: a user sends a
// Buffer inside messageInput, the agent receives the same bytes, and answers with bytes of
// its own. Env: SERVER_URL, TRANSPORTS (default|websocket|polling).
'use strict';
const { Client, guard, env, fail, ok } = require('./lib');

guard(Number(env('TIMEOUT_MS', '10000')));
const url = env('SERVER_URL');

(async () => {
  const agent = new Client('agent', url);
  const user = new Client('user', url);
  await Promise.all([agent.connected(), user.connected()]);
  agent.emit('connectAgent', { id: 'bin-agent' });
  if (!(await agent.waitFor('registered'))) fail('agent not registered');
  user.emit('connectUser', { id: 'bin-user' });
  if (!(await user.waitFor('registered'))) fail('user not registered');
  user.emit('callAgent', { userId: 'bin-user', roomId: 'bin-room' });
  if (!(await user.waitFor('callAgent', { roomId: 'bin-room' }))) fail('no call for the user');
  if (!(await agent.waitFor('callAgent', { roomId: 'bin-room' }))) fail('no call for the agent');

  // 70 KB: larger than one polling packet of text, every byte value present.
  const photo = Buffer.alloc(70000);
  for (let i = 0; i < photo.length; i++) photo[i] = (i * 7) % 256;
  user.emit('userMessage', {
    userId: 'bin-user',
    roomId: 'bin-room',
    messageInput: { text: 'my screenshot', file: photo, name: 'shot.png' },
  });
  const got = await agent.waitFor('userMessage', { roomId: 'bin-room' });
  if (!got) fail('the agent did not get the binary message');
  const m = got.data.messageInput;
  if (m.text !== 'my screenshot' || m.name !== 'shot.png') fail(`fields: ${JSON.stringify(m)}`);
  const file = Buffer.from(m.file);
  if (!file.equals(photo)) fail(`attachment differs: ${file.length} bytes`);

  agent.emit('agentMessage', {
    agentId: 'bin-agent',
    roomId: 'bin-room',
    messageInput: { parts: [Buffer.from([0, 1, 2]), 'and', Buffer.from([255])] },
  });
  const back = await user.waitFor('agentMessage', { roomId: 'bin-room' });
  if (!back) fail('the user did not get the binary answer');
  const parts = back.data.messageInput.parts;
  if (!Buffer.from(parts[0]).equals(Buffer.from([0, 1, 2])) || parts[1] !== 'and'
      || !Buffer.from(parts[2]).equals(Buffer.from([255]))) {
    fail(`answer differs: ${JSON.stringify(back.data)}`);
  }
  for (const c of [agent, user]) {
    const err = c.log.find((x) => x.name === 'error');
    if (err) fail(`${c.label} received error ${JSON.stringify(err.data)}`);
  }
  await ok(agent, user);
})();
