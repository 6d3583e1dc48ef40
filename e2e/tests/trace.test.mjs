// Compares every mediasoup message of a two-peer session with the
// reference trace recorded from mediasoup 2.6.19: same keys and JSON types
// (header extension lists and opaque appData aside).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repo, startServer, launchBrowser, waitFor, roomId, aliceSendsToBob } from '../lib.mjs';

const referencePath = path.resolve(repo, 'internal', 'tracetest', 'traces', 'trace-ref-vp8.jsonl');

// shape describes a JSON value by keys and types; arrays by the set of
// their elements' shapes.
function shape(v, key = '') {
  if (key === 'headerExtensions' || key === 'appData') return 'skipped';
  if (v === null) return 'null';
  if (Array.isArray(v)) return [...new Set(v.map((x) => JSON.stringify(shape(x))))].sort();
  if (typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = shape(v[k], k);
    return out;
  }
  return typeof v;
}

let server;
let browser;
before(async () => { server = await startServer(); browser = await launchBrowser(); });
after(async () => { if (browser) await browser.close(); if (server) await server.stop(); });

test('message shapes match the mediasoup 2.6.19 reference trace', async () => {
  const reference = readFileSync(referencePath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const room = roomId('trace');
  const { alice, bob } = await aliceSendsToBob(browser, server, room);
  await waitFor(bob, () => window.harness.events().filter((e) => e.event === 'effectiveprofile').length >= 2);
  await alice.evaluate(() => window.harness.pauseProducer('video'));
  await waitFor(bob, () => window.harness.consumers().some((c) => c.kind === 'video' && c.paused));
  await alice.evaluate(() => window.harness.resumeProducer('video'));
  await waitFor(bob, () => window.harness.consumers().some((c) => c.kind === 'video' && !c.paused));
  await alice.evaluate(() => window.harness.closeProducer('video'));
  await waitFor(bob, () => window.harness.consumers().some((c) => c.kind === 'video' && c.closed));
  await alice.evaluate(() => window.harness.leave());
  await waitFor(bob, () => window.harness.events().some((e) => e.event === 'peer-close'));
  await bob.evaluate(() => window.harness.leave());
  await new Promise((r) => setTimeout(r, 300));

  const ours = { alice: await alice.evaluate(() => window.harness.trace()), bob: await bob.evaluate(() => window.harness.trace()) };
  const compared = new Set();
  for (const ref of reference) {
    const key = `${ref.page} ${ref.dir} ${ref.type} ${ref.method}`;
    if (compared.has(key)) continue;
    compared.add(key);
    const mine = ours[ref.page].filter((m) => m.dir === ref.dir && m.type === ref.type && m.method === ref.method);
    assert.ok(mine.length > 0, `gosoup session has no "${key}"`);
    const refShapes = new Set(reference.filter((r) => `${r.page} ${r.dir} ${r.type} ${r.method}` === key).map((r) => JSON.stringify(shape(r.data))));
    const myShapes = new Set(mine.map((m) => JSON.stringify(shape(m.data))));
    for (const s of myShapes) {
      assert.ok(refShapes.has(s), `"${key}" shape differs:\n gosoup:    ${s}\n reference: ${[...refShapes].join('\n            ')}`);
    }
  }
  console.log(`compared ${compared.size} kinds of message against ${path.basename(referencePath)}`);
  await alice.context().close();
  await bob.context().close();
});
