// Big rooms: 300 pion peers (gosoup-load --meeting: mostly silent
// microphones sending real ssrc-audio-level values, a few cameras) and a
// Chromium mediasoup-client 2.4.12 peer. With --audio-slots 3 --last-n 4
// the Chromium peer is offered 7 consumers and receives them within
// seconds; a silent peer that starts speaking is heard through a slot
// (audioSlot names it, the slot's inbound-rtp counts its packets) and its
// video is offered and reaches the page (last-N follows the speaker).
// Without the settings, the page is offered every producer, as mediasoup.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { startServer, launchBrowser, roomId, repo, waitFor, sleep, freePort, serverEnv } from '../lib.mjs';

const PEERS = Number(process.env.BIGROOM_PEERS || 300);
const VIDEO = 6;

let browser;
let loadBin;
let binDir;
before(async () => {
  binDir = mkdtempSync(path.join(tmpdir(), 'gosoup-bigroom-'));
  loadBin = path.join(binDir, 'gosoup-load');
  execFileSync('go', ['build', '-o', loadBin, './cmd/gosoup-load'], { cwd: repo, stdio: 'inherit' });
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  rmSync(binDir, { recursive: true, force: true });
});

// startMeeting runs gosoup-load --meeting and resolves once every peer
// produces; speak(name) makes a peer's audio level rise and returns when.
async function startMeeting(ws, room, { peers = PEERS, args = [] } = {}) {
  const proc = spawn(loadBin, ['--meeting', '--url', ws, '--meeting-room', room,
    '--meeting-peers', String(peers), '--meeting-video', String(VIDEO), '--bitrate', '200000', ...args],
  { stdio: ['pipe', 'pipe', 'inherit'] });
  const events = [];
  const waiters = [];
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    let e;
    try { e = JSON.parse(line); } catch { return; }
    if (e.event === 'error') console.log(`meeting: ${line}`);
    events.push(e);
    for (const w of waiters.splice(0)) w();
  });
  const next = (pred, ms) => new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const check = () => {
      const e = events.find(pred);
      if (e) return resolve(e);
      if (Date.now() > end) return reject(new Error('meeting: timed out'));
      waiters.push(check);
      setTimeout(() => { const i = waiters.indexOf(check); if (i >= 0) { waiters.splice(i, 1); check(); } }, 500);
    };
    check();
  });
  const ready = await next((e) => e.event === 'ready', 300000);
  return {
    ready,
    sample: async () => { const n = events.length; proc.stdin.write('sample\n'); return next((e) => e.event === 'sample' && events.indexOf(e) >= n, 5000); },
    speak: async (name) => { proc.stdin.write(`speak ${name}\n`); return (await next((e) => e.event === 'speak' && e.peer === name, 5000)).at; },
    stop: async () => { proc.stdin.end(); proc.kill('SIGTERM'); await new Promise((r) => { proc.once('exit', r); setTimeout(r, 5000); }); }
  };
}

// openPage opens the harness page with every RTCPeerConnection recorded,
// for per-SSRC inbound-rtp stats.
async function openPage(server, name) {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  await context.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    window.__pcs = [];
    window.RTCPeerConnection = class extends Native {
      constructor(...args) { super(...args); window.__pcs.push(this); }
    };
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`[${name}] page error: ${err.message}`));
  await page.goto(`${server.http}/harness.html`);
  await page.waitForFunction(() => window.harness !== undefined);
  return page;
}

// inbound returns the page's inbound-rtp stats by SSRC.
function inbound(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp') {
          out[s.ssrc] = { kind: s.kind, packets: s.packetsReceived || 0, energy: s.totalAudioEnergy || 0, frames: s.framesReceived || 0 };
        }
      });
    }
    return out;
  });
}

// offered is what the page was offered: the join response's consumers and
// every newConsumer since, with consumerClosed applied.
async function offered(page) {
  const trace = await page.evaluate(() => window.harness.trace());
  const byId = new Map();
  for (const m of trace) {
    if (m.dir === 'in' && m.type === 'response' && m.method === 'join') {
      for (const p of m.data.peers) for (const c of p.consumers) byId.set(c.id, { ...c, peerName: p.name });
    } else if (m.dir === 'in' && m.method === 'newConsumer') {
      byId.set(m.data.id, m.data);
    } else if (m.dir === 'in' && m.method === 'consumerClosed') {
      byId.delete(m.data.id);
    }
  }
  return [...byId.values()];
}

