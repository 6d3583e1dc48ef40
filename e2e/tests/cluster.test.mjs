// Several nodes on one Redis (--redis): three real gosoup processes, a
// redis-server of the test's own, Chromium alice on node 1 and bob on
// node 2. Bob decodes alice's camera, gets the notifications of the
// two-peer session in the same order as on a single server, and when
// node 1 is killed (SIGKILL) bob sees alice leave within 5 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repo, launchBrowser, openHarness, waitFor, roomId, serverEnv, startServer, sleep } from '../lib.mjs';
import { startRedis, startNode, newClusterSecret } from '../cluster.mjs';

let dir;
let bin;
let redis;
let redisURL;
// The nodes' shared --cluster-secret (required with --redis).
const clusterSecret = newClusterSecret();
let nodes = [];
let single;
let browser;

// startClusterNode runs one node of this test's cluster.
const startClusterNode = (id) => startNode(bin, id, { redisURL, secret: clusterSecret });

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gosoup-cluster-'));
  bin = path.join(dir, 'gosoup');
  execFileSync('go', ['build', '-o', bin, './cmd/gosoup'], { cwd: repo, stdio: 'inherit' });
  redis = await startRedis(dir);
  redisURL = redis.url;
  for (const id of ['n1', 'n2', 'n3']) nodes.push(await startClusterNode(id));
  single = await startServer(); // the reference: one server, no Redis
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  for (const n of nodes) if (n.proc.exitCode === null) n.proc.kill('SIGKILL');
  if (single) await single.stop();
  if (redis) redis.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// notificationMethods returns the mediasoup notifications a page received,
// in order: stats notifications left out, and the effective-profile ones
// too (they follow the media's timing, not the session's steps); those are
// counted apart. A consumerClosed of the microphone right before alice's
// peerClosed is left out as well: mediasoup-client sends "leave" and then
// closes its transports, and when the DTLS close alert (UDP) overtakes the
// leave (WebSocket) the server closes her transport first, so bob may get
// it or not, on one server as on several.
async function notificationMethods(page) {
  const trace = await page.evaluate(() => window.harness.trace());
  const kinds = Object.fromEntries((await page.evaluate(() => window.harness.consumers())).map((c) => [c.id, c.kind]));
  const notes = trace.filter((m) => m.dir === 'in' && m.type === 'notification' && !m.method.endsWith('Stats'));
  const methods = notes.filter((m, i) => !(m.method === 'consumerClosed' && kinds[m.data.id] === 'audio' &&
    notes[i + 1] && notes[i + 1].method === 'peerClosed')).map((m) => m.method);
  return {
    methods: methods.filter((m) => m !== 'consumerEffectiveProfileChanged'),
    profileChanges: methods.filter((m) => m === 'consumerEffectiveProfileChanged').length
  };
}

// twoPeers runs the two-peer session, alice's page served by a and bob's
// by b, and returns bob's notification methods.
async function twoPeers(a, b, room) {
  const alice = await openHarness(browser, a, 'alice');
  const bob = await openHarness(browser, b, 'bob');
  await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
  const peers = await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
  assert.deepEqual(peers, ['alice'], 'bob\'s join lists alice');
  await alice.evaluate(() => window.harness.produce('audio'));
  await alice.evaluate(() => window.harness.produce('video'));
  await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 30, null, 30000);

  await alice.evaluate(() => window.harness.pauseProducer('video'));
  await waitFor(bob, () => window.harness.consumers().some((c) => c.kind === 'video' && c.paused));
  await alice.evaluate(() => window.harness.resumeProducer('video'));
  await waitFor(bob, () => window.harness.consumers().some((c) => c.kind === 'video' && !c.paused));
  await alice.evaluate(() => window.harness.closeProducer('video'));
  await waitFor(bob, () => window.harness.consumers().some((c) => c.kind === 'video' && c.closed));
  await alice.evaluate(() => window.harness.leave());
  await waitFor(bob, () => window.harness.events().some((e) => e.event === 'peer-close' && e.name === 'alice'));
  await sleep(300); // anything extra would show
  const methods = await notificationMethods(bob);
  await alice.context().close();
  await bob.context().close();
  return methods;
}

test('alice on node 1, bob on node 2: media and the notifications of one server', async () => {
  const want = await twoPeers(single, single, roomId('one'));
  const got = await twoPeers(nodes[0], nodes[1], roomId('cluster'));
  console.log(`bob's notifications: ${got.methods.join(' ')} (+${got.profileChanges} consumerEffectiveProfileChanged)`);
  assert.deepEqual(got.methods, want.methods, 'same notifications, same order as on one server');
  assert.ok(got.profileChanges > 0 && want.profileChanges > 0, 'effective profiles notified');
});

test('gosoup cluster status lists the three nodes', () => {
  const out = execFileSync(bin, ['cluster', 'status', '--redis', redisURL],
    { env: serverEnv({ GOSOUP_CLUSTER_SECRET: clusterSecret }), encoding: 'utf8' });
  for (const n of nodes) assert.match(out, new RegExp(`^${n.id}\\s+${n.ws}/`, 'm'), out);
});

test('node 1 killed: bob on node 2 sees alice leave within 5 s', async () => {
  const room = roomId('kill');
  const alice = await openHarness(browser, nodes[0], 'alice');
  const bob = await openHarness(browser, nodes[1], 'bob');
  await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
  await alice.evaluate(() => window.harness.produce('video'));
  await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
  await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 10, null, 30000);
  const killed = Date.now();
  nodes[0].proc.kill('SIGKILL');
  await waitFor(bob, () => window.harness.events().some((e) => e.event === 'peer-close' && e.name === 'alice'), null, 10000);
  const took = Date.now() - killed;
  console.log(`node 1 killed: bob saw alice leave after ${took} ms`);
  assert.ok(took <= 5000, `peerClosed after ${took} ms`);
  await alice.context().close();
  await bob.context().close();
});
