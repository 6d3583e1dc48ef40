// Simulcast: alice sends with mediasoup-client's `simulcast` option (three
// SSRC encodings low/medium/high); bob switches his preferred profile and
// sees consumerEffectiveProfileChanged follow, with frames still decoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openHarness, waitFor, stats, roomId, waitForLayers, sleep } from '../lib.mjs';



async function lastProfile(bob) {
  const ev = await bob.evaluate(() => window.harness.effectiveProfiles());
  return ev.length ? ev[ev.length - 1].profile : null;
}

test('a receiver switches simulcast profiles and keeps decoding', async () => {
  const server = await startServer();
  const browser = await launchBrowser();
  try {
    const alice = await openHarness(browser, server, 'alice');
    const bob = await openHarness(browser, server, 'bob');
    const room = roomId('sim');
    await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
    await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
    await alice.evaluate(() => window.harness.produce('video', { simulcast: true, width: 1280, height: 720 }));
    console.log(`layer scales: ${JSON.stringify(await alice.evaluate(() => window.harness.scaleSimulcast([4, 2, 1])))}`);
    await alice.evaluate(() => window.harness.enableStats(1000));
    await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 5, null, 30000);

    // The receive-side estimate (REMB) lets Chrome turn on its layers.
    const { layers, ms } = await waitForLayers(alice, 3);
    const tr = await alice.evaluate(() => window.harness.lastStats()['transport-send']);
    console.log(`REMB to alice: ${JSON.stringify(tr && tr[0].localAvailableSendBw)}`);
    console.log(`simulcast layers sending after ${ms} ms: ${JSON.stringify(layers)}`);
    assert.ok(layers.length >= 2, `only ${layers.length} layer(s) active`);

    // Chromium's VP8 simulcast layers carry temporal layers: gosoup reads
    // each packet's TID from the VP8 payload descriptor and reports per
    // stream how many temporal layers it saw and their cumulated bitrates.
    await sleep(2000);
    const streams = await alice.evaluate(() => window.harness.lastStats()['producer-video']);
    const temporal = streams.filter((x) => x.bitrate > 20000).map((x) => ({ temporalLayers: x.temporalLayers, layerBitrates: x.layerBitrates }));
    console.log(`temporal layers per active stream: ${JSON.stringify(temporal)}`);
    for (const x of temporal) {
      assert.ok(x.temporalLayers >= 2, `a simulcast stream without temporal layers: ${JSON.stringify(x)}`);
      const r = x.layerBitrates;
      assert.ok(r.length === Math.min(x.temporalLayers, 4) && r[0] > 0 && r[r.length - 1] > r[0], `layer bitrates ${JSON.stringify(r)}`);
    }

    // Each layer is Chrome-downscaled 4/2/1 from 1280x720: the decoded
    // width tells which stream bob gets.
    const widths = { low: [200, 400], medium: [500, 700], high: [1000, 1400] };
    const top = layers.length >= 3 ? 'high' : 'medium';
    const steps = [['low', 'low'], ['high', top], ['medium', top === 'high' ? 'medium' : 'low'], ['high', top]];
    for (const [want, expect] of steps) {
      const t0 = Date.now();
      const seen = (await bob.evaluate(() => window.harness.effectiveProfiles())).length;
      await bob.evaluate((p) => window.harness.setPreferredProfile(p), want);
      // Every step changes the effective profile: a new notification must come.
      const got = await waitFor(bob, async ([n, e]) => {
        const ev = window.harness.effectiveProfiles();
        return ev.length > n && ev[ev.length - 1].profile === e && e;
      }, [seen, expect], 15000);
      const switched = Date.now() - t0;
      const [lo, hi] = widths[got];
      await waitFor(bob, async (r) => {
        const w = (await window.harness.stats()).frameWidth;
        return w >= r[0] && w <= r[1];
      }, [lo, hi], 10000);
      const before = await stats(bob);
      await sleep(2000);
      const after = await stats(bob);
      console.log(`preferred ${want}: effective ${got} after ${switched} ms; ` +
        `${after.framesDecoded - before.framesDecoded} frames in 2 s at ${after.frameWidth}x${after.frameHeight}, freezes ${after.freezeCount}`);
      assert.ok(after.framesDecoded - before.framesDecoded > 20, `frames stalled after switching to ${got}`);
    }
    const profiles = (await bob.evaluate(() => window.harness.effectiveProfiles())).map((e) => e.profile);
    console.log(`consumerEffectiveProfileChanged sequence: ${profiles.join(' -> ')}`);
    const s = await stats(bob);
    assert.ok(s.freezeCount <= 1, `freezes: ${s.freezeCount}`);
  } finally {
    await browser.close();
    await server.stop();
  }
});
