// --transport-cc: the room offers transport-wide-cc, Chrome negotiates
// transport-cc for its producers and runs its own congestion control on
// gosoup's feedback (gosoup then sends REMB only for a cap). Audio is
// produced first: with video first, mediasoup-client 2.4.12's answer
// collides with Chrome's extension ids (docs/protocol.md, "transport-cc is opt-in").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openHarness, waitFor, roomId, sleep } from '../lib.mjs';

const TCC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';

// sender has alice send to bob through a server started with args and
// resolves Chrome's send estimate: 8 s after bob decodes, or, with grow,
// the first one above grow within 20 s (Chrome's ramp-up varies with the
// machine's load), with the time it took.
async function sender(args, grow = 0) {
  const server = await startServer({ args });
  const browser = await launchBrowser();
  try {
    const alice = await openHarness(browser, server, 'alice');
    const bob = await openHarness(browser, server, 'bob');
    const room = roomId('tcc');
    await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
    await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
    await alice.evaluate(() => window.harness.produce('audio', { width: 1280, height: 720 }));
    await alice.evaluate(() => window.harness.produce('video', { width: 1280, height: 720 }));
    const params = await alice.evaluate(() => window.harness.producerParameters('video'));
    await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 5, null, 30000);
    const t0 = Date.now();
    await sleep(8000);
    let bw = await alice.evaluate(() => window.harness.sendBandwidth());
    while (grow && bw <= grow && Date.now() - t0 < 20000) {
      await sleep(500);
      bw = await alice.evaluate(() => window.harness.sendBandwidth());
    }
    const after = Date.now() - t0;
    return {
      negotiated: params.headerExtensions.some((e) => e.uri === TCC) &&
        params.codecs[0].rtcpFeedback.some((f) => f.type === 'transport-cc'),
      bw,
      after
    };
  } finally {
    await browser.close();
    await server.stop();
  }
}

test('Chrome sends with transport-cc feedback and still obeys the REMB cap', async () => {
  const free = await sender(['--transport-cc'], 1_000_000);
  const capped = await sender(['--transport-cc', '--max-incoming-bitrate', '250000']);
  console.log(`transport-cc: Chrome's send estimate: free ${free.bw} b/s after ${free.after} ms, ` +
    `capped at 250 kb/s ${capped.bw} b/s after ${capped.after} ms`);
  assert.ok(free.negotiated && capped.negotiated, 'transport-cc not negotiated');
  // Chrome starts at 300 kb/s and only leaves it on feedback it can use.
  assert.ok(free.bw > 1_000_000, `estimate ${free.bw} did not grow on transport-cc feedback`);
  assert.ok(capped.bw <= 260_000, `cap not honoured: ${capped.bw}`);
});
