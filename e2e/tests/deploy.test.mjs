// Deployment features: https/wss with a self-signed certificate, join
// tokens minted by `gosoup token`, and the drain on SIGTERM. Each test
// runs its own server with the flags it needs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import crypto from 'node:crypto';
import { repo, launchBrowser, waitFor, stats, events, roomId, serverEnv, freePort, aliceSendsToBob } from '../lib.mjs';

let dir;
let bin;
let browser;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gosoup-deploy-'));
  bin = path.join(dir, 'gosoup');
  execFileSync('go', ['build', '-o', bin, './cmd/gosoup'], { cwd: repo, stdio: 'inherit' });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// request sends one HTTP(S) request (certificates not checked: the
// servers here use a generated one) and resolves {status, body}. With
// upgrade set it asks for a protoo WebSocket and resolves status 101 when
// the server switches protocols.
function request(url, { upgrade = false, headers = {} } = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const h = { ...headers };
  if (upgrade) {
    Object.assign(h, {
      Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'), 'Sec-WebSocket-Protocol': 'protoo'
    });
  }
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { headers: h, rejectUnauthorized: false, timeout: 5000 });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode, body: '' }); });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

// startGosoup runs the built server on a free loopback port with args and
// resolves {http, ws, proc, exit}; exit resolves {code, signal}.
async function startGosoup(args = [], { tls = false, env = {} } = {}) {
  const port = await freePort();
  const proc = spawn(bin, [
    '--listen', `127.0.0.1:${port}`, '--rtc-listen-ip', '127.0.0.1', '--announced-ip', '127.0.0.1', '--rtc-port', '0',
    '--log-level', process.env.GOSOUP_LOG || 'warn', ...args
  ], { stdio: ['ignore', 'inherit', 'inherit'], env: serverEnv(env) });
  const exit = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const scheme = tls ? 'https' : 'http';
  const base = `${scheme}://127.0.0.1:${port}`;
  const end = Date.now() + 20000;
  for (;;) {
    try { if ((await request(`${base}/healthz`)).status === 200) break; } catch { /* not yet */ }
    if (proc.exitCode !== null) throw new Error(`gosoup exited with ${proc.exitCode}`);
    if (Date.now() > end) { proc.kill('SIGKILL'); throw new Error(`gosoup did not answer at ${base}`); }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    http: base,
    ws: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    proc,
    exit,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exit;
    }
  };
}

// mint runs `gosoup token` with the secret in GOSOUP_AUTH_SECRET; extra
// are more flags (grants: --no-publish, --admin, ...).
function mint(secret, room, peer, ttl = '1h', extra = []) {
  const who = peer ? ['--peer', peer] : [];
  return execFileSync(bin, ['token', '--room', room, ...who, '--ttl', ttl, ...extra],
    { env: serverEnv({ GOSOUP_AUTH_SECRET: secret }), encoding: 'utf8' }).trim();
}

// openPage opens the harness; token, when given, goes into the signaling
// URL through the harness's ?server= parameter.
async function openPage(server, name, { token } = {}) {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'], ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`[${name}] page error: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') console.log(`[${name}] console: ${msg.text()}`); });
  let url = `${server.http}/harness.html`;
  if (token) url += `?server=${encodeURIComponent(`${server.ws}/?token=${encodeURIComponent(token)}`)}`;
  await page.goto(url);
  await page.waitForFunction(() => window.harness !== undefined);
  return page;
}

// call joins alice and bob (with their tokens), alice sends her microphone
// and camera, and it resolves once bob decodes her video.
function call(server, room, tokens = {}) {
  return aliceSendsToBob(null, server, room, (name) => openPage(server, name, { token: tokens[name] }));
}

async function framesRising(page, more = 10, timeout = 20000) {
  const first = (await stats(page)).framesDecoded;
  await waitFor(page, async (n) => (await window.harness.stats()).framesDecoded > n, first + more, timeout);
}

