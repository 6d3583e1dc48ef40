// Browser side of the soak run (scripts/soak.sh, docs/soak.md): Chromium
// peers on the harness page of a running gosoup join one room, produce
// (half of the joins with simulcast), pause and resume, switch preferred
// profiles, restart ICE, re-produce, and leave (politely or by dropping
// the page) and rejoin, in an order drawn from a seeded PRNG, until the
// duration passes; then every peer leaves. Not a test: `npm test` does not
// run it.
//
//   node e2e/soak.mjs --url http://127.0.0.1:3443 --duration 30m --peers 4 --seed 1
import { launchBrowser, sleep } from './lib.mjs';

function parseArgs(argv) {
  const o = { url: 'http://127.0.0.1:3443', duration: '3m', peers: 4, seed: 1, room: 'soak-browsers' };
  for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(o.duration));
  if (!m) throw new Error(`bad --duration ${o.duration}`);
  o.durationMs = Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2]];
  o.peers = Number(o.peers);
  o.seed = Number(o.seed);
  return o;
}

// mulberry32: a small seeded PRNG, so a seed gives the same sequence of
// actions (their timing still depends on the machine).
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const opts = parseArgs(process.argv.slice(2));
const rand = prng(opts.seed);
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
const t0 = Date.now();
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(0).padStart(5)}s`;
const counts = {};
const errors = {};
const count = (k) => { counts[k] = (counts[k] || 0) + 1; };
const fail = (k, err) => {
  const msg = `${k}: ${String(err && err.message || err).split('\n')[0].slice(0, 200)}`;
  errors[msg] = (errors[msg] || 0) + 1;
  console.log(`${stamp()} error ${msg}`);
};

// withTimeout bounds a page call: a stuck page must not stall the run.
function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

const browser = await launchBrowser();
const peers = [];
for (let i = 0; i < opts.peers; i++) {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  const peer = { i, gen: 0, page, joined: false, paused: { audio: false, video: false }, frames: 0 };
  page.on('pageerror', (err) => fail(`page ${i}`, err));
  page.on('console', (msg) => {
    // The harness page has no icon: the browser's /favicon.ico 404 is no error.
    if (msg.type() === 'error' && !msg.location().url.endsWith('/favicon.ico')) fail(`console ${i}`, msg.text());
  });
  peers.push(peer);
}

const call = (peer, fn, arg, ms = 30000) => withTimeout(peer.page.evaluate(fn, arg), ms, `peer ${peer.i}`);

// open loads a fresh harness page (dropping whatever the page had).
async function open(peer) {
  await withTimeout(peer.page.goto(`${opts.url}/harness.html`), 30000, 'goto');
  await withTimeout(peer.page.waitForFunction(() => window.harness !== undefined), 30000, 'harness');
  peer.joined = false;
}

async function join(peer) {
  await open(peer);
  peer.gen++;
  peer.simulcast = rand() < 0.5;
  await call(peer, ([room, name]) => window.harness.join(room, name), [opts.room, `chrome${peer.i}-${peer.gen}`]);
  peer.joined = true;
  peer.paused = { audio: false, video: false };
  await call(peer, () => window.harness.produce('audio'));
  await call(peer, (sim) => window.harness.produce('video', sim ? { simulcast: true, width: 640, height: 360 } : { width: 320, height: 180 }), peer.simulcast);
  count(peer.simulcast ? 'join (simulcast)' : 'join');
}

// Weighted actions on a joined peer.
const actions = [
  [25, 'pause/resume video', async (p) => { await call(p, (k) => window.harness[`${k.paused ? 'resume' : 'pause'}Producer`]('video'), { paused: p.paused.video }); p.paused.video = !p.paused.video; }],
  [10, 'pause/resume audio', async (p) => { await call(p, (k) => window.harness[`${k.paused ? 'resume' : 'pause'}Producer`]('audio'), { paused: p.paused.audio }); p.paused.audio = !p.paused.audio; }],
  [25, 'preferred profile', async (p) => { await call(p, (prof) => window.harness.setPreferredProfile(prof), pick(['low', 'medium', 'high', 'default'])); }],
  [8, 're-produce video', async (p) => {
    await call(p, () => window.harness.closeProducer('video'));
    await call(p, (sim) => window.harness.produce('video', sim ? { simulcast: true, width: 640, height: 360 } : { width: 320, height: 180 }), p.simulcast);
    p.paused.video = false;
  }],
  [5, 'restart ICE', async (p) => { await call(p, () => window.harness.restartIce()); }],
  [15, 'leave', async (p) => { await call(p, () => window.harness.leave()); p.joined = false; }],
  [7, 'drop page', async (p) => { await open(p); }],
  [5, 'check media', async (p) => {
    const s = await call(p, () => window.harness.stats());
    console.log(`${stamp()} chrome${p.i}-${p.gen}: ${s.framesDecoded} frames decoded, ${s.audioPackets} audio packets, ${s.videoLost} video packets lost`);
  }]
];
const totalWeight = actions.reduce((s, a) => s + a[0], 0);
function drawAction() {
  let x = rand() * totalWeight;
  for (const a of actions) { if ((x -= a[0]) < 0) return a; }
  return actions[actions.length - 1];
}

const deadline = t0 + opts.durationMs;
// Everyone joins first, then the random walk begins.
for (const p of peers) {
  try { await join(p); } catch (err) { fail(`join ${p.i}`, err); }
}
let lastReport = Date.now();
while (Date.now() < deadline) {
  await sleep(1000 + rand() * 4000);
  const p = pick(peers);
  const [, name, fn] = p.joined ? drawAction() : [0, 'rejoin', join];
  try {
    await fn(p);
    count(name);
  } catch (err) {
    fail(name, err);
    try { await open(p); } catch (e) { fail('reopen', e); }
  }
  if (Date.now() - lastReport > 60000) {
    lastReport = Date.now();
    console.log(`${stamp()} joined ${peers.filter((x) => x.joined).length}/${peers.length}, actions ${JSON.stringify(counts)}`);
  }
}

// The end: every peer leaves, then the browser closes.
for (const p of peers) {
  if (!p.joined) continue;
  try {
    await call(p, () => window.harness.leave());
    count('final leave');
  } catch (err) { fail('final leave', err); }
}
await sleep(1000);
await browser.close();
const nerr = Object.values(errors).reduce((s, n) => s + n, 0);
console.log(`browsers: ${opts.peers} Chromium peers for ${((Date.now() - t0) / 60000).toFixed(1)} min, seed ${opts.seed}`);
console.log(`actions: ${JSON.stringify(counts)}`);
console.log(`errors: ${nerr}`);
for (const [k, n] of Object.entries(errors)) console.log(`  ${n} × ${k}`);
