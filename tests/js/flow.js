// The whole original support flow through the stock socket.io-client.
// Env: SERVER_URL (e.g. http://127.0.0.1:18080), TRANSPORTS (default|websocket|polling),
// MODE (reference|supportd; supportd also asserts registered, callEnded, agentId).
'use strict';
const { guard, env, fail, ok, runFlow, FLOW_NEVER } = require('./lib');

guard(Number(env('TIMEOUT_MS', '10000')));
const url = env('SERVER_URL');
const mode = env('MODE', 'reference');
if (mode !== 'reference' && mode !== 'supportd') fail(`MODE must be reference or supportd, not ${mode}`);
const supportd = mode === 'supportd';

(async () => {
  const { clients } = await runFlow(url, { supportd, strict: true });
  for (const [who, ev] of FLOW_NEVER) {
    const e = clients[who].log.find((x) => x.name === ev);
    if (e) fail(`${who} must not receive ${ev}, got ${JSON.stringify(e.data)}`);
  }
  for (const [who, c] of Object.entries(clients)) {
    if (!c.log.some((x) => x.name === 'getAvailableAgents')) fail(`${who} never received getAvailableAgents`);
    if (supportd) {
      const err = c.log.find((x) => x.name === 'error');
      if (err) fail(`${who} received error ${JSON.stringify(err.data)}`);
    }
  }
  await ok(Object.values(clients));
})();
