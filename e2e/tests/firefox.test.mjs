// Firefox, as mediasoup 2.6.19 served it: Debian's firefox-esr running the
// unmodified mediasoup-client 2.4.12 (its Firefox65 handler, Unified Plan,
// RID simulcast), with Chromium on the other side or Firefox on both. The
// server and both browsers run in a network namespace of the test's own
// (Firefox uses no loopback address for media); see ../firefox.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openHarness, waitFor, stats, events, roomId, artifacts, ensureArtifacts, waitForLayers, sleep } from '../lib.mjs';
import {
  firefoxSupport, createFirefoxNet, startServerIn, launchChromiumIn, launchFirefoxIn, closeFirefox,
  openFirefoxPage, openFirefoxHarness
} from '../firefox.mjs';

const why = firefoxSupport();

let net;
let server;
let firefox;
let chromium;

before(async () => {
  if (why) return;
  net = createFirefoxNet();
  server = await startServerIn(net);
  firefox = await launchFirefoxIn(net);
  chromium = await launchChromiumIn(net, server);
  console.log(`firefox: ${await firefox.version()}; server ${server.http} in namespace ${net.ns}`);
});

after(async () => {
  if (firefox) await closeFirefox(firefox);
  if (chromium) await chromium.close().catch(() => {});
  if (server) await server.stop();
  if (net) net.close();
});

// closePage closes a page's context, Firefox (puppeteer) or Chromium (playwright).
async function closePage(page) {
  if (typeof page.browserContext === 'function') await page.browserContext().close().catch(() => {});
  else await page.context().close().catch(() => {});
}

async function framesRising(page, timeout = 20000) {
  const first = (await stats(page)).framesDecoded;
  await waitFor(page, async (n) => (await window.harness.stats()).framesDecoded > n + 10, first, timeout);
}

// receives waits until page decodes video frames and plays audio; it
// prints what it took.
async function receives(page, label, t0) {
  await waitFor(page, async () => (await window.harness.stats()).framesDecoded > 0, null, 30000);
  const first = Date.now() - t0;
  await framesRising(page);
  await waitFor(page, async () => (await window.harness.stats()).audioPackets > 20, null, 20000);
  // decoded audio: the receiver's jitter buffer produces samples
  await waitFor(page, async () => (await window.harness.stats()).audioSamples > 4800, null, 20000);
  await sleep(2000);
  const s = await stats(page);
  console.log(`${label}: first frame after ${first} ms; ${s.framesDecoded} frames decoded at ` +
    `${s.frameWidth}x${s.frameHeight}, ${s.audioPackets} audio packets, ${s.audioSamples} audio samples`);
  const ev = await events(page);
  assert.ok(ev.some((e) => e.event === 'effectiveprofile' && e.profile === 'default'), 'effective profile notified');
  return s;
}

const skip = why || false;

