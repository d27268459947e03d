// Drives the demo page (examples/web) in headless Chromium through what a newcomer clicks:
// a visitor queued, an agent offered the call and accepting it, a chat both ways, a transfer
// to a second agent, an audio/video call between the visitor and that agent (fake camera), a
// network drop the visitor recovers from, the end of the call with wrap-up, then two tabs
// (?role=agent, ?role=user) in a video call, a third tab as the agent's second chat and a
// fourth whose offer the agent rejects. Saves a screenshot after each step. Starts its own
// supportd (etc/dev.toml on free loopback ports, metrics off) and a static server for the
// page; loopback only, bounded, cleans up.
// Prints `ok <step>` / `FAIL <step>: why` and last `demo: N passed, N failed`; exit 0 iff all passed.
// Env: SUPPORTD_BIN (default ../../target/release/supportd, or under CARGO_TARGET_DIR),
// CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR (default <target>/demo-screenshots).
'use strict';
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const puppeteer = require('puppeteer-core');

const ROOT = path.resolve(__dirname, '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target');
const BIN = process.env.SUPPORTD_BIN || path.join(TARGET, 'release', 'supportd');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOT_DIR || path.join(TARGET, 'demo-screenshots');
const STEP_MS = 15000;
const TOTAL_MS = 120000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let passed = 0;
let failed = 0;
const cleanups = [];

// Runs every cleanup (browser, daemon, static server, temp dir), once.
async function cleanup() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch (_) {
      /* best effort */
    }
  }
}

// Prints the summary line and exits with the status it implies.
let finishing = false;
async function finish(notRun) {
  if (finishing) return;
  finishing = true;
  await cleanup();
  if (notRun) console.log(`demo: ${notRun} steps not run after the failure`);
  console.log(`demo: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// A free loopback TCP port (the OS's choice; released at once).
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Serves examples/web on a free loopback port; resolves to its origin.
async function staticServer() {
  const dir = path.join(ROOT, 'examples', 'web');
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const file = path.normalize(path.join(dir, url.pathname === '/' ? 'index.html' : url.pathname));
    if (!file.startsWith(dir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${server.address().port}`;
}

// Starts supportd on etc/dev.toml with a free port, this origin allowed and metrics off.
async function daemon(origin) {
  const port = await freePort();
  let toml = fs.readFileSync(path.join(ROOT, 'etc', 'dev.toml'), 'utf8');
  const edits = [
    [/^port = 8080$/m, `port = ${port}`],
    [/^cors_origins = .*$/m, `cors_origins = ["${origin}"]`],
    [/^enabled = true$/m, 'enabled = false'],
  ];
  for (const [re, to] of edits) {
    if (!re.test(toml)) throw new Error(`etc/dev.toml has no line matching ${re}`);
    toml = toml.replace(re, to);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'supportd-demo-'));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  fs.writeFileSync(path.join(tmp, 'dev.toml'), toml);
  const log = fs.openSync(path.join(tmp, 'supportd.log'), 'w');
  const child = spawn(BIN, ['--config', path.join(tmp, 'dev.toml')], { stdio: ['ignore', log, log] });
  let exited = false;
  child.on('exit', () => (exited = true));
  cleanups.push(async () => {
    if (!exited) child.kill('SIGTERM');
    for (let i = 0; i < 30 && !exited; i++) await sleep(100);
    if (!exited) child.kill('SIGKILL');
  });
  for (let i = 0; i < 100; i++) {
    if (exited) break;
    const up = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (up) return { url: `http://127.0.0.1:${port}`, logFile: path.join(tmp, 'supportd.log') };
    await sleep(100);
  }
  throw new Error(`supportd did not start:\n${fs.readFileSync(path.join(tmp, 'supportd.log'), 'utf8')}`);
}

// Waits until the element `sel` exists and its text contains `want`.
async function waitText(page, sel, want) {
  try {
    await page.waitForFunction(
      (s, w) => [...document.querySelectorAll(s)].some((e) => e.textContent.includes(w)),
      { timeout: STEP_MS, polling: 100 }, // not rAF: background tabs get no frames
      sel,
      want,
    );
  } catch (_) {
    const seen = await page.$$eval(sel, (es) => es.map((e) => e.textContent.trim()).join(' | '));
    throw new Error(`no "${want}" in ${sel} (it shows: ${seen || 'nothing'})`);
  }
}

// Clicks the first element matching `sel` once it is visible.
async function click(page, sel) {
  await page.bringToFront();
  await page.waitForSelector(sel, { visible: true, timeout: STEP_MS });
  await page.click(sel);
}

// Types a chat line into a pane's call card and sends it.
async function say(page, pane, msg) {
  const input = `[data-pane=${pane}] .call:not(.ended) input[name=text]`;
  await page.bringToFront(); // typing into a background tab never completes
  await page.waitForSelector(input, { visible: true, timeout: STEP_MS });
  await page.type(input, msg);
  await page.click(`[data-pane=${pane}] .call:not(.ended) button.send`);
}

