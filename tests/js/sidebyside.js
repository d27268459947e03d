// Runs the flow against the reference (REF_URL) and supportd (NEW_URL) and compares, per
// client, the ordered events the original sends and the payload fields it defines.
// supportd-only extras are ignored: the events registered, callEnded and callState, extra payload
// fields (agentId, roomId, ...). getAvailableAgents is compared as the count each client
// knows after each step (supportd announces it only on change, the original on every event).
// Env: REF_URL, NEW_URL, TRANSPORTS (default|websocket|polling), SETTLE_MS (150).
'use strict';
const { guard, env, fail, ok, runFlow, runIds, hasFields } = require('./lib');

const SUPPORTD_EXTRAS = new Set(['registered', 'callEnded', 'callState']);
const settleMs = Number(env('SETTLE_MS', '150'));
guard(Number(env('TIMEOUT_MS', '30000')));
const refUrl = env('REF_URL');
const newUrl = env('NEW_URL');

const ids = runIds(); // the same ids on both servers, so payloads compare equal

async function record(url, supportd) {
  const { clients, stepMarks } = await runFlow(url, { supportd, strict: false, settleMs, waitMs: 2000, ids });
  await ok.closeOnly(Object.values(clients));
  const out = {};
  for (const [who, c] of Object.entries(clients)) {
    const log = c.log.map((e, i) => ({ ...e, step: stepMarks.findIndex((s) => i < s.marks[who]) }));
    const events = log.filter((e) => e.name !== 'getAvailableAgents' && !SUPPORTD_EXTRAS.has(e.name));
    // Count each client knows at the end of each step (undefined: not told yet).
    const counts = stepMarks.map((s) => {
      const seen = c.log.slice(0, s.marks[who]).filter((e) => e.name === 'getAvailableAgents');
      return seen.length ? seen[seen.length - 1].data.availableAgents : undefined;
    });
    out[who] = { events, counts };
  }
  return { out, stepMarks };
}

(async () => {
  const ref = await record(refUrl, false);
  const neu = await record(newUrl, true);
  const titles = ref.stepMarks.map((s) => s.title);
  const diffs = [];
  for (const who of Object.keys(ref.out)) {
    const r = ref.out[who];
    const n = neu.out[who];
    const len = Math.max(r.events.length, n.events.length);
    for (let i = 0; i < len; i++) {
      const a = r.events[i];
      const b = n.events[i];
      const show = (e) => (e ? `${e.name} ${JSON.stringify(e.data)} (step "${titles[e.step] ?? 'after'}")` : '(nothing)');
      if (!a || !b || a.name !== b.name || !hasFields(b.data, a.data)) {
        diffs.push(`${who} event #${i + 1}: reference ${show(a)} | supportd ${show(b)}`);
      }
    }
    r.counts.forEach((c, s) => {
      if (c !== undefined && n.counts[s] !== c) {
        diffs.push(`${who} after step "${titles[s]}": reference knows availableAgents=${c}, supportd ${n.counts[s]}`);
      }
    });
  }
  if (diffs.length) {
    console.error(`sidebyside: ${diffs.length} difference(s):\n  - ` + diffs.join('\n  - '));
    fail('supportd differs from the reference (see above)');
  }
  await ok();
})();
