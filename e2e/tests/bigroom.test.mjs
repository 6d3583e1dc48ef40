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
import { startServer, launchBrowser, roomId, waitFor, sleep } from '../lib.mjs';
import { buildLoad, startMeeting, openPage, offered, joinBounded, followSpeaker } from '../meeting.mjs';

const PEERS = Number(process.env.BIGROOM_PEERS || 300);
const VIDEO = 6;

let browser;
let bins;
before(async () => {
  bins = buildLoad();
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (bins) bins.cleanup();
});

test(`with --audio-slots 3 --last-n 4, a Chromium peer in a room of ${PEERS} gets 7 consumers at once and follows the speaker`, async () => {
  const server = await startServer({ args: ['--audio-slots', '3', '--last-n', '4'] });
  const room = roomId('bigroom');
  let meeting;
  try {
    meeting = await startMeeting(bins.loadBin, server.ws, room, { peers: PEERS, video: VIDEO });
    console.log(`meeting: ${meeting.ready.joined} peers joined in ${meeting.ready.elapsedMs} ms (join p50 ${meeting.ready.joinP50Ms} ms, p95 ${meeting.ready.joinP95Ms} ms)`);
    assert.equal(meeting.ready.joined, PEERS);
    const page = await openPage(browser, server, 'chrome');
    const { offers, audio, video, allMs: all } = await joinBounded(page, room);
    console.log(`join → all ${offers.length} consumers received: ${all} ms`);
    assert.ok(all < 5000, `all consumers received after ${all} ms`);

    // A silent peer with a camera not shown yet starts speaking.
    const shown = new Set(video.map((c) => c.peerName));
    const speaker = Array.from({ length: VIDEO }, (_, i) => `pion-${String(i).padStart(3, '0')}`).find((n) => !shown.has(n));
    assert.ok(speaker, `every camera offered: ${[...shown]}`);
    const traceAt = (await page.evaluate(() => window.harness.trace())).length;
    const f = await followSpeaker(page, meeting, audio, speaker);
    console.log(`${speaker} speaks → audioSlot seen by the page: ≤ ${f.told} ms; slot packets ${f.heard.packets}, energy ${f.heard.energy.toFixed(4)}`);
    console.log(`${speaker} speaks → video offered ${f.offeredMs} ms, receive() resolved ${f.resolvedMs} ms (renegotiation ${f.resolvedMs - f.offeredMs} ms), first packet ≤ ${f.firstPacketMs} ms`);
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
    meeting = await startMeeting(bins.loadBin, server.ws, room, { peers: PEERS, video: VIDEO });
    assert.equal(meeting.ready.joined, PEERS);
    const page = await openPage(browser, server, 'chrome');
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
    const pub = await openPage(browser, server, 'pub');
    const sub = await openPage(browser, server, 'sub');
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
