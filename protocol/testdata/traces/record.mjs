// Records the mediasoup messages mediasoup-client 2.4.12 sends from
// Chromium and Firefox (harness trace()) to the gosoup of this tree, for
// TestTracesPassValidation. Needs what e2e/tests/firefox.test.mjs needs
// (root, ip, firefox-esr, chromium). Run from e2e/:
//   node ../protocol/testdata/traces/record.mjs ../protocol/testdata/traces
import { writeFileSync, mkdirSync } from 'node:fs';
import { openHarness, waitFor, roomId, sleep } from '../../../e2e/lib.mjs';
import { firefoxSupport, createFirefoxNet, startServerIn, launchChromiumIn, launchFirefoxIn, closeFirefox, openFirefoxHarness } from '../../../e2e/firefox.mjs';

const out = process.argv[2];
mkdirSync(out, { recursive: true });
const why = firefoxSupport();
if (why) { console.log('no firefox:', why); process.exit(1); }
const net = createFirefoxNet();
let server, firefox, chromium;
const pages = [];
async function open(kind, name) {
  const p = kind === 'ff' ? await openFirefoxHarness(firefox, server, name) : await openHarness(chromium, server, name);
  pages.push(p);
  return p;
}
async function save(file, named) {
  const lines = [];
  for (const [name, page] of Object.entries(named)) {
    const device = await page.evaluate(() => window.harness.device());
    for (const e of await page.evaluate(() => window.harness.trace())) {
      if (e.dir === 'out' || (e.type === 'response' && e.method === 'queryRoom')) {
        lines.push(JSON.stringify({ page: name, browser: `${device.name} ${device.version}`, ...e }));
      }
    }
  }
  writeFileSync(`${out}/${file}`, lines.join('\n') + '\n');
  console.log(`${file}: ${lines.length} messages`);
}
async function frames(page) {
  await waitFor(page, async () => (await window.harness.stats()).framesDecoded > 5, null, 30000);
}
try {
  server = await startServerIn(net);
  firefox = await launchFirefoxIn(net);
  chromium = await launchChromiumIn(net, server);
  const sessions = [
    ['chromium-simulcast.jsonl', 'cr', 'cr', true],
    ['firefox-simulcast-to-chromium.jsonl', 'ff', 'cr', true],
    ['chromium-to-firefox.jsonl', 'cr', 'ff', false],
    ['firefox-to-firefox.jsonl', 'ff', 'ff', false],
  ];
  for (const [file, a, b, simulcast] of sessions) {
    const room = roomId('rec');
    const alice = await open(a, 'alice');
    const bob = await open(b, 'bob');
    await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
    await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
    await alice.evaluate(() => window.harness.produce('audio'));
    await alice.evaluate((s) => window.harness.produce('video', s ? { simulcast: true, width: 640, height: 480 } : {}), simulcast);
    if (!simulcast) {
      await bob.evaluate(() => window.harness.produce('audio'));
      await bob.evaluate(() => window.harness.produce('video'));
      await frames(alice);
    }
    await frames(bob);
    await bob.evaluate(() => window.harness.setPreferredProfile('low'));
    await alice.evaluate(() => window.harness.enableStats(1000));
    await bob.evaluate(() => window.harness.enableStats(1500));
    await sleep(1500);
    await alice.evaluate(() => window.harness.restartIce());
    await sleep(1500);
    await alice.evaluate(() => window.harness.pauseProducer('video'));
    await sleep(300);
    await alice.evaluate(() => window.harness.resumeProducer('video'));
    await sleep(300);
    await alice.evaluate(() => window.harness.closeProducer('video'));
    await sleep(300);
    await alice.evaluate(() => window.harness.leave());
    await sleep(300);
    await bob.evaluate(() => window.harness.leave());
    await sleep(300);
    await save(file, { alice, bob });
    const errs = [];
    for (const p of [alice, bob]) for (const e of await p.evaluate(() => window.harness.trace())) if (e.type === 'error') errs.push(e);
    if (errs.length) console.log('ERRORS', JSON.stringify(errs));
  }
} finally {
  for (const p of pages) {
    if (typeof p.browserContext === 'function') await p.browserContext().close().catch(() => {});
    else await p.context().close().catch(() => {});
  }
  if (firefox) await closeFirefox(firefox);
  if (chromium) await chromium.close().catch(() => {});
  if (server) await server.stop();
  net.close();
}