test('Chromium sends camera and microphone, Firefox decodes and plays them', { skip }, async () => {
  const room = roomId('cr2ff');
  const alice = await openHarness(chromium, server, 'alice');
  const bob = await openFirefoxHarness(firefox, server, 'bob');
  try {
    const device = await bob.evaluate(() => window.harness.device());
    assert.equal(device.flag, 'firefox', `mediasoup-client device ${JSON.stringify(device)}`);
    await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
    await alice.evaluate(() => window.harness.produce('audio'));
    await alice.evaluate(() => window.harness.produce('video'));
    const t0 = Date.now();
    assert.deepEqual(await bob.evaluate((r) => window.harness.join(r, 'bob'), room), ['alice']);
    const s = await receives(bob, 'Chromium -> Firefox', t0);
    assert.ok(s.framesDecoded > 30, `Firefox decoded ${s.framesDecoded} frames`);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

test('Firefox sends camera and microphone (no simulcast), Chromium decodes and plays them', { skip }, async () => {
  const room = roomId('ff2cr');
  const alice = await openFirefoxHarness(firefox, server, 'alice');
  const bob = await openHarness(chromium, server, 'bob');
  try {
    await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
    await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
    const t0 = Date.now();
    await alice.evaluate(() => window.harness.produce('audio'));
    await alice.evaluate(() => window.harness.produce('video'));
    const params = await alice.evaluate(() => window.harness.producerParameters('video'));
    assert.ok(params.encodings.length === 1 && params.encodings[0].ssrc, `video encodings ${JSON.stringify(params.encodings)}`);
    const s = await receives(bob, 'Firefox -> Chromium', t0);
    assert.ok(s.framesDecoded > 30, `Chromium decoded ${s.framesDecoded} frames`);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

test('Firefox to Firefox: both send camera and microphone, both decode', { skip }, async () => {
  const room = roomId('ff2ff');
  const alice = await openFirefoxHarness(firefox, server, 'alice');
  const bob = await openFirefoxHarness(firefox, server, 'bob');
  try {
    await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
    await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
    const t0 = Date.now();
    for (const page of [alice, bob]) {
      await page.evaluate(() => window.harness.produce('audio'));
      await page.evaluate(() => window.harness.produce('video'));
    }
    const got = await Promise.all([bob, alice].map((page, i) =>
      receives(page, `Firefox -> Firefox (${i ? 'alice' : 'bob'} receives)`, t0)));
    for (const [i, s] of got.entries()) assert.ok(s.framesDecoded > 30, `${i ? 'alice' : 'bob'} decoded ${s.framesDecoded} frames`);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

// remotePlaying waits until a remote tile of the demo page shows a playing video.
function remotePlaying(page) {
  return waitFor(page, () => [...document.querySelectorAll('.tile:not(.me) video')]
    .some((v) => v.videoWidth > 0 && v.currentTime > 0.5) &&
    [...document.querySelectorAll('.tile:not(.me) video')].map((v) => `${v.videoWidth}x${v.videoHeight}`).join(','),
  null, 30000);
}

test('demo page in Firefox with a Chromium peer: each sees the other', { skip }, async () => {
  const room = roomId('ffdemo');
  const alice = await openFirefoxPage(firefox, `${server.http}/?roomId=${room}`, 'alice');
  await alice.setViewport({ width: 1100, height: 520 });
  const context = await chromium.newContext({ permissions: ['camera', 'microphone'], viewport: { width: 1100, height: 520 } });
  const bob = await context.newPage();
  bob.on('pageerror', (err) => console.log(`[bob] page error: ${err.message}`));
  try {
    await alice.$eval('#name', (e) => { e.value = 'Alice'; });
    await alice.click('#join');
    await bob.goto(`${server.http}/?roomId=${room}`);
    await bob.fill('#name', 'Bob');
    await bob.click('#join');
    const inFirefox = await remotePlaying(alice);
    const inChromium = await remotePlaying(bob);
    console.log(`demo: Firefox plays Bob's video at ${inFirefox}, Chromium plays Alice's at ${inChromium}`);
    const names = await alice.$$eval('.tile figcaption', (els) => els.map((e) => e.textContent));
    assert.ok(names.includes('Bob') && names.includes('Alice (you)'), `Firefox tiles: ${names}`);
    ensureArtifacts();
    const file = path.join(artifacts, 'firefox-demo.png');
    await alice.screenshot({ path: file });
    console.log(`screenshot: ${file}`);
    // Camera off in Firefox shows as "camera off" in Chromium.
    await alice.click('#cam');
    await bob.waitForSelector('.tile.paused-video:not(.me)', { timeout: 10000 });
    await alice.click('#cam');
    await bob.waitForFunction(() => !document.querySelector('.tile.paused-video:not(.me)'), null, { timeout: 10000 });
  } finally {
    await closePage(alice);
    await context.close().catch(() => {});
  }
});


test('Firefox simulcast (RID) to Chromium: each profile in turn, the decoded size follows', { skip }, async () => {
  const room = roomId('ffsim');
  const alice = await openFirefoxHarness(firefox, server, 'alice');
  const bob = await openHarness(chromium, server, 'bob');
  try {
    await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
    await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
    // Firefox's fake camera feeds its encoder 640x480 whatever the
    // constraints, so ask for that size.
    await alice.evaluate(() => window.harness.produce('video', { simulcast: true, width: 640, height: 480 }));
    const params = await alice.evaluate(() => window.harness.producerParameters('video'));
    console.log(`Firefox simulcast encodings: ${JSON.stringify(params.encodings)}`);
    assert.deepEqual(params.encodings.map((e) => e.profile), ['high', 'medium', 'low']);
    // mediasoup-client's Firefox65 handler adds the RID encodings high,
    // medium, low (in that order) with no scaleResolutionDownBy: Firefox
    // sends all three at full size. Scale them as an app would.
    console.log(`layer scales: ${JSON.stringify(await alice.evaluate(() => window.harness.scaleSimulcast([1, 2, 4])))}`);
    await alice.evaluate(() => window.harness.enableStats(1000));
    await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 5, null, 30000);

    const { layers, ms } = await waitForLayers(alice, 3);
    console.log(`simulcast layers sending after ${ms} ms: ${JSON.stringify(layers)}`);
    assert.ok(layers.length >= 2, `only ${layers.length} layer(s) active`);

    const widths = { low: [120, 200], medium: [280, 360], high: [600, 700] };
    const top = layers.length >= 3 ? 'high' : 'medium';
    const steps = [['low', 'low'], ['high', top], ['medium', top === 'high' ? 'medium' : 'low'], ['high', top]];
    const times = [];
    for (const [want, expect] of steps) {
      const seen = (await bob.evaluate(() => window.harness.effectiveProfiles())).length;
      const t0 = await bob.evaluate((p) => { window.harness.setPreferredProfile(p); return Date.now(); }, want);
      // Every step changes the effective profile: a new notification must come.
      const ev = await waitFor(bob, ([n, e]) => {
        const all = window.harness.effectiveProfiles();
        const last = all[all.length - 1];
        return all.length > n && last.profile === e && last;
      }, [seen, expect], 15000);
      const [lo, hi] = widths[ev.profile];
      const sized = await waitFor(bob, async (r) => {
        const w = (await window.harness.stats()).frameWidth;
        return w >= r[0] && w <= r[1] && Date.now();
      }, [lo, hi], 10000);
      const before = await stats(bob);
      await sleep(2000);
      const after = await stats(bob);
      const frames = after.framesDecoded - before.framesDecoded;
      times.push({ want, effective: ev.profile, event: ev.t - t0, size: sized - t0 });
      console.log(`preferred ${want}: consumerEffectiveProfileChanged ${ev.profile} after ${ev.t - t0} ms, ` +
        `decoded size ${after.frameWidth}x${after.frameHeight} after ${sized - t0} ms; ` +
        `${frames} frames in 2 s, freezes ${after.freezeCount}`);
      assert.ok(frames > 20, `frames stalled after switching to ${ev.profile}`);
    }
    const profiles = (await bob.evaluate(() => window.harness.effectiveProfiles())).map((e) => e.profile);
    console.log(`consumerEffectiveProfileChanged sequence: ${profiles.join(' -> ')}`);
    console.log(`profile switch times (ms, to event / to decoded size): ${times.map((t) => `${t.want} ${t.event}/${t.size}`).join(', ')}`);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});
