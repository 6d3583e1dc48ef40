// A thin link: bob's browser runs in a network namespace whose link from
// gosoup is capped with tc tbf below alice's high simulcast layer. gosoup
// reads bob's REMB and receiver reports, moves his consumer to a lower
// profile and tells him (consumerEffectiveProfileChanged); the video keeps
// decoding; when the cap goes, he moves back up. Prints the time from the
// cap to the downgrade, what happened over the next 30 s, and the time
// back to high after the cap is removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openHarness, waitFor, stats, roomId, sleep } from '../lib.mjs';
import { netnsSupport, createNetns } from '../netns.mjs';

const rank = { none: 0, default: 1, low: 2, medium: 3, high: 4 };

async function layerRates(alice) {
  const s = await waitFor(alice, () => window.harness.lastStats()['producer-video'], null, 5000);
  return s.map((x) => x.bitrate);
}

async function effective(bob) {
  const ev = await bob.evaluate(() => window.harness.effectiveProfiles());
  return ev.length ? ev[ev.length - 1].profile : null;
}

test('a receiver whose link is capped below the high layer settles on a lower profile', { skip: netnsSupport() || false }, async () => {
  const ns = createNetns();
  let server;
  const browsers = [];
  try {
    server = await startServer({ host: ns.hostIP });
    // alice needs getUserMedia, so her page on 10.213.x.1 counts as secure.
    const aliceBrowser = await launchBrowser({ args: [`--unsafely-treat-insecure-origin-as-secure=${server.http}`] });
    browsers.push(aliceBrowser);
    const bobBrowser = await launchBrowser({ executablePath: ns.wrapper });
    browsers.push(bobBrowser);
    const alice = await openHarness(aliceBrowser, server, 'alice');
    const bob = await openHarness(bobBrowser, server, 'bob');
    const room = roomId('thin');
    await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
    await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
    await alice.evaluate(() => window.harness.produce('video', { simulcast: true, width: 1280, height: 720 }));
    await alice.evaluate(() => window.harness.scaleSimulcast([4, 2, 1]));
    await alice.evaluate(() => window.harness.enableStats(1000));
    await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 5, null, 30000);

    // Uncapped: bob gets the high layer once alice sends it.
    await waitFor(bob, async () => {
      const ev = window.harness.effectiveProfiles();
      return ev.length && ev[ev.length - 1].profile === 'high' && (await window.harness.stats()).frameWidth >= 1000;
    }, null, 40000);
    await sleep(4000);
    const rates = await layerRates(alice);
    console.log(`layer bitrates before the cap (low, medium, high): ${rates.join(', ')} b/s`);
    assert.ok(rates[2] > rates[1] * 1.5, `high layer (${rates[2]}) not clearly above medium (${rates[1]})`);
    const cap = Math.round((rates[1] + rates[2]) / 2);

    const seen = (await bob.evaluate(() => window.harness.effectiveProfiles())).length;
    const t0 = Date.now();
    ns.cap(cap);
    const timeline = [];
    // After the first downgrade, count how often bob is back on high (the
    // upgrade retries, spaced by the back-off).
    let onHigh = 0;
    let samples = 0;
    let firstDown = null;
    while (Date.now() - t0 < 30000) {
      await sleep(500);
      const p = await effective(bob);
      if (firstDown === null && p !== 'high') firstDown = Date.now() - t0;
      if (firstDown !== null) {
        samples++;
        if (p === 'high') onHigh++;
      }
    }
    const events = (await bob.evaluate(() => window.harness.effectiveProfiles())).slice(seen);
    for (const e of events) timeline.push(`${e.t - t0} ms ${e.profile}`);
    const before = await stats(bob);
    await sleep(3000);
    const after = await stats(bob);
    const final = await effective(bob);
    console.log(`cap ${cap} b/s: first below high after ${firstDown} ms; then on high ${Math.round(100 * onHigh / samples)}% ` +
      `of the time (retries); profile changes: ${timeline.join(', ') || 'none'}; final ${final} at ${after.frameWidth}x${after.frameHeight}, ` +
      `${after.framesDecoded - before.framesDecoded} frames in 3 s`);
    assert.ok(firstDown !== null, 'never left the high profile');
    assert.ok(rank[final] < rank.high && rank[final] >= rank.low, `final profile ${final}`);
    assert.ok(onHigh / samples < 0.3, `back on high ${onHigh}/${samples} samples after the first downgrade`);
    assert.ok(after.framesDecoded - before.framesDecoded > 15, 'video stalled on the thin link');

    // The link recovers: after a passing probe (RTX padding at the extra
    // rate) bob moves back up, within the back-off of the failed probes.
    const t1 = Date.now();
    ns.uncap();
    await waitFor(bob, async () => {
      const ev = window.harness.effectiveProfiles();
      return ev.length && ev[ev.length - 1].profile === 'high';
    }, null, 90000);
    console.log(`link restored: back on high after ${Date.now() - t1} ms`);
  } finally {
    for (const b of browsers) await b.close().catch(() => {});
    if (server) await server.stop();
    ns.close();
  }
});
