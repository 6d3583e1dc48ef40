// --max-incoming-bitrate caps what a browser sends (REMB), as mediasoup's
// transport.setMaxBitrate().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openHarness, waitFor, roomId } from '../lib.mjs';

async function sendBitrate(args) {
  const server = await startServer({ args });
  const browser = await launchBrowser();
  try {
    const alice = await openHarness(browser, server, 'alice');
    await alice.evaluate((r) => window.harness.join(r, 'alice'), roomId('bw'));
    await alice.evaluate(() => window.harness.produce('video'));
    await alice.evaluate(() => window.harness.enableStats(1000));
    await new Promise((r) => setTimeout(r, 12000));
    const s = await waitFor(alice, () => window.harness.lastStats()['producer-video'], null, 5000);
    const t = await waitFor(alice, () => window.harness.lastStats()['transport-send'], null, 5000);
    return { bitrate: s[0].bitrate, localAvailableSendBw: t[0].localAvailableSendBw || null };
  } finally {
    await browser.close();
    await server.stop();
  }
}

test('a 60 kb/s cap holds the sender below it', async () => {
  const capped = await sendBitrate(['--max-incoming-bitrate', '60000']);
  const free = await sendBitrate([]);
  console.log(`video send bitrate after 12 s: capped at 60 kb/s ${capped.bitrate} b/s, uncapped ${free.bitrate} b/s`);
  assert.ok(capped.bitrate > 0 && capped.bitrate < 80000, JSON.stringify(capped));
  assert.equal(capped.localAvailableSendBw.maxBitrate, 60000);
  assert.ok(free.bitrate > capped.bitrate * 1.5, `uncapped ${free.bitrate} vs capped ${capped.bitrate}`);
});
