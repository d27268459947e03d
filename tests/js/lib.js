// Shared helpers for the socket.io-client harness: connecting, recording every event a
// socket receives, waiting for events, and the support-flow scenario used by flow.js and
// sidebyside.js. Plain Node 20, no test framework.
'use strict';
const { io } = require('socket.io-client');

const SCRIPT = require('path').basename(require.main ? require.main.filename : 'script', '.js');

function fail(msg) {
  console.error(`FAIL ${SCRIPT}: ${msg}`);
  process.exit(1);
}

// Closes the given clients, lets their close packets reach the server (a polling
// close is a POST), then prints `ok <script>` and exits 0.
async function ok(...clients) {
  for (const c of clients.flat()) c.close();
  await sleep(300);
  console.log(`ok ${SCRIPT}`);
  process.exit(0);
}

// Bounds the whole script: fails (exit 1) when it has not finished within `ms`.
function guard(ms) {
  const t = setTimeout(() => fail(`timed out after ${ms} ms`), ms);
  t.unref();
  const why = (e) => (e instanceof Error && !process.env.DEBUG_STACK ? e.message : e && e.stack ? e.stack : String(e));
  process.on('unhandledRejection', (e) => fail(why(e)));
  process.on('uncaughtException', (e) => fail(why(e)));
}

function env(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (dflt === undefined) fail(`environment variable ${name} is required`);
    return dflt;
  }
  return v;
}

// socket.io-client options for env TRANSPORTS: default | websocket | polling.
function transportOptions() {
  const t = env('TRANSPORTS', 'default');
  if (t === 'default') return {};
  if (t === 'websocket') return { transports: ['websocket'] };
  if (t === 'polling') return { transports: ['polling'], upgrade: false };
  return fail(`TRANSPORTS must be default, websocket or polling, not ${t}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Deep equality on JSON values.
function same(a, b) {
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = canon(v[k]);
    return o;
  }
  return v;
}

// True when every field of `want` is present in `got` with an equal value.
function hasFields(got, want) {
  if (!want) return true;
  if (!got || typeof got !== 'object') return false;
  return Object.keys(want).every((k) => same(got[k], want[k]));
}

// A socket plus the log of every event it received: [{name, data, at}].
class Client {
  constructor(label, url, opts = {}) {
    this.label = label;
    this.log = [];
    this.socket = io(url, {
      forceNew: true,
      reconnection: false,
      timeout: 5000,
      ...transportOptions(),
      ...opts,
    });
    this.socket.onAny((name, ...args) => {
      this.log.push({ name, data: args[0], nargs: args.length, at: Date.now() });
      const w = this.waiters.slice();
      for (const f of w) f();
    });
    this.waiters = [];
  }

  connected(timeoutMs = 5000) {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`${this.label}: not connected within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.socket.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      this.socket.once('connect_error', (e) => {
        clearTimeout(t);
        reject(new Error(`${this.label}: connect_error: ${e.message}`));
      });
    });
  }

  emit(name, data) {
    this.socket.emit(name, data);
  }

  // Resolves with the first unconsumed event `name` at index >= from whose data has
  // `fields`; resolves null after timeoutMs.
  waitFor(name, fields, from = 0, timeoutMs = 5000) {
    const find = () => {
      for (let i = from; i < this.log.length; i++) {
        const e = this.log[i];
        if (!e.consumed && e.name === name && hasFields(e.data, fields)) {
          e.consumed = true;
          return e;
        }
      }
      return null;
    };
    const hit = find();
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => {
      const check = () => {
        const e = find();
        if (e) done(e);
      };
      const done = (e) => {
        clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(e);
      };
      const t = setTimeout(() => done(null), timeoutMs);
      this.waiters.push(check);
    });
  }

  names(from = 0) {
    return this.log.slice(from).map((e) => e.name);
  }

  close() {
    this.socket.close();
  }
}