function received(page) {
  return page.evaluate(() => window.harness.events().filter((e) => e.event === 'consumer-track'));
}

test(`with --audio-slots 3 --last-n 4, a Chromium peer in a room of ${PEERS} gets 7 consumers at once and follows the speaker`, async () => {
  const server = await startServer({ args: ['--audio-slots', '3', '--last-n', '4'] });
  const room = roomId('bigroom');
  let meeting;
  try {
    meeting = await startMeeting(server.ws, room);
    console.log(`meeting: ${meeting.ready.joined} peers joined in ${meeting.ready.elapsedMs} ms (join p50 ${meeting.ready.joinP50Ms} ms, p95 ${meeting.ready.joinP95Ms} ms)`);
    assert.equal(meeting.ready.joined, PEERS);
    const page = await openPage(server, 'chrome');
    const t0 = Date.now();
    await page.evaluate((r) => window.harness.join(r, 'chrome', { spy: true }), room);
    const offers = await offered(page);
    const audio = offers.filter((c) => c.kind === 'audio');
    const video = offers.filter((c) => c.kind === 'video');
    assert.equal(audio.length, 3, 'audio consumers offered');
    assert.ok(audio.every((c) => c.peerName === 'audio-slots'), 'audio offered through the slots only');
    assert.equal(video.length, 4, 'video consumers offered (last-N)');
    await waitFor(page, (n) => window.harness.events().filter((e) => e.event === 'consumer-track').length >= n, offers.length, 10000);
    const all = Math.max(...(await received(page)).map((e) => e.t)) - t0;
    console.log(`join → all ${offers.length} consumers received: ${all} ms`);
    assert.ok(all < 5000, `all consumers received after ${all} ms`);

    // A silent peer with a camera not shown yet starts speaking.
    const shown = new Set(video.map((c) => c.peerName));
    const speaker = Array.from({ length: VIDEO }, (_, i) => `pion-${String(i).padStart(3, '0')}`).find((n) => !shown.has(n));
    assert.ok(speaker, `every camera offered: ${[...shown]}`);
    const before = await inbound(page);
    const traceAt = (await page.evaluate(() => window.harness.trace())).length;
    const spoke = await meeting.speak(speaker);
    const slot = await waitFor(page, (name) => window.harness.trace().find((m) => m.method === 'audioSlot' && m.data.speakerPeerName === name), speaker, 5000);
    const told = Date.now() - spoke;
    const slotSsrc = audio.find((c) => c.id === slot.data.consumerId).rtpParameters.encodings[0].ssrc;
    const b0 = (before[slotSsrc] && before[slotSsrc].packets) || 0;
    let heard;
    for (let end = Date.now() + 5000; Date.now() < end; await sleep(100)) {
      const s = (await inbound(page))[slotSsrc];
      if (s && s.packets > b0 + 10) { heard = s; break; }
    }
    assert.ok(heard, `slot ${slot.data.slot} (ssrc ${slotSsrc}) received no packets of ${speaker}`);
    console.log(`${speaker} speaks → audioSlot seen by the page: ≤ ${told} ms; slot packets ${heard.packets}, energy ${heard.energy.toFixed(4)}`);

    const cons = await waitFor(page, (name) => window.harness.consumers().find((c) => c.kind === 'video' && c.peer === name && !c.closed), speaker, 10000);
    const vs = (await offered(page)).find((c) => c.id === cons.id).rtpParameters.encodings[0].ssrc;
    let firstPacket;
    for (let end = Date.now() + 10000; Date.now() < end; await sleep(50)) {
      const s = (await inbound(page))[vs];
      if (s && s.packets > 0) { firstPacket = Date.now(); break; }
    }
    assert.ok(firstPacket, `${speaker}'s video offered but no packet received`);
    const ev = await page.evaluate(() => window.harness.events());
    const offeredAt = ev.find((e) => e.event === 'newconsumer' && e.id === cons.id).t;
    const trackAt = ev.find((e) => e.event === 'consumer-track' && e.id === cons.id).t;
    console.log(`${speaker} speaks → video offered ${offeredAt - spoke} ms, receive() resolved ${trackAt - spoke} ms (renegotiation ${trackAt - offeredAt} ms), first packet ≤ ${firstPacket - spoke} ms`);
    const change = (await page.evaluate(() => window.harness.trace())).slice(traceAt).filter((m) => m.dir === 'in' && m.type === 'notification');
    console.log(`signaling for this speaker change: ${change.map((m) => `${m.method} ${JSON.stringify(m.data).length} B`).join(', ')}`);
    const open = (await page.evaluate(() => window.harness.consumers())).filter((c) => c.kind === 'video' && !c.closed);
    assert.equal(open.length, 4, `open video consumers: ${open.map((c) => c.peer)}`);
    assert.ok(open.some((c) => c.peer === speaker));

    // The demo page: a tile per slot captioned with the peer it carries,
    // tiles only for the offered videos, the speaker's marked.
    const demo = await (await browser.newContext({ permissions: ['camera', 'microphone'] })).newPage();
    demo.on('pageerror', (err) => console.log(`[demo] page error: ${err.message}`));
    await demo.goto(`${server.http}/?roomId=${room}`);
    await demo.fill('#name', 'Viewer');
    await demo.click('#join');
    await demo.waitForFunction((name) => [...document.querySelectorAll('.tile.slot figcaption')].some((f) => f.textContent.includes(name)),
      speaker, { timeout: 15000, polling: 200 });
    const tiles = await demo.$$eval('.tile', (els) => els.map((e) => ({ cls: [...e.classList], caption: e.querySelector('figcaption').textContent })));
    console.log(`demo tiles: ${JSON.stringify(tiles.map((t) => `${t.caption} [${t.cls.join(' ')}]`))}`);
    assert.equal(tiles.filter((t) => t.cls.includes('slot')).length, 3, 'slot tiles');
    assert.ok(!tiles.some((t) => t.caption.includes('audio-slots')), 'a tile captioned audio-slots');
    const videoTiles = tiles.filter((t) => !t.cls.includes('slot') && !t.cls.includes('me'));
    assert.ok(videoTiles.length <= 4, `${videoTiles.length} peer tiles, want the last-N videos only`);
    assert.ok(videoTiles.some((t) => t.caption === speaker && t.cls.includes('in-slot')), 'the speaker\'s video tile is marked');
  } finally {
    if (meeting) await meeting.stop();
    await server.stop();
  }
});

