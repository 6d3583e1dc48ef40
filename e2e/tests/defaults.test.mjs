// The README's run command uses the server's default flags (media socket on
// 0.0.0.0:40000, every local address announced, page on 127.0.0.1:3443).
// This test runs the server exactly so, with no flag at all, on a host
// whose interface has two addresses (network namespaces of its own), and
// joins two Chromiums: alice on that host (page on 127.0.0.1, as a newcomer
// tries the demo) and bob on another host that can reach the server only
// through its second address, which is not the first one announced. Both
// decode each other; the ICE answers must leave from the address each
// browser sent to.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repo, launchBrowser, waitFor, roomId, serverEnv } from '../lib.mjs';
import { netnsSupport, createTwoAddressNet } from '../netns.mjs';

const why = netnsSupport();
let net;
let server;
let forwarder;
let dir;
const browsers = [];

// The server listens on 127.0.0.1:3443 (its default) inside its namespace;
// a TCP forwarder there lets the other host open the page on the second
// address, as a reverse proxy would.
const forwarderJs = (host) => `require('net').createServer((c) => {
  const u = require('net').connect(3443, '127.0.0.1');
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
}).listen(3443, '${host}');`;

function reachable(ns, url) {
  const js = `fetch(${JSON.stringify(url)}).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
  return spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js]).status === 0;
}

before(async () => {
  if (why) return;
  net = createTwoAddressNet();
  dir = mkdtempSync(path.join(tmpdir(), 'gosoup-defaults-'));
  const bin = path.join(dir, 'gosoup');
  execFileSync('go', ['build', '-o', bin, './cmd/gosoup'], { cwd: repo, stdio: 'inherit' });
  server = net.spawnIn(net.server, [bin], { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'], env: serverEnv() });
  forwarder = net.spawnIn(net.server, [process.execPath, '-e', forwarderJs(net.second)], { stdio: 'inherit' });
  const end = Date.now() + 30000;
  while (!reachable(net.client, `http://${net.second}:3443/healthz`)) {
    if (Date.now() > end) throw new Error('server not reachable in its namespace');
    await new Promise((r) => setTimeout(r, 250));
  }
});

after(async () => {
  for (const b of browsers) await b.close().catch(() => {});
  for (const p of [forwarder, server]) {
    if (!p) continue;
    p.kill('SIGTERM');
    await new Promise((r) => { p.once('exit', r); setTimeout(r, 5000); });
  }
  if (net) net.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function harnessIn(ns, origin, name) {
  const browser = await launchBrowser({
    executablePath: net.wrapper(ns),
    args: [`--unsafely-treat-insecure-origin-as-secure=${origin}`]
  });
  browsers.push(browser);
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`[${name}] page error: ${err.message}`));
  await page.goto(`${origin}/harness.html`);
  await page.waitForFunction(() => window.harness !== undefined);
  return page;
}

test('default flags on a host with two addresses: both browsers decode', { skip: why || false }, async () => {
  const room = roomId('defaults');
  const alice = await harnessIn(net.server, 'http://127.0.0.1:3443', 'alice');
  const bob = await harnessIn(net.client, `http://${net.second}:3443`, 'bob');
  await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
  await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
  for (const page of [alice, bob]) {
    await page.evaluate(() => window.harness.produce('audio'));
    await page.evaluate(() => window.harness.produce('video'));
  }
  for (const [name, page] of [['alice', alice], ['bob', bob]]) {
    await waitFor(page, async () => (await window.harness.stats()).framesDecoded > 30, null, 30000)
      .catch(async (err) => {
        for (const [n, p] of [['alice', alice], ['bob', bob]]) {
          console.log(n, JSON.stringify(await p.evaluate(async () => ({
            ice: window.harness.iceState(), selected: await window.harness.selectedRemotes(), stats: await window.harness.stats()
          }))));
        }
        throw new Error(`${name} decodes no video: ${err.message}`);
      });
  }
  // What the server announced: every address of the host, the first
  // interface address first, loopback last.
  const trace = await bob.evaluate(() => window.harness.trace());
  const created = trace.find((m) => m.dir === 'in' && m.type === 'response' && m.method === 'createTransport');
  const ips = created.data.iceCandidates.map((c) => c.ip);
  console.log(`announced: ${ips.join(', ')}`);
  assert.equal(ips[0], net.first, 'first announced address');
  assert.ok(ips.includes(net.second) && ips.includes('127.0.0.1'), `announced ${ips}`);
  // bob reached the server through its second address only.
  const selected = await bob.evaluate(() => window.harness.selectedRemotes());
  console.log(`bob's selected server addresses: ${JSON.stringify(selected)}`);
  assert.equal(selected.send.address, net.second);
  assert.equal(selected.recv.address, net.second);
  assert.equal(selected.recv.port, 40000);
});
