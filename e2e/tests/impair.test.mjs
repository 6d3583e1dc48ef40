// Quality under 10 % random loss (the regression cell of docs/benchmarks.md,
// "Quality under impairment"): alice (simulcast) and bob each run Chromium
// in a network namespace of their own; iptables drops 10 % of the UDP
// packets both ways on both paths. Over 20 s bob's video must keep decoding
// at a usable rate with few seconds frozen. Loose bounds: the machine is
// shared and loss is random; the bench measures the figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openHarness, waitFor, stats, roomId, sleep } from '../lib.mjs';
import { netnsSupport, createNetns } from '../netns.mjs';

const seconds = 20;

test('10 % loss on both paths with simulcast: video keeps decoding, few seconds frozen',
  { skip: netnsSupport(['ip', 'tc', 'iptables']) || false }, async () => {
    const pub = createNetns(0);
    const sub = createNetns(1);
    let server;
    const browsers = [];
    try {
      pub.defaultRoute();
      sub.defaultRoute();
      server = await startServer({ host: pub.hostIP, args: ['--no-tcp'] });
      const secure = [`--unsafely-treat-insecure-origin-as-secure=${server.http}`];
      browsers.push(await launchBrowser({ executablePath: pub.wrapper, args: secure }));
      browsers.push(await launchBrowser({ executablePath: sub.wrapper, args: secure }));
      const alice = await openHarness(browsers[0], server, 'alice');
      const bob = await openHarness(browsers[1], server, 'bob');
      const room = roomId('impair');
      await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
      await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
      await alice.evaluate(() => window.harness.produce('audio'));
      await alice.evaluate(() => window.harness.produce('video', { simulcast: true }));
      await alice.evaluate(() => window.harness.scaleSimulcast([4, 2, 1]));
      await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 5, null, 30000);
      await sleep(5000);
      const s0 = await stats(bob);
      pub.dropUDP(0.1);
      sub.dropUDP(0.1);
      const t0 = Date.now();
      await sleep(seconds * 1000);
      const s1 = await stats(bob);
      const dur = (Date.now() - t0) / 1000;
      pub.dropUDP(0);
      sub.dropUDP(0);
      const r = {
        fps: +((s1.framesDecoded - s0.framesDecoded) / dur).toFixed(1),
        freezes: s1.freezeCount - s0.freezeCount,
        freezeSeconds: +(s1.freezeSeconds - s0.freezeSeconds).toFixed(2),
        lost: s1.videoLost - s0.videoLost,
        nacks: s1.nackCount - s0.nackCount,
        width: s1.frameWidth
      };
      console.log(`10% loss both paths, simulcast, ${seconds} s: ${JSON.stringify(r)}`);
      assert.ok(r.nacks > 0, `bob sent no NACK: was there loss? ${JSON.stringify(r)}`);
      assert.ok(r.fps > 5, `decoded ${r.fps} fps`);
      assert.ok(r.freezeSeconds < 8, `frozen ${r.freezeSeconds} s of ${seconds}`);
    } finally {
      for (const b of browsers) await b.close().catch(() => {});
      if (server) await server.stop();
      pub.close();
      sub.close();
    }
  });