test(`without the settings, a Chromium peer in a room of ${PEERS} is offered every producer`, async () => {
  const server = await startServer();
  const room = roomId('bigroom-off');
  let meeting;
  try {
    meeting = await startMeeting(server.ws, room);
    assert.equal(meeting.ready.joined, PEERS);
    const page = await openPage(server, 'chrome');
    await page.evaluate((r) => window.harness.join(r, 'chrome', { spy: true }), room);
    const offers = await offered(page);
    assert.equal(offers.filter((c) => c.kind === 'audio').length, PEERS);
    assert.equal(offers.filter((c) => c.kind === 'video').length, VIDEO);
    assert.ok(offers.every((c) => c.peerName !== 'audio-slots'));
    const t0 = Date.now();
    await waitFor(page, () => window.harness.events().filter((e) => e.event === 'consumer-track').length >= 20, null, 30000);
    console.log(`without settings: first 20 of ${offers.length} consumers received in ${Date.now() - t0} ms`);
  } finally {
    if (meeting) await meeting.stop();
    await server.stop();
  }
});

// The two designs of video last-N, measured with Chromium on both sides
// (BIGROOM_MEASURE=1; docs/benchmarks.md): (a) a switch offers a new
// consumer (newConsumer: one renegotiation of the receive transport, then
// a key frame) and closes the old one; (b) a slot consumer switches source
// on the server and asks for a key frame, which costs the client what a
// consumer resumed by its producer costs (the server resynchronises and
// requests a key frame). Run SWITCHES times each.
test('video switch cost: new consumer per switch (a) vs key frame on a kept consumer (b)', { skip: !process.env.BIGROOM_MEASURE }, async () => {
  const SWITCHES = Number(process.env.BIGROOM_SWITCHES || 20);
  const server = await startServer();
  const room = roomId('switch');
  try {
    const pub = await openPage(server, 'pub');
    const sub = await openPage(server, 'sub');
    await pub.evaluate((r) => window.harness.join(r, 'pub'), room);
    await sub.evaluate((r) => window.harness.join(r, 'sub', { spy: true }), room);
    await pub.evaluate(() => window.harness.produce('audio'));
    const a = [];
    for (let i = 0; i < SWITCHES; i++) {
      const t0 = Date.now();
      await pub.evaluate(() => window.harness.produce('video'));
      // First decoded frame of the newest video consumer, seen in the page.
      const r = await sub.waitForFunction(() => {
        const ev = window.harness.events();
        const nc = ev.filter((e) => e.event === 'newconsumer' && e.kind === 'video').pop();
        if (!nc) return null;
        const el = document.querySelector(`video[data-consumer="${nc.id}"]`);
        if (!el || el.readyState < 2) return null;
        const track = ev.find((e) => e.event === 'consumer-track' && e.id === nc.id);
        return { offered: nc.t, track: track.t, frame: Date.now() };
      }, null, { polling: 10, timeout: 20000 });
      const v = await r.jsonValue();
      a.push({ offerToFrame: v.frame - v.offered, renegotiation: v.track - v.offered, produceToFrame: v.frame - t0 });
      await pub.evaluate(() => window.harness.closeProducer('video'));
      await sub.waitForFunction(() => window.harness.consumers().filter((c) => c.kind === 'video' && !c.closed).length === 0, null, { polling: 20, timeout: 10000 });
      await sleep(300);
    }
    await pub.evaluate(() => window.harness.produce('video'));
    await waitFor(sub, async () => (await window.harness.stats()).framesDecoded > 10, null, 20000);
    const b = [];
    for (let i = 0; i < SWITCHES; i++) {
      await pub.evaluate(() => window.harness.pauseProducer('video'));
      await sleep(700);
      // rVFC on the kept consumer's element, armed before the resume.
      await sub.evaluate(() => {
        const el = [...document.querySelectorAll('video')].pop();
        window.__frameAt = 0;
        window.__framesAt = el.getVideoPlaybackQuality().totalVideoFrames;
        el.requestVideoFrameCallback(() => { window.__frameAt = Date.now(); });
      });
      const t0 = await pub.evaluate(() => { window.harness.resumeProducer('video'); return Date.now(); });
      const at = await (await sub.waitForFunction(() => window.__frameAt || null, null, { polling: 10, timeout: 10000 })).jsonValue();
      b.push({ resumeToFrame: at - t0 });
      await sleep(300);
    }
    const med = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
    const p95 = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]; };
    const first = a.slice(0, 5);
    const last = a.slice(-5);
    console.log(`(a) newConsumer → first frame: median ${med(a.map((x) => x.offerToFrame))} ms, p95 ${p95(a.map((x) => x.offerToFrame))} ms; ` +
      `renegotiation (newConsumer → receive() resolved): median ${med(a.map((x) => x.renegotiation))} ms, first 5 ${med(first.map((x) => x.renegotiation))} ms, last 5 ${med(last.map((x) => x.renegotiation))} ms`);
    console.log(`(b) key frame request → first frame on the kept consumer: median ${med(b.map((x) => x.resumeToFrame))} ms, p95 ${p95(b.map((x) => x.resumeToFrame))} ms`);
    const sdp = await sub.evaluate(() => window.__pcs.map((pc) => (pc.remoteDescription ? pc.remoteDescription.sdp.split('\nm=').length - 1 : 0)));
    console.log(`receive SDP m-sections after ${SWITCHES} switches: ${JSON.stringify(sdp)}`);
  } finally {
    await server.stop();
  }
});