test('wss: a call over https and wss with a self-signed certificate', async () => {
  const server = await startGosoup(['--tls-self-signed'], { tls: true });
  try {
    const page = await request(`${server.http}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /gosoup demo/, 'embedded demo page served over https');
    const { alice, bob } = await call(server, roomId('wss'));
    assert.equal(await bob.evaluate(() => location.protocol), 'https:');
    await framesRising(bob);
    await alice.context().close();
    await bob.context().close();
  } finally {
    await server.stop();
  }
});

test('tokens: a good token joins; missing, expired, forged and other-room tokens get 401', async () => {
  const secret = crypto.randomBytes(24).toString('hex');
  const server = await startGosoup(['--auth-secret', secret]);
  try {
    const room = roomId('token');
    const { alice, bob } = await call(server, room, { alice: mint(secret, room, 'alice'), bob: mint(secret, room, 'bob') });
    await framesRising(bob);

    const expired = mint(secret, room, 'carol', '1s');
    const upgrade = (query, headers) => request(`${server.http}/?roomId=${room}&peerName=carol${query}`, { upgrade: true, headers });
    const good = mint(secret, room, 'carol');
    assert.equal((await upgrade(`&token=${good}`)).status, 101, 'good token upgrades');
    assert.equal((await upgrade('', { Authorization: `Bearer ${good}` })).status, 101, 'bearer token upgrades');

    const cases = {
      missing: '',
      forged: `&token=${mint(crypto.randomBytes(24).toString('hex'), room, 'carol')}`,
      tampered: `&token=${good.slice(0, -4)}${good.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`,
      'other room': `&token=${mint(secret, `${room}-other`, 'carol')}`,
      'other peer': `&token=${mint(secret, room, 'dave')}`
    };
    await new Promise((r) => setTimeout(r, 2100)); // the 1 s token expires
    cases.expired = `&token=${expired}`;
    for (const [name, query] of Object.entries(cases)) {
      const res = await upgrade(query);
      assert.equal(res.status, 401, `${name} token: ${res.status} ${res.body}`);
      assert.ok(res.body.length > 0, `${name} token: the 401 says why`);
      console.log(`${name} token -> ${res.status} ${res.body.trim()}`);
    }
    // The call was not disturbed.
    await framesRising(bob);
    await alice.context().close();
    await bob.context().close();
  } finally {
    await server.stop();
  }
});

test('drain: SIGTERM keeps calls going, refuses new ones, then closes peers and exits 0', async () => {
  const server = await startGosoup(['--drain-timeout', '5s']);
  try {
    const room = roomId('drain');
    const { alice, bob } = await call(server, room);
    assert.equal((await request(`${server.http}/healthz/ready`)).status, 200);

    const t0 = Date.now();
    server.proc.kill('SIGTERM');
    const deadline = Date.now() + 2000;
    let ready;
    do {
      ready = await request(`${server.http}/healthz/ready`);
    } while (ready.status !== 503 && Date.now() < deadline);
    assert.equal(ready.status, 503, 'not ready while draining');
    assert.equal(ready.body.trim(), 'draining');
    const live = await request(`${server.http}/healthz/live`);
    assert.equal(live.status, 200, 'live while draining');
    const fresh = await request(`${server.http}/?roomId=${room}&peerName=carol`, { upgrade: true });
    assert.equal(fresh.status, 503, `new WebSocket while draining: ${fresh.status} ${fresh.body}`);

    const before = (await stats(bob)).framesDecoded;
    await new Promise((r) => setTimeout(r, 3000));
    const during = (await stats(bob)).framesDecoded;
    console.log(`frames decoded by bob during 3 s of drain: ${during - before}`);
    assert.ok(during > before + 20, `frames kept coming during the drain: ${before} -> ${during}`);
    assert.ok(Date.now() - t0 < 5000, 'checks done within the drain timeout');

    for (const page of [alice, bob]) {
      await waitFor(page, () => window.harness.events().some((e) => e.event === 'room-close' && e.originator === 'remote'), null, 10000);
    }
    const { code, signal } = await Promise.race([
      server.exit,
      new Promise((_, reject) => setTimeout(() => reject(new Error('gosoup did not exit')), 15000))
    ]);
    assert.equal(signal, null);
    assert.equal(code, 0);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 4500, `exited after ${elapsed} ms, before the drain timeout`);
    console.log(`exited 0 after ${elapsed} ms; peers got closed: ${(await events(bob)).filter((e) => e.event === 'room-close').length}`);
    await alice.context().close();
    await bob.context().close();
  } finally {
    await server.stop();
  }
});

test('drain: a second signal exits at once with status 1', async () => {
  const server = await startGosoup(['--drain-timeout', '60s']);
  try {
    // An open WebSocket keeps the drain waiting.
    const socket = await new Promise((resolve, reject) => {
      const req = http.request(`${server.http}/?roomId=${roomId('second')}&peerName=p`, {
        headers: {
          Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'), 'Sec-WebSocket-Protocol': 'protoo'
        }
      });
      req.on('upgrade', (res, sock) => resolve(sock));
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    socket.on('error', () => {});
    server.proc.kill('SIGTERM');
    const end = Date.now() + 2000;
    while ((await request(`${server.http}/healthz/ready`)).status !== 503) {
      assert.ok(Date.now() < end, 'draining');
      await new Promise((r) => setTimeout(r, 50));
    }
    const t0 = Date.now();
    server.proc.kill('SIGINT');
    const { code } = await Promise.race([
      server.exit,
      new Promise((_, reject) => setTimeout(() => reject(new Error('gosoup did not exit')), 5000))
    ]);
    assert.equal(code, 1);
    assert.ok(Date.now() - t0 < 2000, `exited ${Date.now() - t0} ms after the second signal`);
    socket.destroy();
  } finally {
    await server.stop();
  }
});

// openDemo opens the demo page with a join token and clicks Join.
async function openDemo(server, room, name, token) {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`[${name}] page error: ${err.message}`));
  await page.goto(`${server.http}/?roomId=${room}&token=${encodeURIComponent(token)}`);
  await page.fill('#name', name);
  await page.click('#join');
  return page;
}

test('grants: a subscribe-only token watches but cannot produce, the page says so; only admin tokens open the admin API', async () => {
  const secret = crypto.randomBytes(24).toString('hex');
  const server = await startGosoup(['--auth-secret', secret]);
  try {
    const room = roomId('grants');
    const alice = await openDemo(server, room, 'alice', mint(secret, room, 'alice'));
    const viewer = await openDemo(server, room, 'viewer', mint(secret, room, 'viewer', '1h', ['--no-publish']));
    await viewer.waitForFunction(() => [...document.querySelectorAll('.tile:not(.me) video')]
      .some((v) => v.videoWidth > 0 && v.currentTime > 0.5), null, { timeout: 30000, polling: 200 });
    const said = await viewer.$eval('#status', (e) => e.textContent);
    assert.match(said, /nothing may be sent/, `viewer's status: ${said}`);
    assert.equal(await viewer.$$eval('.tile.me', (els) => els.length), 0, 'no own tile without publish');
    // The server refuses it too: a producer forced from the page.
    const forced = await viewer.evaluate(async () => {
      const s = await navigator.mediaDevices.getUserMedia({ audio: true });
      const t = window.demo.room.createTransport('send');
      try { await window.demo.room.createProducer(s.getAudioTracks()[0]).send(t); return 'sent'; } catch (e) { return String(e); }
    });
    assert.match(forced, /token does not allow publishing audio/);
    console.log(`subscribe-only page: "${said}"; forced producer: ${forced}`);

    // The admin API: a participant's token is refused, an admin token works.
    const ingest = (tok) => fetch(`${server.http}/admin/rooms/${room}/ingest`, {
      method: 'POST', headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ peerName: 'alice2', kinds: ['audio'] })
    });
    const refused = await ingest(mint(secret, room, 'alice'));
    assert.equal(refused.status, 403);
    assert.match((await refused.json()).error, /no admin grant/);
    const admin = mint(secret, '*', '', '10m', ['--admin']);
    const ok = await ingest(admin);
    assert.equal(ok.status, 201, `admin token: ${ok.status} ${await ok.clone().text()}`);
    const del = await fetch(`${server.http}/admin/rooms/${room}/ingest?peerName=alice2`, {
      method: 'DELETE', headers: { Authorization: `Bearer ${admin}` }
    });
    assert.ok(del.status < 300, `ingest removed: ${del.status}`);
    await alice.context().close();
    await viewer.context().close();
  } finally {
    await server.stop();
  }
});
