// Shared helpers: build and start gosoup (or use GOSOUP_URL), launch
// Debian's Chromium with fake camera and microphone, open harness pages.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const artifacts = path.join(repo, 'e2e', 'artifacts');

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

// serverEnv is this process's environment without GOSOUP_* variables (the
// server refuses unknown ones, and each test chooses its own), plus extra.
export function serverEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GOSOUP_')) env[k] = v;
  return { ...env, ...extra };
}

async function waitHttp(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { const r = await fetch(url); if (r.ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server did not answer at ${url}`);
}

// startServer returns {http, ws, pid, stop}. With GOSOUP_URL set
// (http://host:port of a running gosoup) it uses that server (pid 0).
export async function startServer(opts = {}) {
  if (process.env.GOSOUP_URL) {
    const http = process.env.GOSOUP_URL.replace(/\/$/, '');
    return { http, ws: http.replace(/^http/, 'ws'), pid: 0, stop: async () => {} };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'gosoup-e2e-'));
  const bin = path.join(dir, 'gosoup');
  execFileSync('go', ['build', '-o', bin, './cmd/gosoup'], { cwd: repo, stdio: 'inherit' });
  const port = await freePort();
  const host = opts.host || '127.0.0.1';
  const proc = spawn(bin, [
    '--listen', `${host}:${port}`, '--web', path.join(repo, 'web', 'dist'),
    '--rtc-listen-ip', host, '--rtc-port', String(opts.rtcPort || 0), '--announced-ip', host,
    '--log-level', process.env.GOSOUP_LOG || 'warn', ...(opts.args || [])
  ], { stdio: ['ignore', 'inherit', 'inherit'], env: serverEnv() });
  const http = `http://${host}:${port}`;
  await waitHttp(`${http}/healthz`, 20000);
  return {
    http,
    ws: `ws://${host}:${port}`,
    pid: proc.pid,
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => { proc.once('exit', r); setTimeout(r, 5000); });
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

// launchBrowser starts Chromium; opts.executablePath runs it through a
// wrapper (a network namespace), opts.args adds flags.
export async function launchBrowser(opts = {}) {
  return chromium.launch({
    executablePath: opts.executablePath || process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...(opts.args || []),
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required'
    ]
  });
}

// openHarness opens the test harness page of the server under test.
export async function openHarness(browser, server, name) {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`[${name}] page error: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') console.log(`[${name}] console: ${msg.text()}`); });
  await page.goto(`${server.http}/harness.html`);
  await page.waitForFunction(() => window.harness !== undefined);
  return page;
}

// waitFor evaluates fn in the page every 100 ms (driven from Node, so page
// timer throttling cannot stall it) until it returns a truthy value.
export async function waitFor(page, fn, arg, timeout = 20000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await page.evaluate(fn, arg);
    if (last) return last;
    if (Date.now() > end) throw new Error(`waitFor timed out after ${timeout} ms: ${fn.toString().slice(0, 160)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function stats(page) { return page.evaluate(() => window.harness.stats()); }
export function events(page) { return page.evaluate(() => window.harness.events()); }

export function roomId(tag) { return `${tag}-${Math.random().toString(36).slice(2, 8)}`; }

export function ensureArtifacts() { mkdirSync(artifacts, { recursive: true }); }

// freeUdpPort returns a UDP port that was free a moment ago.
export function freeUdpPort() {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// startLossRelay forwards UDP between clients and 127.0.0.1:target, one
// upstream socket per client, and drops a share of the SRTP media packets
// going to the clients (a seeded PRNG makes runs comparable). The server
// announces the relay's port as its candidate.
export async function startLossRelay(target, loss, seed = 1) {
  let state = seed;
  const rand = () => { state = (state * 1103515245 + 12345) % 2147483648; return state / 2147483648; };
  const stats = { forwarded: 0, dropped: 0 };
  const front = dgram.createSocket('udp4');
  const clients = new Map();
  front.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let up = clients.get(key);
    if (!up) {
      up = dgram.createSocket('udp4');
      up.bind(0, '127.0.0.1');
      up.on('message', (m) => {
        const rtp = m.length > 12 && m[0] >= 128 && m[0] < 192 && !(m[1] >= 192 && m[1] <= 223);
        if (rtp && rand() < loss) { stats.dropped++; return; }
        stats.forwarded++;
        front.send(m, rinfo.port, rinfo.address);
      });
      clients.set(key, up);
    }
    up.send(msg, target, '127.0.0.1');
  });
  await new Promise((r) => front.bind(0, '127.0.0.1', r));
  return {
    port: front.address().port,
    stats,
    close: () => { front.close(); for (const u of clients.values()) u.close(); }
  };
}

// aliceSendsToBob joins alice and bob to a room, alice sends mic and
// camera, and it returns once bob decodes her video. open(name) opens a
// harness page (default: openHarness on browser and server).
export async function aliceSendsToBob(browser, server, room, open = (name) => openHarness(browser, server, name)) {
  const alice = await open('alice');
  const bob = await open('bob');
  await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
  await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
  await alice.evaluate(() => window.harness.produce('audio'));
  await alice.evaluate(() => window.harness.produce('video'));
  await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 5, null, 30000);
  return { alice, bob };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// activeLayers returns the streams of the page's video producer that carry
// media (index, bitrate, ssrc, rid), from its producer stats (enableStats).
export async function activeLayers(page) {
  const s = await waitFor(page, () => window.harness.lastStats()['producer-video'], null, 5000);
  return s.map((x, i) => ({ i, bitrate: x.bitrate, ssrc: x.ssrc, rid: x.rid })).filter((x) => x.bitrate > 20000);
}

// waitForLayers polls activeLayers every second until n layers carry media
// or timeout passes; it returns the last layers and the time it took.
export async function waitForLayers(page, n, timeout = 30000) {
  const start = Date.now();
  let layers = [];
  while (Date.now() - start < timeout) {
    layers = await activeLayers(page);
    if (layers.length >= n) break;
    await sleep(1000);
  }
  return { layers, ms: Date.now() - start };
}

// trackPeerConnections makes every page of a browser context record its
// RTCPeerConnections in window.__pcs (for rtcSummary), whatever opens them.
export async function trackPeerConnections(context) {
  await context.addInitScript(() => {
    const Orig = window.RTCPeerConnection;
    window.__pcs = [];
    window.RTCPeerConnection = class extends Orig {
      constructor(...a) { super(...a); window.__pcs.push(this); }
    };
  });
}

// rtcSummary is evaluated in a page (page.evaluate(rtcSummary)) whose
// context has trackPeerConnections: cumulative counters of its open
// RTCPeerConnections. Received video (inbound-rtp): frames decoded,
// freezes (count, seconds), last frame width, packets lost, NACKs, PLIs,
// key frames; received audio: concealed and received samples; sent video
// (outbound-rtp): bytes and frame width per stream (rid or SSRC), packets
// sent and, from the receiver's reports (remote-inbound-rtp), lost.
export async function rtcSummary() {
  const o = { frames: 0, freezeCount: 0, freezeSec: 0, width: 0, concealed: 0, samples: 0, lost: 0, nack: 0, pli: 0, keyFrames: 0, out: {} };
  for (const pc of window.__pcs || []) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        o.frames += s.framesDecoded || 0;
        o.freezeCount += s.freezeCount || 0;
        o.freezeSec += s.totalFreezesDuration || 0;
        o.width = s.frameWidth || o.width;
        o.lost += s.packetsLost || 0;
        o.nack += s.nackCount || 0;
        o.pli += s.pliCount || 0;
        o.keyFrames += s.keyFramesDecoded || 0;
      } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        o.concealed += s.concealedSamples || 0;
        o.samples += s.totalSamplesReceived || 0;
      } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
        o.out[s.rid || s.ssrc] = { bytes: s.bytesSent || 0, width: s.frameWidth || 0 };
        o.sentPackets = (o.sentPackets || 0) + (s.packetsSent || 0);
      } else if (s.type === 'remote-inbound-rtp' && s.kind === 'video') {
        o.remoteLost = (o.remoteLost || 0) + (s.packetsLost || 0);
      }
    });
  }
  return o;
}