// Big-room figures (BIGROOM_MEASURE=1, sizes in BIGROOM_SIZES, default
// 300,1000; docs/benchmarks.md): for each size, with and without
// --audio-slots 3 --last-n 4 (BIGROOM_MODES, default on,off), the meeting's join latencies and the
// server's CPU while peers join and in the steady room, then a Chromium
// peer's join: consumers offered, time until it received them all (given
// up after 60 s), and the signaling bytes it received in its first 5 s.
test('big-room figures', { skip: !process.env.BIGROOM_MEASURE, timeout: 3600000 }, async () => {
  const sizes = (process.env.BIGROOM_SIZES || '300,1000').split(',').map(Number);
  const srvBin = path.join(binDir, 'gosoup');
  execFileSync('go', ['build', '-o', srvBin, './cmd/gosoup'], { cwd: repo, stdio: 'inherit' });
  const rows = [];
  for (const size of sizes) {
    const modes = (process.env.BIGROOM_MODES || 'on,off').split(',');
    for (const args of [['--audio-slots', '3', '--last-n', '4'], []].filter((a) => modes.includes(a.length ? 'on' : 'off'))) {
      const port = await freePort();
      const proc = spawn(srvBin, ['--listen', `127.0.0.1:${port}`, '--web', path.join(repo, 'web', 'dist'),
        '--rtc-listen-ip', '127.0.0.1', '--announced-ip', '127.0.0.1', '--log-level', 'warn', '--max-peers-per-room', '5000', ...args],
      { stdio: ['ignore', 'inherit', 'inherit'], env: serverEnv() });
      const server = { http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
      let meeting;
      try {
        await waitFor0(`${server.http}/healthz`);
        const room = roomId('figures');
        meeting = await startMeeting(server.ws, room, { peers: size, args: ['--server-pid', String(proc.pid), '--meeting-concurrency', '32'] });
        await meeting.sample();
        await sleep(10000);
        const steady = await meeting.sample();
        const page = await openPage(server, 'chrome');
        const t0 = Date.now();
        await page.evaluate((r) => window.harness.join(r, 'chrome', { spy: true }), room);
        const offers = await offered(page);
        let all = null;
        try {
          await waitFor(page, (n) => window.harness.events().filter((e) => e.event === 'consumer-track').length >= n, offers.length, 60000);
          all = Math.max(...(await received(page)).map((e) => e.t)) - t0;
        } catch { /* reported as not all received */ }
        const got = (await received(page)).length;
        const bytes = await page.evaluate((t) => window.harness.trace().filter((m) => m.dir === 'in')
          .reduce((n, m) => n + JSON.stringify(m.data).length, 0), t0);
        const joinBytes = await page.evaluate(() => JSON.stringify(window.harness.trace().find((m) => m.method === 'join' && m.type === 'response').data).length);
        const row = {
          peers: size, settings: args.length ? 'slots 3, last-n 4' : 'off', joined: meeting.ready.joined,
          joinP50Ms: meeting.ready.joinP50Ms, joinP95Ms: meeting.ready.joinP95Ms, rampMs: meeting.ready.elapsedMs,
          cpuJoinS: meeting.ready.serverCpuS, steadyCpuPct: Math.round(100 * steady.serverCpuS / (steady.elapsedMs / 1000)), rssMiB: Math.round(steady.serverRssMiB),
          offered: offers.length, allReceivedMs: all, received: got, joinResponseBytes: joinBytes, signalingBytes: bytes
        };
        console.log(JSON.stringify(row));
        rows.push(row);
        await page.context().close();
      } finally {
        if (meeting) await meeting.stop();
        proc.kill('SIGTERM');
        await new Promise((r) => { proc.once('exit', r); setTimeout(r, 5000); });
      }
    }
  }
  console.log(JSON.stringify(rows));
});

async function waitFor0(url) {
  for (let end = Date.now() + 20000; Date.now() < end; await sleep(200)) {
    try { if ((await fetch(url)).ok) return; } catch { /* not yet */ }
  }
  throw new Error(`no answer at ${url}`);
}
