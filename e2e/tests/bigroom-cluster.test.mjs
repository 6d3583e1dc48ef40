// A big room spread over three nodes on one Redis, with --audio-slots 3
// --last-n 4 on every node: pion meeting peers join the nodes in turn
// (peer i on node i mod 3), a Chromium mediasoup-client page joins node 1.
// The page is offered the slots and the last-N videos only, and a silent
// peer of another node that starts speaking is heard through a slot and
// its video follows, as on one node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, roomId } from '../lib.mjs';
import { startRedis, startNode, newClusterSecret } from '../cluster.mjs';
import { buildLoad, startMeeting, openPage, joinBounded, followSpeaker } from '../meeting.mjs';

const PEERS = 60;
const VIDEO = 9;
const name = (i) => `pion-${String(i).padStart(3, '0')}`;

let bins;
let redis;
let browser;
const nodes = [];
before(async () => {
  bins = buildLoad({ server: true });
  redis = await startRedis(process.env.TMPDIR || '/tmp');
  const secret = newClusterSecret();
  for (const id of ['n1', 'n2', 'n3']) {
    nodes.push(await startNode(bins.serverBin, id, { redisURL: redis.url, secret, args: ['--audio-slots', '3', '--last-n', '4'] }));
  }
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  for (const n of nodes) if (n.proc.exitCode === null) n.proc.kill('SIGKILL');
  if (redis) redis.stop();
  if (bins) bins.cleanup();
});

test('three nodes with --audio-slots 3 --last-n 4: a speaker on another node is heard through a slot and seen', async () => {
  const room = roomId('bigcluster');
  const meeting = await startMeeting(bins.loadBin, nodes.map((n) => n.ws).join(','), room, { peers: PEERS, video: VIDEO });
  try {
    assert.equal(meeting.ready.joined, PEERS);
    const page = await openPage(browser, nodes[0], 'chrome');
    const { audio, video, offers, allMs } = await joinBounded(page, room);
    console.log(`join on node 1 → all ${offers.length} consumers received: ${allMs} ms`);

    // A camera not shown yet, of a peer on node 2 or 3.
    const shown = new Set(video.map((c) => c.peerName));
    const i = Array.from({ length: VIDEO }, (_, k) => k).find((k) => k % 3 !== 0 && !shown.has(name(k)));
    assert.ok(i !== undefined, `no camera of nodes 2-3 left to show: ${[...shown]}`);
    const f = await followSpeaker(page, meeting, audio, name(i));
    console.log(`${name(i)} (node ${1 + (i % 3)}) speaks → audioSlot ≤ ${f.told} ms, slot packets ${f.heard.packets}; ` +
      `video offered ${f.offeredMs} ms, first packet ≤ ${f.firstPacketMs} ms`);
    const open = (await page.evaluate(() => window.harness.consumers())).filter((c) => c.kind === 'video' && !c.closed);
    assert.equal(open.length, 4, `open video consumers: ${open.map((c) => c.peer)}`);
  } finally {
    await meeting.stop();
  }
});
