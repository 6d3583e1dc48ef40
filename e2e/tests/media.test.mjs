import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openHarness, waitFor, stats, events, roomId, aliceSendsToBob } from '../lib.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function framesRising(page, timeout = 20000) {
  const first = (await stats(page)).framesDecoded;
  await waitFor(page, async (n) => (await window.harness.stats()).framesDecoded > n + 10, first, timeout);
}

test('bob decodes alice\'s camera and receives her microphone', async () => {
  const room = roomId('media');
  const alice = await openHarness(browser, server, 'alice');
  const bob = await openHarness(browser, server, 'bob');
  await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
  await alice.evaluate(() => window.harness.produce('audio'));
  await alice.evaluate(() => window.harness.produce('video'));

  const t0 = Date.now();
  const peers = await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
  assert.deepEqual(peers, ['alice']);
  await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 0, null, 30000);
  const joinToFrame = Date.now() - t0;
  console.log(`join->first frame: ${joinToFrame} ms`);
  await framesRising(bob);
  await waitFor(bob, async () => (await window.harness.stats()).audioPackets > 20, null, 20000);
  // decoded audio: the receiver's jitter buffer produces samples
  await waitFor(bob, async () => (await window.harness.stats()).audioSamples > 4800, null, 20000);
  const ev = await events(bob);
  assert.ok(ev.some((e) => e.event === 'effectiveprofile' && e.profile === 'default'), 'effective profile notified');
  await alice.context().close();
  await bob.context().close();
});

test('pause, resume, close and leave reach the other peer', async () => {
  const room = roomId('pause');
  const { alice, bob } = await aliceSendsToBob(browser, server, room);

  await alice.evaluate(() => window.harness.pauseProducer('video'));
  await waitFor(bob, () => window.harness.consumers().some((c) => c.kind === 'video' && c.paused));
  const ev = await events(bob);
  assert.ok(ev.some((e) => e.event === 'consumer-pause' && e.kind === 'video' && e.originator === 'remote'));

  await alice.evaluate(() => window.harness.resumeProducer('video'));
  await waitFor(bob, () => window.harness.consumers().some((c) => c.kind === 'video' && !c.paused));
  await framesRising(bob);

  await alice.evaluate(() => window.harness.closeProducer('video'));
  await waitFor(bob, () => window.harness.consumers().some((c) => c.kind === 'video' && c.closed));
  // audio keeps flowing after the video producer closed
  const before = (await stats(bob)).audioPackets;
  await waitFor(bob, async (n) => (await window.harness.stats()).audioPackets > n + 20, before);

  await alice.evaluate(() => window.harness.leave());
  await waitFor(bob, () => window.harness.events().some((e) => e.event === 'peer-close' && e.name === 'alice'));
  await alice.context().close();
  await bob.context().close();
});

test('video before audio: both producers work in current Chromium', async () => {
  const room = roomId('vfirst');
  const alice = await openHarness(browser, server, 'alice');
  const bob = await openHarness(browser, server, 'bob');
  await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
  await alice.evaluate(() => window.harness.produce('video'));
  await alice.evaluate(() => window.harness.produce('audio'));
  await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
  await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 10, null, 30000);
  await waitFor(bob, async () => (await window.harness.stats()).audioPackets > 20, null, 20000);
  await alice.context().close();
  await bob.context().close();
});
