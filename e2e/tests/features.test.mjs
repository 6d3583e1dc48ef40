// Stats notifications and ICE restart with the real mediasoup-client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openHarness, waitFor, stats, roomId } from '../lib.mjs';

let server;
let browser;
before(async () => { server = await startServer(); browser = await launchBrowser(); });
after(async () => { if (browser) await browser.close(); if (server) await server.stop(); });

async function pair(tag) {
  const room = roomId(tag);
  const alice = await openHarness(browser, server, 'alice');
  const bob = await openHarness(browser, server, 'bob');
  await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
  await alice.evaluate(() => window.harness.produce('audio'));
  await alice.evaluate(() => window.harness.produce('video'));
  await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
  await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 5, null, 30000);
  return { alice, bob };
}

test('stats notifications arrive with non-zero counters', async () => {
  const { alice, bob } = await pair('stats');
  await alice.evaluate(() => window.harness.enableStats(1000));
  await bob.evaluate(() => window.harness.enableStats(1000));
  const a = await waitFor(alice, () => {
    const s = window.harness.lastStats();
    return s['transport-send'] && s['producer-video'] && s['producer-video'][0].bitrate > 0 && s['producer-audio'] ? s : null;
  }, null, 15000);
  const b = await waitFor(bob, () => {
    const s = window.harness.lastStats();
    return s['transport-recv'] && s['consumer-video'] && s['consumer-audio'] ? s : null;
  }, null, 15000);
  const t = a['transport-send'][0];
  assert.equal(t.type, 'transport');
  assert.ok(t.bytesReceived > 0 && t.bytesSent > 0, JSON.stringify(t));
  assert.equal(t.dtlsState, 'connected');
  const pv = a['producer-video'][0];
  assert.equal(pv.type, 'inbound-rtp');
  assert.equal(pv.mimeType, 'video/VP8');
  assert.ok(pv.packetCount > 0 && pv.byteCount > 0 && pv.bitrate > 0, JSON.stringify(pv));
  const [cin, cout] = b['consumer-video'];
  assert.equal(cin.type, 'inbound-rtp');
  assert.equal(cout.type, 'outbound-rtp');
  assert.equal(cout.inboundRtpId, cin.id);
  assert.ok(cout.packetCount > 0 && cout.byteCount > 0, JSON.stringify(cout));
  assert.ok(b['transport-recv'][0].bytesSent > 0);
  await alice.context().close();
  await bob.context().close();
});

test('restartIce keeps media flowing', async () => {
  const { alice, bob } = await pair('ice');
  await alice.evaluate(() => window.harness.restartIce());
  await bob.evaluate(() => window.harness.restartIce());
  const restarts = async (page) => page.evaluate(() => window.harness.trace()
    .filter((m) => m.method === 'restartTransport' && m.type === 'response').length);
  await waitFor(alice, () => window.harness.trace().some((m) => m.method === 'restartTransport' && m.type === 'response'));
  await waitFor(bob, () => window.harness.trace().some((m) => m.method === 'restartTransport' && m.type === 'response'));
  assert.ok(await restarts(alice) >= 1 && await restarts(bob) >= 1);
  // Frames keep rising well after the restart, i.e. on the new credentials.
  await new Promise((r) => setTimeout(r, 3000));
  const before = (await stats(bob)).framesDecoded;
  await waitFor(bob, async (n) => (await window.harness.stats()).framesDecoded > n + 30, before, 15000);
  const state = await alice.evaluate(() => window.harness.iceState());
  assert.equal(state.send, 'connected');
  await alice.context().close();
  await bob.context().close();
});

test('ICE over TCP only: frames decode', async () => {
  const room = roomId('tcp');
  const opts = { roomOptions: { transportOptions: { udp: false, tcp: true } } };
  const alice = await openHarness(browser, server, 'alice');
  const bob = await openHarness(browser, server, 'bob');
  await alice.evaluate(([r, o]) => window.harness.join(r, 'alice', o), [room, opts]);
  await alice.evaluate(() => window.harness.produce('audio'));
  await alice.evaluate(() => window.harness.produce('video'));
  await bob.evaluate(([r, o]) => window.harness.join(r, 'bob', o), [room, opts]);
  await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 10, null, 30000);
  // Every candidate the server offered was TCP, and media came over it.
  const cands = await bob.evaluate(() => window.harness.trace()
    .filter((m) => m.method === 'createTransport' && m.type === 'response')
    .flatMap((m) => m.data.iceCandidates.map((c) => `${c.protocol}/${c.tcpType}`)));
  assert.ok(cands.length > 0 && cands.every((c) => c === 'tcp/passive'), cands.join());
  await bob.evaluate(() => window.harness.enableStats(1000));
  const s = await waitFor(bob, () => window.harness.lastStats()['transport-recv'], null, 10000);
  assert.equal(s[0].iceSelectedTuple.protocol, 'tcp');
  await alice.context().close();
  await bob.context().close();
});
