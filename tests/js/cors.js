// supportd only: CORS on the Engine.IO polling handshake, with plain fetch.
// Env: SERVER_URL, ALLOWED_ORIGIN (an origin listed in supportd's [server] cors_origins).
'use strict';
const { guard, env, fail, ok } = require('./lib');

guard(Number(env('TIMEOUT_MS', '10000')));
const url = env('SERVER_URL').replace(/\/+$/, '');
const allowed = env('ALLOWED_ORIGIN');
const evil = 'http://evil.example';
const handshake = `${url}/socket.io/?EIO=4&transport=polling`;

function header(res, name) {
  return res.headers.get(name);
}

async function openSession(origin) {
  const headers = origin ? { Origin: origin } : {};
  const res = await fetch(handshake, { headers });
  const body = await res.text();
  if (res.status !== 200) fail(`handshake with Origin ${origin}: status ${res.status}, body ${body}`);
  if (!body.startsWith('0{')) fail(`handshake body is not an open packet: ${body}`);
  let open;
  try {
    open = JSON.parse(body.slice(1));
  } catch (e) {
    fail(`open packet is not JSON: ${body}`);
  }
  for (const k of ['sid', 'upgrades', 'pingInterval', 'pingTimeout', 'maxPayload']) {
    if (!(k in open)) fail(`open packet lacks ${k}: ${body}`);
  }
  return { res, open };
}

async function closeSession(sid, origin) {
  // An Engine.IO close packet ends the session at once.
  const headers = { 'Content-Type': 'text/plain;charset=UTF-8', ...(origin ? { Origin: origin } : {}) };
  await fetch(`${handshake}&sid=${encodeURIComponent(sid)}`, { method: 'POST', headers, body: '1' }).catch(() => {});
}

(async () => {
  const { res, open } = await openSession(allowed);
  if (header(res, 'access-control-allow-origin') !== allowed) {
    fail(`Access-Control-Allow-Origin is ${header(res, 'access-control-allow-origin')}, expected ${allowed}`);
  }
  if (header(res, 'access-control-allow-credentials') !== 'true') {
    fail(`Access-Control-Allow-Credentials is ${header(res, 'access-control-allow-credentials')}, expected true`);
  }
  await closeSession(open.sid, allowed);

  const pre = await fetch(handshake, {
    method: 'OPTIONS',
    headers: { Origin: allowed, 'Access-Control-Request-Method': 'POST' },
  });
  await pre.text();
  if (pre.status !== 204 && pre.status !== 200) fail(`preflight status ${pre.status}, expected 204 or 200`);
  if (header(pre, 'access-control-allow-origin') !== allowed) {
    fail(`preflight Access-Control-Allow-Origin is ${header(pre, 'access-control-allow-origin')}, expected ${allowed}`);
  }
  const methods = (header(pre, 'access-control-allow-methods') || '').split(',').map((m) => m.trim().toUpperCase());
  for (const m of ['GET', 'POST', 'PATCH', 'PUT']) {
    if (!methods.includes(m)) fail(`preflight Access-Control-Allow-Methods "${methods.join(',')}" lacks ${m}`);
  }

  const bad = await fetch(handshake, { headers: { Origin: evil } });
  const badBody = await bad.text();
  if (bad.status !== 403) fail(`handshake with Origin ${evil}: status ${bad.status} (body ${badBody.slice(0, 200)}), expected 403`);
  if (header(bad, 'access-control-allow-origin') === evil || header(bad, 'access-control-allow-origin') === '*') {
    fail(`the 403 answer still allows Origin ${evil}`);
  }

  // Non-browser clients send no Origin and are allowed.
  const plain = await openSession(null);
  await closeSession(plain.open.sid, null);
  await ok();
})();
