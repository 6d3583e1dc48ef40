// 5 % of the media packets toward the browsers are dropped by a relay:
// with retransmission video keeps decoding and NACKs are answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openHarness, waitFor, stats, roomId, freeUdpPort, startLossRelay } from '../lib.mjs';

async function lossyRun(args) {
  const rtcPort = await freeUdpPort();
  const relay = await startLossRelay(rtcPort, 0.05, 7);
  const server = await startServer({ rtcPort, args: ['--announced-port', String(relay.port), '--no-tcp', ...args] });
  const browser = await launchBrowser();
  try {
    const room = roomId('loss');
    const alice = await openHarness(browser, server, 'alice');
    const bob = await openHarness(browser, server, 'bob');
    await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
    await alice.evaluate(() => window.harness.produce('video'));
    await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
    await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 5, null, 30000);
    await bob.evaluate(() => window.harness.enableStats(1000));
    const s0 = await stats(bob);
    await new Promise((r) => setTimeout(r, 10000));
    const s1 = await stats(bob);
    const server1 = await bob.evaluate(() => window.harness.lastStats()['consumer-video']);
    const metrics = await (await fetch(`${server.http}/metrics`)).text();
    const metric = (name) => Number((metrics.match(new RegExp(`^${name} (\\S+)$`, 'm')) || [])[1] || 0);
    return {
      metricRetransmitted: metric('gosoup_rtp_retransmitted_packets_total'),
      frames: s1.framesDecoded - s0.framesDecoded,
      freezes: s1.freezeCount - s0.freezeCount,
      freezeSeconds: +(s1.freezeSeconds - s0.freezeSeconds).toFixed(2),
      nacksSent: s1.nackCount - s0.nackCount,
      lostAfterRepair: s1.videoLost - s0.videoLost,
      dropped: relay.stats.dropped,
      repairedByServer: server1 ? server1[1].packetsRepaired : 0
    };
  } finally {
    await browser.close();
    await server.stop();
    relay.close();
  }
}

test('5 % loss: retransmission keeps video decoding', async () => {
  const withRtx = await lossyRun([]);
  console.log(`5% loss, with retransmission (10 s): ${JSON.stringify(withRtx)}`);
  const without = await lossyRun(['--no-retransmission']);
  console.log(`5% loss, without retransmission (10 s): ${JSON.stringify(without)}`);
  assert.ok(withRtx.dropped > 5, `relay dropped ${withRtx.dropped}`);
  assert.ok(withRtx.frames > 150, `frames decoded ${withRtx.frames}`);
  assert.ok(withRtx.nacksSent > 0 && withRtx.repairedByServer > 0, JSON.stringify(withRtx));
  assert.equal(without.repairedByServer, 0);
  assert.ok(withRtx.metricRetransmitted >= withRtx.repairedByServer, `metrics: ${withRtx.metricRetransmitted}`);
  assert.equal(without.metricRetransmitted, 0);
});
