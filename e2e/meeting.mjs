// Big-room helpers shared by the tests that fill a room with gosoup-load
// --meeting peers (mostly silent pion microphones sending real
// ssrc-audio-level values, a few cameras) and watch a Chromium
// mediasoup-client page join it.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import assert from 'node:assert/strict';
import { repo, waitFor, sleep } from './lib.mjs';

// buildLoad builds gosoup-load (and, with server, gosoup) into a fresh
// directory; it returns { loadBin, serverBin, cleanup }.
export function buildLoad({ server = false } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gosoup-bigroom-'));
  const loadBin = path.join(dir, 'gosoup-load');
  execFileSync('go', ['build', '-o', loadBin, './cmd/gosoup-load'], { cwd: repo, stdio: 'inherit' });
  let serverBin;
  if (server) {
    serverBin = path.join(dir, 'gosoup');
    execFileSync('go', ['build', '-o', serverBin, './cmd/gosoup'], { cwd: repo, stdio: 'inherit' });
  }
  return { loadBin, serverBin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// startMeeting runs gosoup-load --meeting (ws: one server URL, or the
// comma-separated nodes of a cluster: peer i joins node i mod n) and
// resolves once every peer produces; speak(name) makes a peer's audio level rise and returns when.
export async function startMeeting(loadBin, ws, room, { peers, video = 6, args = [] }) {
  const proc = spawn(loadBin, ['--meeting', '--url', ws, '--meeting-room', room,
    '--meeting-peers', String(peers), '--meeting-video', String(video), '--bitrate', '200000', ...args],
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
  let ready;
  try {
    ready = await next((e) => e.event === 'ready', 300000);
  } catch (err) {
    proc.kill('SIGKILL'); // nobody else holds it yet
    throw err;
  }
  return {
    ready,
    sample: async () => { const n = events.length; proc.stdin.write('sample\n'); return next((e) => e.event === 'sample' && events.indexOf(e) >= n, 5000); },
    speak: async (name) => { proc.stdin.write(`speak ${name}\n`); return (await next((e) => e.event === 'speak' && e.peer === name, 5000)).at; },
    stop: async () => { proc.stdin.end(); proc.kill('SIGTERM'); await new Promise((r) => { proc.once('exit', r); setTimeout(r, 5000); }); }
  };
}

// openPage opens the harness page with every RTCPeerConnection recorded,
// for per-SSRC inbound-rtp stats.
export async function openPage(browser, server, name) {
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
export function inbound(page) {
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
export async function offered(page) {
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

export function received(page) {
  return page.evaluate(() => window.harness.events().filter((e) => e.event === 'consumer-track'));
}

// followSpeaker makes the meeting's peer speaker (silent, with a camera the
// page does not show yet) speak, and waits until the page (joined with
// --audio-slots and --last-n; audio: its slot consumers as offered) hears
// it through a slot and receives its video. It throws when either does not
// happen within seconds; else it returns, in ms from the first loud packet:
// told (audioSlot seen), offeredMs (its video's newConsumer), resolvedMs
// (receive() resolved), firstPacketMs (first video packet counted), and
// heard (the slot's inbound-rtp counters then).
export async function followSpeaker(page, meeting, audio, speaker) {
  const before = await inbound(page);
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
  if (!heard) throw new Error(`slot ${slot.data.slot} (ssrc ${slotSsrc}) received no packets of ${speaker}`);
  const cons = await waitFor(page, (name) => window.harness.consumers().find((c) => c.kind === 'video' && c.peer === name && !c.closed), speaker, 10000);
  const vs = (await offered(page)).find((c) => c.id === cons.id).rtpParameters.encodings[0].ssrc;
  let firstPacket;
  for (let end = Date.now() + 10000; Date.now() < end; await sleep(50)) {
    const s = (await inbound(page))[vs];
    if (s && s.packets > 0) { firstPacket = Date.now(); break; }
  }
  if (!firstPacket) throw new Error(`${speaker}'s video offered but no packet received`);
  const ev = await page.evaluate(() => window.harness.events());
  const offeredAt = ev.find((e) => e.event === 'newconsumer' && e.id === cons.id).t;
  const trackAt = ev.find((e) => e.event === 'consumer-track' && e.id === cons.id).t;
  return { told, heard, offeredMs: offeredAt - spoke, resolvedMs: trackAt - spoke, firstPacketMs: firstPacket - spoke };
}

// joinBounded joins the page to room as a spy (it only receives) on a
// server run with --audio-slots 3 --last-n 4, asserts it is offered the
// three slots and four videos only, and waits (10 s at most) until it has
// received them all; it returns { offers, audio, video, allMs }.
export async function joinBounded(page, room) {
  const t0 = Date.now();
  await page.evaluate((r) => window.harness.join(r, 'chrome', { spy: true }), room);
  const offers = await offered(page);
  const audio = offers.filter((c) => c.kind === 'audio');
  const video = offers.filter((c) => c.kind === 'video');
  assert.equal(audio.length, 3, 'audio consumers offered');
  assert.ok(audio.every((c) => c.peerName === 'audio-slots'), 'audio offered through the slots only');
  assert.equal(video.length, 4, 'video consumers offered (last-N)');
  await waitFor(page, (n) => window.harness.events().filter((e) => e.event === 'consumer-track').length >= n, offers.length, 10000);
  const allMs = Math.max(...(await received(page)).map((e) => e.t)) - t0;
  return { offers, audio, video, allMs };
}
