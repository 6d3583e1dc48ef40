// Temporal layers under a thin link: bob's link from gosoup is capped below
// alice's high simulcast stream but above its lower temporal layers
// (Chromium's VP8 simulcast streams carry three). gosoup lowers bob's frame
// rate at 1280 px before it lowers his resolution. Prints bob's decoded
// frame rate and width every second, from the cap on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitFor, stats, sleep, simulcastIntoNamespace } from '../lib.mjs';
import { netnsSupport, createNetns } from '../netns.mjs';

test('under a cap between its temporal layers, a receiver keeps the high stream at a lower frame rate', { skip: netnsSupport() || false }, async () => {
  const ns = createNetns(3);
  let server;
  const browsers = [];
  try {
    server = await startServer({ host: ns.hostIP });
    const { alice, bob } = await simulcastIntoNamespace(ns, server, browsers, 'temporal');
    await waitFor(bob, async () => {
      const ev = window.harness.effectiveProfiles();
      return ev.length && ev[ev.length - 1].profile === 'high' && (await window.harness.stats()).frameWidth >= 1000;
    }, null, 40000);
    await sleep(5000);
    const streams = await alice.evaluate(() => window.harness.lastStats()['producer-video']);
    const rates = streams.map((x) => x.bitrate);
    console.log(`stream bitrates (low, medium, high): ${rates.join(', ')} b/s; high's temporal layers cumulated: ${JSON.stringify(streams[2].layerBitrates)}`);
    // 70 % of the high stream: above its two lower temporal layers, below
    // the whole stream; and clearly above the medium stream.
    const cap = Math.round(Math.max(0.7 * rates[2], 1.3 * rates[1]));

    const samples = [];
    let prev = await stats(bob);
    const t0 = Date.now();
    ns.cap(cap);
    while (Date.now() - t0 < 40000) {
      await sleep(1000);
      const s = await stats(bob);
      samples.push({ t: Math.round((Date.now() - t0) / 1000), fps: s.framesDecoded - prev.framesDecoded, width: s.frameWidth });
      prev = s;
    }
    ns.uncap();
    const plis = (await alice.evaluate(() => window.harness.lastStats()['producer-video'])).map((x, i) => x.pliCount - streams[i].pliCount);
    console.log(`cap ${cap} b/s, per second (s: fps@width): ${samples.map((x) => `${x.t}:${x.fps}@${x.width}`).join(' ')}`);
    console.log(`key-frame requests to alice meanwhile (low, medium, high): ${plis.join(', ')}; bob: ${prev.freezeCount} freezes, ${prev.videoLost} packets lost`);
    const late = samples.filter((x) => x.t > 10);
    const wide = late.filter((x) => x.width >= 1000);
    const avg = (xs) => Math.round(xs.reduce((a, x) => a + x.fps, 0) / Math.max(1, xs.length));
    console.log(`after 10 s: ${wide.length}/${late.length} s at >= 1000 px (mean ${avg(wide)} fps), ` +
      `${late.length - wide.length} s narrower (mean ${avg(late.filter((x) => x.width < 1000))} fps)`);
    // At TL0 of a 20 fps camera (5 fps) one late frame empties a second:
    // a stall is two seconds in a row without a frame.
    assert.ok(late.every((x, i) => x.fps > 0 || (i > 0 && late[i - 1].fps > 0)), 'video stalled on the thin link');
    // main (whole streams only) kept none of these seconds at 1280 px; the
    // ladder 10 to 19 of 30 on a loaded machine (docs/benchmarks.md).
    assert.ok(wide.length >= late.length / 5, `kept 1280 px only ${wide.length}/${late.length} s`);
  } finally {
    for (const b of browsers) await b.close().catch(() => {});
    if (server) await server.stop();
    ns.close();
  }
});
