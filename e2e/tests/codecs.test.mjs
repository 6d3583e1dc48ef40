// Rooms with VP9 or H264 as their only video codec decode in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openHarness, waitFor, roomId } from '../lib.mjs';

for (const codec of ['vp9', 'h264']) {
  test(`${codec} room: video decodes`, async (t) => {
    const server = await startServer({ args: ['--video-codecs', codec] });
    const browser = await launchBrowser();
    try {
      const room = roomId(codec);
      const alice = await openHarness(browser, server, 'alice');
      const bob = await openHarness(browser, server, 'bob');
      await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
      let sent;
      try {
        await alice.evaluate(() => window.harness.produce('video'));
        sent = await alice.evaluate(() => window.harness.trace()
          .filter((m) => m.method === 'createProducer' && m.type === 'request')
          .map((m) => m.data.rtpParameters.codecs[0].mimeType));
      } catch (err) {
        if (codec === 'h264' && /unsupported|codec/i.test(String(err))) {
          t.skip(`this Chromium cannot send H264: ${err}`);
          return;
        }
        throw err;
      }
      assert.deepEqual(sent.map((m) => m.toLowerCase()), [`video/${codec}`]);
      await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
      await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 20, null, 30000);
    } finally {
      await browser.close();
      await server.stop();
    }
  });
}