// The original support flow: agent A1, user U, second agent A2.
// Each step: what to do, and which events must follow. `sd` fields and `sdOnly`
// expectations apply only to supportd (MODE=supportd).
function flowSteps(ids) {
  const { a1, a2, u1, r1 } = ids;
  const gaa = (n) => ({ availableAgents: n });
  return [
    {
      title: 'A1 connectAgent',
      run: (c) => c.A1.emit('connectAgent', { id: a1 }),
      expect: [
        { who: 'A1', ev: 'getAvailableAgents', fields: gaa(1) },
        { who: 'A1', ev: 'registered', fields: { role: 'agent', id: a1 }, sdOnly: true },
      ],
    },
    {
      title: 'U connectUser',
      run: (c) => c.U.emit('connectUser', { id: u1 }),
      expect: [{ who: 'U', ev: 'registered', fields: { role: 'user', id: u1 }, sdOnly: true }],
    },
    {
      title: 'U callAgent',
      run: (c) => c.U.emit('callAgent', { userId: u1, roomId: r1 }),
      expect: [
        { who: 'A1', ev: 'callAgent', fields: { userId: u1, roomId: r1 }, sd: { agentId: a1 } },
        { who: 'U', ev: 'callAgent', fields: { userId: u1, roomId: r1 }, sd: { agentId: a1 } },
        { who: 'A1', ev: 'getAvailableAgents', fields: gaa(0) },
        { who: 'U', ev: 'getAvailableAgents', fields: gaa(0) },
      ],
    },
    {
      title: 'U userMessage',
      run: (c) => c.U.emit('userMessage', { roomId: r1, messageInput: 'hello agent' }),
      expect: [{ who: 'A1', ev: 'userMessage', fields: { messageInput: 'hello agent' } }],
    },
    {
      title: 'A1 agentMessage',
      run: (c) => c.A1.emit('agentMessage', { roomId: r1, messageInput: 'hello user ✓' }),
      expect: [{ who: 'U', ev: 'agentMessage', fields: { messageInput: 'hello user ✓' } }],
    },
    {
      title: 'U mute',
      run: (c) => c.U.emit('mute', { roomId: r1, muted: true }),
      expect: [{ who: 'A1', ev: 'mute', fields: { roomId: r1, muted: true } }],
    },
    {
      title: 'A2 connectAgent',
      run: (c) => c.A2.emit('connectAgent', { id: a2 }),
      expect: [
        { who: 'A2', ev: 'registered', fields: { role: 'agent', id: a2 }, sdOnly: true },
        { who: 'A2', ev: 'getAvailableAgents', fields: gaa(1) },
        { who: 'A1', ev: 'getAvailableAgents', fields: gaa(1) },
        { who: 'U', ev: 'getAvailableAgents', fields: gaa(1) },
      ],
    },
    {
      title: 'A1 callTransfer',
      run: (c) => c.A1.emit('callTransfer', { agentId: a1, roomId: r1 }),
      expect: [
        { who: 'A2', ev: 'callTransfer', fields: { agentId: a1, roomId: r1 } },
        { who: 'U', ev: 'callTransfer', fields: { agentId: a2, roomId: r1 } },
        {
          who: 'A1',
          ev: 'callEnded',
          fields: { roomId: r1, reason: 'transferred' },
          sdOnly: true,
        },
      ],
    },
    {
      title: 'A1 toggleAvailability false',
      run: (c) => c.A1.emit('toggleAvailability', { id: a1, available: false }),
      expect: ['A1', 'A2', 'U'].map((who) => ({ who, ev: 'getAvailableAgents', fields: gaa(0) })),
    },
    {
      title: 'A1 toggleAvailability true',
      run: (c) => c.A1.emit('toggleAvailability', { id: a1, available: true }),
      expect: ['A1', 'A2', 'U'].map((who) => ({ who, ev: 'getAvailableAgents', fields: gaa(1) })),
    },
    {
      title: 'U leaveCall',
      run: (c) => c.U.emit('leaveCall', { roomId: r1, agentId: a2 }),
      expect: [
        ...['A1', 'A2', 'U'].map((who) => ({ who, ev: 'getAvailableAgents', fields: gaa(2) })),
        ...['U', 'A2'].map((who) => ({
          who,
          ev: 'callEnded',
          fields: { roomId: r1, reason: 'left', by: 'user' },
          sdOnly: true,
        })),
      ],
    },
    {
      title: 'A1 disconnects',
      run: (c) => c.A1.close(),
      expect: ['A2', 'U'].map((who) => ({ who, ev: 'getAvailableAgents', fields: gaa(1) })),
    },
  ];
}

// Events that must never reach a client during the flow.
const FLOW_NEVER = [
  ['U', 'userMessage'],
  ['U', 'mute'],
  ['A1', 'agentMessage'],
  ['A2', 'callAgent'],
  ['A2', 'userMessage'],
];

function runIds() {
  const run = Math.random().toString(36).slice(2, 8);
  return { a1: `agent-1-${run}`, a2: `agent-2-${run}`, u1: `user-1-${run}`, r1: `room-${run}` };
}

// Runs the flow against `url`. strict: every expected event must arrive (fail otherwise);
// not strict: waits softly for them, then lets late events settle. Returns {clients, stepMarks}.
async function runFlow(url, { supportd, strict, settleMs = 150, waitMs = 5000, ids = runIds() }) {
  const c = { A1: new Client('A1', url), U: new Client('U', url), A2: new Client('A2', url) };
  await Promise.all(Object.values(c).map((x) => x.connected()));
  const stepMarks = [];
  for (const step of flowSteps(ids)) {
    const from = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v.log.length]));
    step.run(c);
    const wanted = step.expect.filter((e) => supportd || !e.sdOnly);
    const got = await Promise.all(
      wanted.map((e) =>
        c[e.who].waitFor(e.ev, supportd ? { ...e.fields, ...(e.sd || {}) } : e.fields, from[e.who], waitMs),
      ),
    );
    wanted.forEach((e, i) => {
      if (!got[i] && strict) {
        const sdf = supportd ? { ...e.fields, ...(e.sd || {}) } : e.fields;
        fail(
          `step "${step.title}": ${e.who} did not receive ${e.ev} ${JSON.stringify(sdf)}; ` +
            `it received since the step: ${JSON.stringify(c[e.who].log.slice(from[e.who]).map((x) => [x.name, x.data]))}`,
        );
      }
    });
    if (!strict) await sleep(settleMs);
    stepMarks.push({ title: step.title, marks: Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v.log.length])) });
  }
  return { clients: c, ids, stepMarks };
}

// Closes clients and waits for their close packets to leave (see ok).
ok.closeOnly = async (...clients) => {
  for (const c of clients.flat()) c.close();
  await sleep(300);
};

module.exports = {
  Client,
  fail,
  ok,
  guard,
  env,
  sleep,
  same,
  hasFields,
  transportOptions,
  flowSteps,
  runFlow,
  runIds,
  FLOW_NEVER,
};