// Waits until the remote video of a pane's live call plays frames.
async function waitVideo(page, pane) {
  const sel = `[data-pane=${pane}] .call:not(.ended) video.remote`;
  try {
    await page.waitForFunction((s) => {
      const v = document.querySelector(s);
      return v && v.videoWidth > 0 && !v.paused;
    }, { timeout: STEP_MS, polling: 100 }, sel);
  } catch (_) {
    throw new Error(`no remote video playing in ${pane}'s call`);
  }
}

async function main() {
  setTimeout(() => {
    console.log(`FAIL demo: timed out after ${TOTAL_MS} ms`);
    failed += 1;
    finish();
  }, TOTAL_MS).unref();
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const f of fs.readdirSync(SHOTS)) if (f.endsWith('.png')) fs.rmSync(path.join(SHOTS, f));

  const origin = await staticServer();
  const server = await daemon(origin);
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', // the test runs as root in CI
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  await page.setViewport({ width: 1500, height: 1000 });
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(e.message));

  let tabs = {};
  const U = '[data-pane=u1]';
  const A1 = '[data-pane=a1]';
  const A2 = '[data-pane=a2]';
  const steps = [
    ['page loads and the visitor registers', async () => {
      await page.goto(`${origin}/?server=${encodeURIComponent(server.url)}`, { waitUntil: 'load' });
      await click(page, `${U} button.connect`);
      await waitText(page, `${U} .status`, 'registered as user u1');
      await waitText(page, `${U} .available`, 'agents available: 0');
    }],
    ['the visitor is queued with its position', async () => {
      await click(page, `${U} button.call`);
      await waitText(page, `${U} .queue`, 'in queue: position 1 of 1');
    }],
    ['an agent registers and is offered the call', async () => {
      await click(page, `${A1} button.connect`);
      await waitText(page, `${A1} .status`, 'registered as agent a1, 3 chats at once');
      await waitText(page, `${A1} .offer`, 'call offered: u1 about billing');
    }],
    ['the agent accepts: both are in the call', async () => {
      await click(page, `${A1} .offer button.accept`);
      await waitText(page, `${U} .call .title`, 'with a1');
      await waitText(page, `${A1} .call .title`, 'with u1');
    }],
    ['visitor and agent chat', async () => {
      await say(page, 'u1', 'hello, my order is late');
      await waitText(page, `${A1} .call .chat .them`, 'u1: hello, my order is late');
      await say(page, 'a1', 'let me look into it');
      await waitText(page, `${U} .call .chat .them`, 'a1: let me look into it');
    }],
    ['a second agent registers', async () => {
      await click(page, '#add-agent');
      await click(page, `${A2} button.connect`);
      await waitText(page, `${A2} .status`, 'registered as agent a2');
    }],
    ['the first agent transfers the call to the second', async () => {
      await page.type(`${A1} .call:not(.ended) input.to`, 'a2');
      await click(page, `${A1} .call:not(.ended) button.do-transfer`);
      await waitText(page, `${U} .notice`, 'transferred to agent a2');
      await waitText(page, `${U} .call .title`, 'with a2');
      await waitText(page, `${A2} .call .title`, 'with u1');
      await waitText(page, `${A1} .call.ended .peer-state`, 'ended: transferred');
      await waitText(page, `${A1} .wrapup`, 'wrap-up after');
      await say(page, 'a2', 'hi, billing here');
      await waitText(page, `${U} .call .chat .them`, 'a2: hi, billing here');
    }],
    ['audio and video between the visitor and the new agent', async () => {
      await click(page, `${U} .call:not(.ended) button.video`);
      await click(page, `${A2} .call:not(.ended) button.video`);
      await waitVideo(page, 'u1');
      await waitVideo(page, 'a2');
      await click(page, `${A2} .call:not(.ended) button.mute-audio`);
      await waitText(page, `${U} .call .peer-state`, 'a2 muted: audio');
    }],
    ['the visitor recovers from a network drop', async () => {
      await click(page, `${U} button.drop`);
      await waitText(page, `${U} .notice`, 'reconnected: session recovered');
      await say(page, 'a2', 'still there?');
      await waitText(page, `${U} .call .chat .them`, 'a2: still there?');
    }],
    ['the visitor ends the call: the agent wraps up', async () => {
      await click(page, `${U} .call:not(.ended) button.leave`);
      await waitText(page, `${U} .call.ended .peer-state`, 'ended: left by the user');
      await waitText(page, `${A2} .wrapup`, 'wrap-up after');
    }],
    ['two tabs (?role=user, ?role=agent): a video call between them', async () => {
      await click(page, `${A1} button.disconnect`);
      await click(page, `${A2} button.disconnect`);
      const q = `server=${encodeURIComponent(server.url)}`;
      const agentTab = await browser.newPage();
      await agentTab.setViewport({ width: 700, height: 900 });
      await agentTab.goto(`${origin}/?role=agent&id=a9&${q}`, { waitUntil: 'load' });
      const userTab = await browser.newPage();
      await userTab.setViewport({ width: 700, height: 900 });
      await userTab.goto(`${origin}/?role=user&id=u2&${q}`, { waitUntil: 'load' });
      if (await userTab.$('[data-role=agent]')) throw new Error('?role=user shows an agent console');
      await click(agentTab, '[data-pane=a9] button.connect');
      await waitText(agentTab, '[data-pane=a9] .status', 'registered as agent a9');
      await click(userTab, '[data-pane=u2] button.connect');
      await waitText(userTab, '[data-pane=u2] .status', 'registered as user u2');
      await click(userTab, '[data-pane=u2] button.call');
      await click(agentTab, '[data-pane=a9] .offer button.accept');
      await waitText(userTab, '[data-pane=u2] .call .title', 'with a9');
      await click(agentTab, '[data-pane=a9] .call:not(.ended) button.video');
      await click(userTab, '[data-pane=u2] .call:not(.ended) button.video');
      await waitVideo(userTab, 'u2');
      await waitVideo(agentTab, 'a9');
      await userTab.screenshot({ path: path.join(SHOTS, 'tab-user.png') });
      await agentTab.screenshot({ path: path.join(SHOTS, 'tab-agent.png') });
      tabs = { agentTab, userTab };
    }],
    ['several chats per agent: a second visitor while the agent is in a call', async () => {
      const { agentTab, userTab } = tabs;
      const other = await browser.newPage();
      await other.goto(`${origin}/?role=user&id=u3&server=${encodeURIComponent(server.url)}`, { waitUntil: 'load' });
      await click(other, '[data-pane=u3] button.connect');
      await waitText(other, '[data-pane=u3] .status', 'registered as user u3');
      await click(other, '[data-pane=u3] button.call');
      await click(agentTab, '[data-pane=a9] .offer button.accept');
      await waitText(other, '[data-pane=u3] .call .title', 'with a9');
      await say(other, 'u3', 'second chat');
      await waitText(agentTab, '[data-pane=a9] .call .chat .them', 'u3: second chat');
      await say(userTab, 'u2', 'first chat');
      await waitText(agentTab, '[data-pane=a9] .call .chat .them', 'u2: first chat');
      const live = await agentTab.$$eval('[data-pane=a9] .call:not(.ended)', (es) => es.length);
      if (live !== 2) throw new Error(`the agent shows ${live} calls, not 2`);
      await agentTab.screenshot({ path: path.join(SHOTS, 'tab-agent-two-chats.png') });
    }],
    ['the agent rejects an offer: the visitor goes back in line, with an estimated wait', async () => {
      const { agentTab } = tabs;
      const fourth = await browser.newPage();
      await fourth.goto(`${origin}/?role=user&id=u4&server=${encodeURIComponent(server.url)}`, { waitUntil: 'load' });
      await click(fourth, '[data-pane=u4] button.connect');
      await waitText(fourth, '[data-pane=u4] .status', 'registered as user u4');
      await click(fourth, '[data-pane=u4] button.call');
      await click(agentTab, '[data-pane=a9] .offer button.reject');
      await waitText(fourth, '[data-pane=u4] .queue', 'back in line: rejected');
      // 3 calls have connected by now: the queue shows an estimated wait.
      await waitText(fourth, '[data-pane=u4] .queue', 'position 1 of 1, about ');
      await fourth.screenshot({ path: path.join(SHOTS, 'tab-user-rejected.png') });
    }],
  ];
  for (let i = 0; i < steps.length; i++) {
    const [name, run] = steps[i];
    const shot = path.join(SHOTS, `${String(i + 1).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '')}.png`);
    try {
      await run();
      await page.screenshot({ path: shot });
      console.log(`ok ${name}`);
      passed += 1;
    } catch (e) {
      if (finishing) return; // the overall timeout fired and is cleaning up
      failed += 1;
      console.log(`FAIL ${name}: ${e.message}`);
      await page.screenshot({ path: shot.replace(/\.png$/, '-FAILED.png') }).catch(() => {});
      if (consoleErrors.length) console.log(`browser console:\n  ${consoleErrors.join('\n  ')}`);
      console.log(`supportd log (tail):\n${fs.readFileSync(server.logFile, 'utf8').split('\n').slice(-15).join('\n')}`);
      return finish(steps.length - i - 1);
    }
  }
  console.log(`demo: screenshots in ${SHOTS}`);
  return finish();
}

main().catch((e) => {
  console.log(`FAIL demo: ${e.message}`);
  failed += 1;
  finish();
});
