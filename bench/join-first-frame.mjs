// Join -> first decoded frame in Chromium, gosoup vs mediasoup 2.6.19 (docs/benchmarks.md).
//
// Both servers run already: gosoup on GOSOUP (default http://127.0.0.1:3601), which also serves the
// test harness page (web/src/harness.js, the real mediasoup-client 2.4.12), and the reference server
// (mediasoup 2.6.19) on MEDIASOUP (default ws://127.0.0.1:3602/), which the same page reaches through
// its ?server= parameter. Each round opens a fresh room on one server, in turn: alice joins and sends
// the fake camera and microphone, then bob's page joins; the time is from bob's join() call to the
// first frame his receive transport decodes (inbound-rtp framesDecoded > 0, polled every 5 ms in the
// page). It prints every round and the medians, as JSON on the last line.
//
//   node bench/join-first-frame.mjs [rounds per server, default 10]
import { launchBrowser, sleep } from '../e2e/lib.mjs';

const rounds = Number(process.argv[2] || 10);
const gosoup = process.env.GOSOUP || 'http://127.0.0.1:3601';
const servers = {
  gosoup: `${gosoup}/harness.html`,
  mediasoup: `${gosoup}/harness.html?server=${encodeURIComponent(process.env.MEDIASOUP || 'ws://127.0.0.1:3602/')}`
};

async function open(browser, url) {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.harness !== undefined);
  return { context, page };
}

async function round(browser, url, room) {
  const alice = await open(browser, url);
  await alice.page.evaluate((r) => window.harness.join(r, 'alice'), room);
  await alice.page.evaluate(() => window.harness.produce('audio'));
  await alice.page.evaluate(() => window.harness.produce('video'));
  await sleep(2000); // alice's video is flowing
  const bob = await open(browser, url);
  const ms = await bob.page.evaluate(async (r) => {
    const t0 = performance.now();
    await window.harness.join(r, 'bob');
    const joined = performance.now() - t0;
    for (;;) {
      if ((await window.harness.stats()).framesDecoded > 0) return { joined, firstFrame: performance.now() - t0 };
      if (performance.now() - t0 > 20000) return { joined, firstFrame: null };
      await new Promise((res) => setTimeout(res, 5));
    }
  }, room);
  for (const p of [bob, alice]) {
    await p.page.evaluate(() => window.harness.leave()).catch(() => {});
    await p.context.close();
  }
  return ms;
}

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const browser = await launchBrowser();
const results = { gosoup: [], mediasoup: [] };
await round(browser, servers.gosoup, `warmup-${Date.now()}`); // Chromium's first start of media is slower
for (let i = 0; i < rounds; i++) {
  for (const name of Object.keys(servers)) {
    const r = await round(browser, servers[name], `jff-${name}-${i}-${Date.now()}`);
    console.log(`${name} round ${i + 1}: join ${r.joined.toFixed(0)} ms, first frame ${r.firstFrame === null ? 'none' : r.firstFrame.toFixed(0) + ' ms'}`);
    results[name].push(r);
  }
}
await browser.close();
const out = {};
for (const [name, rs] of Object.entries(results)) {
  const ok = rs.filter((r) => r.firstFrame !== null);
  out[name] = { rounds: rs.length, noFrame: rs.length - ok.length, medianJoinMs: median(ok.map((r) => r.joined)), medianFirstFrameMs: median(ok.map((r) => r.firstFrame)), firstFrameMs: ok.map((r) => Math.round(r.firstFrame)) };
}
console.log(JSON.stringify(out));