// simulcastIntoNamespace is the thin-link tests' call: alice's Chromium on
// the host, bob's inside network namespace ns (its wrapper), both on the
// harness page in a fresh room; alice publishes VP8 simulcast 1280x720
// (scales 4/2/1) with 1 s stats. Both browsers are pushed on browsers for
// the caller to close; it returns { alice, bob, room }.
export async function simulcastIntoNamespace(ns, server, browsers, tag) {
  // alice needs getUserMedia, so her page on the namespace's host address counts as secure.
  const aliceBrowser = await launchBrowser({ args: [`--unsafely-treat-insecure-origin-as-secure=${server.http}`] });
  browsers.push(aliceBrowser);
  const bobBrowser = await launchBrowser({ executablePath: ns.wrapper });
  browsers.push(bobBrowser);
  const alice = await openHarness(aliceBrowser, server, 'alice');
  const bob = await openHarness(bobBrowser, server, 'bob');
  const room = roomId(tag);
  await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
  await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
  await alice.evaluate(() => window.harness.produce('video', { simulcast: true, width: 1280, height: 720 }));
  await alice.evaluate(() => window.harness.scaleSimulcast([4, 2, 1]));
  await alice.evaluate(() => window.harness.enableStats(1000));
  return { alice, bob, room };
}
