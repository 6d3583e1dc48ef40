// Quality under impairment, gosoup vs mediasoup 2.6.19 (docs/benchmarks.md,
// "Quality under impairment"). Run as root through scripts/bench-impair.sh,
// which builds gosoup and prepares the reference server.
//
// Chromium alice (publisher: fake camera and microphone, with or without
// simulcast) and Chromium bob (subscriber), unmodified mediasoup-client
// 2.4.12 on web/src/harness.html, each in a network namespace of its own
// (e2e/netns.mjs). Both servers run on the host; their media goes through a
// user-space relay (relay.mjs) on the subscriber namespace's host address,
// which both announce. The impairment of a cell applies to both paths (alice
// ↔ server and server ↔ bob), both ways:
//
//   loss2 loss5 loss10  random UDP loss (iptables statistic)
//   burst               every ~2 s (1–3 s), 200 ms of total loss (relay)
//   rtt100              50 ± 15 ms each way (relay): 100 ms RTT ± 30 ms
//   cap1m cap300k       UDP capped at 1 Mb/s / 300 kb/s (tc htb)
//   outage              all UDP dropped for 5 s, a third into the window
//
// Per run: alice and bob join a fresh room, alice sends audio and video
// (the fake camera at --size, 1280x720 by default, so that the caps bite;
// simulcast: scaled [4, 2, 1]), bob decodes; after an unimpaired
// warm-up the impairment starts and bob's inbound-rtp stats are read over
// the window. Servers alternate within every cell (same machine load).
// Results: one JSON line per run on stdout and in $OUT/results.jsonl, then
// a Markdown table.
//
//   node bench/impair/run.mjs --gosoup-bin B --refserver JS [--cells a,b] [--modes single,simulcast]
//        [--servers gosoup,mediasoup] [--runs N] [--seconds S] [--warmup S] [--size WxH]
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, waitFor, sleep, freePort, repo, serverEnv, trackPeerConnections, rtcSummary } from '../../e2e/lib.mjs';
import { createNetns, netnsSupport } from '../../e2e/netns.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const cellsWanted = arg('cells', 'loss10,loss2,loss5,burst,rtt100,cap1m,cap300k,outage').split(',');
const modes = arg('modes', 'simulcast,single').split(',');
const serverNames = arg('servers', 'gosoup,mediasoup').split(',');
const runs = Number(arg('runs', 1));
const seconds = Number(arg('seconds', 30));
const warmup = Number(arg('warmup', 8));
// The camera's size: at 640x360 Chromium's fake camera needs only 200-300
// kb/s in all, under even the 300 kb/s cap; at 1280x720 it sends 1-2.5 Mb/s.
const [camWidth, camHeight] = arg('size', '1280x720').split('x').map(Number);
const trace = process.argv.includes('--trace'); // once a second on stderr: alice's estimate, bob's width and frames
const out = process.env.OUT || '/tmp/impair';
mkdirSync(out, { recursive: true });

const why = netnsSupport(['ip', 'tc', 'iptables']);
if (why) { console.error(`bench-impair: ${why}`); process.exit(2); }

// Each cell: apply(nets, relay) starts the impairment; outage cells are timed by the run.
const cells = {
  loss2: { apply: (n) => n.forEach((x) => x.dropUDP(0.02)) },
  loss5: { apply: (n) => n.forEach((x) => x.dropUDP(0.05)) },
  loss10: { apply: (n) => n.forEach((x) => x.dropUDP(0.10)) },
  burst: { apply: (n, r) => r.impair({ burst: { everyMs: 2000, lenMs: 200 } }) },
  rtt100: { apply: (n, r) => r.impair({ delayMs: 50, jitterMs: 15 }) },
  cap1m: { apply: (n) => n.forEach((x) => x.capUDP(1e6)) },
  cap300k: { apply: (n) => n.forEach((x) => x.capUDP(3e5)) },
  outage: { outage: 5 }
};
const clear = (nets, relay) => { for (const x of nets) { x.dropUDP(0); x.capUDP(0); } relay.impair({}); };

const pub = createNetns(0);
const sub = createNetns(1);
const nets = [pub, sub];
const procs = [];
const browsers = [];
let relay;

function startProc(name, cmd, args, env, ready) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: serverEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    procs.push(p);
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${buf.slice(-400)}`)), 30000);
    if (!ready) resolve(p);
    const onData = (d) => {
      if (name === 'gosoup') appendFileSync(path.join(out, 'gosoup.log'), d);
      buf = (buf + d).slice(-4000);
      if (!ready) return;
      if (ready.test(buf)) { clearTimeout(timer); resolve(p); }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.once('exit', (code) => ready && reject(new Error(`${name} exited (${code}): ${buf.slice(-400)}`)));
  });
}

async function openPage(browser, url, name) {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  await trackPeerConnections(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${name}] page error: ${err.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.harness !== undefined);
  return { context, page };
}

async function oneRun(server, cellName, mode, runIndex) {
  const cell = cells[cellName];
  const room = `impair-${cellName}-${mode}-${runIndex}-${Date.now()}`;
  const alice = await openPage(browsers[0], server.url, 'alice');
  const bob = await openPage(browsers[1], server.url, 'bob');
  try {
    await alice.page.evaluate((r) => window.harness.join(r, 'alice'), room);
    await bob.page.evaluate((r) => window.harness.join(r, 'bob'), room);
    // The harness opens the camera and microphone together on the first call: the size goes there.
    await alice.page.evaluate(([width, height]) => window.harness.produce('audio', { width, height }), [camWidth, camHeight]);
    await alice.page.evaluate(([sim, width, height]) => window.harness.produce('video', { simulcast: sim, width, height }),
      [mode === 'simulcast', camWidth, camHeight]);
    if (mode === 'simulcast') await alice.page.evaluate(() => window.harness.scaleSimulcast([4, 2, 1]));
    await waitFor(bob.page, async () => (await window.harness.stats()).framesDecoded > 5, null, 30000);
    if (trace) await alice.page.evaluate(() => window.harness.enableStats(1000));
    await sleep(warmup * 1000);
    if (trace) console.error(`  ${server.name} before: alice bwe ${Math.round(await alice.page.evaluate(() => window.harness.sendBandwidth()) / 1000)} kb/s`);
    const a0 = await alice.page.evaluate(rtcSummary);
    const s0 = await bob.page.evaluate(rtcSummary);
    const profiles0 = (await bob.page.evaluate(() => window.harness.effectiveProfiles())).length;
    const t0 = Date.now();
    if (cell.apply) cell.apply(nets, relay);
    let prev = s0;
    let wFrames = 0;
    let wSum = 0;
    let recoverMs = null;
    const outageAt = t0 + seconds * 1000 / 3;
    const outageEnd = outageAt + (cell.outage || 0) * 1000;
    let outageState = cell.outage ? 'before' : 'none';
    let framesAtEnd = 0;
    while (Date.now() - t0 < seconds * 1000) {
      const step = outageState === 'after' ? 100 : 1000;
      const wait = Math.min(step, t0 + seconds * 1000 - Date.now());
      const now = Date.now();
      if (outageState === 'before' && now + wait >= outageAt) {
        await sleep(Math.max(0, outageAt - now));
        for (const x of nets) x.dropUDP(1);
        outageState = 'during';
        continue;
      }
      if (outageState === 'during' && now + wait >= outageEnd) {
        await sleep(Math.max(0, outageEnd - now));
        for (const x of nets) x.dropUDP(0);
        framesAtEnd = (await bob.page.evaluate(rtcSummary)).frames;
        outageState = 'after';
        continue;
      }
      await sleep(Math.max(0, wait));
      const s = await bob.page.evaluate(rtcSummary);
      if (trace) {
        const bw = await alice.page.evaluate(() => window.harness.sendBandwidth());
        const prof = await bob.page.evaluate(() => { const ev = window.harness.effectiveProfiles(); return ev.length ? ev[ev.length - 1].profile : '-'; });
        const remb = await alice.page.evaluate(() => {
          const t = window.harness.lastStats()['transport-send'];
          const x = t && (Array.isArray(t) ? t[0] : t);
          return x && x.localAvailableSendBw ? Math.round(x.localAvailableSendBw.bitrate / 1000) : null;
        });
        console.error(`  ${server.name} t=${((Date.now() - t0) / 1000).toFixed(1)} alice bwe ${Math.round(bw / 1000)} kb/s (server REMB ${remb}), bob width ${s.width}, frames ${s.frames - s0.frames}, freeze ${(s.freezeSec - s0.freezeSec).toFixed(1)} s, ` +
          `lost ${s.lost - s0.lost}, nacks ${s.nack - s0.nack}, plis ${s.pli - s0.pli}, key frames ${s.keyFrames - s0.keyFrames}, profile ${prof}`);
      }
      if (outageState === 'after' && recoverMs === null && s.frames > framesAtEnd + 1) recoverMs = Date.now() - outageEnd;
      if (outageState !== 'after' || Date.now() - prev.t >= 1000 || !prev.t) {
        const df = s.frames - prev.frames;
        wFrames += df;
        wSum += df * s.width;
        prev = { ...s, t: Date.now() };
      }
    }
    const s1 = await bob.page.evaluate(rtcSummary);
    const a1 = await alice.page.evaluate(rtcSummary);
    const aliceBwe = await alice.page.evaluate(() => window.harness.sendBandwidth());
    const dur = (Date.now() - t0) / 1000;
    clear(nets, relay);
    const profiles = (await bob.page.evaluate(() => window.harness.effectiveProfiles())).slice(profiles0).map((p) => p.profile);
    // alice's video layers, lowest first: kb/s sent over the window.
    const sentKbps = Object.entries(a1.out).sort((x, y) => x[1].width - y[1].width)
      .map(([id, o]) => Math.round(((o.bytes - ((a0.out[id] || {}).bytes || 0)) * 8) / dur / 1000));
    const samples = s1.samples - s0.samples;
    return {
      server: server.name, cell: cellName, mode, run: runIndex, seconds: +dur.toFixed(1),
      freezes: s1.freezeCount - s0.freezeCount,
      freezeSec: +(s1.freezeSec - s0.freezeSec).toFixed(2),
      fps: +((s1.frames - s0.frames) / dur).toFixed(1),
      width: wFrames ? Math.round(wSum / wFrames) : 0,
      concealedPct: samples > 0 ? +((100 * (s1.concealed - s0.concealed)) / samples).toFixed(1) : null,
      recoverMs: cell.outage ? recoverMs : undefined,
      lost: s1.lost - s0.lost, nacks: s1.nack - s0.nack, plis: s1.pli - s0.pli, keyFrames: s1.keyFrames - s0.keyFrames,
      profileChanges: profiles.length, profiles: profiles.slice(0, 12).join(' '),
      aliceSentKbps: sentKbps, aliceSentTotalKbps: sentKbps.reduce((a, b) => a + b, 0), aliceBweKbps: Math.round(aliceBwe / 1000),
      // the loss the server reported to alice over the window (its receiver reports)
      aliceReportedLossPct: a1.sentPackets > a0.sentPackets ? +((100 * ((a1.remoteLost || 0) - (a0.remoteLost || 0))) / (a1.sentPackets - a0.sentPackets)).toFixed(1) : null
    };
  } finally {
    clear(nets, relay);
    await bob.context.close().catch(() => {});
    await alice.context.close().catch(() => {});
  }
}

function fmt(rows, key, digits = 1) {
  const v = rows.map((r) => r[key]).filter((x) => x !== null && x !== undefined);
  if (!v.length) return '–';
  const f = (x) => (digits ? x.toFixed(digits) : String(Math.round(x)));
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  return lo === hi ? f(lo) : `${f(lo)}–${f(hi)}`;
}

async function main() {
  const gosoupBin = arg('gosoup-bin');
  const refJs = arg('refserver');
  for (const x of nets) x.defaultRoute();
  const S = pub.hostIP;
  const R = sub.hostIP;
  const httpPort = await freePort();
  const gPort = 43000 + (process.pid % 1000);
  const mMin = gPort + 1000;
  const ports = [gPort];
  for (let p = mMin; p < mMin + 40; p++) ports.push(p);
  // The relay runs in a process of its own: this one blocks while it runs
  // iptables and tc, which would stall the packets.
  const relayProc = await startProc('relay', 'node', [path.join(repo, 'bench', 'impair', 'relay.mjs'), R, S, ...ports.map(String)], {}, /READY/);
  relay = {
    impair: (settings = {}) => relayProc.stdin.write(`${JSON.stringify(settings)}\n`),
    close: () => relayProc.stdin.end()
  };
  const servers = {};
  { // gosoup always runs: it also serves the harness page
    startProc('gosoup', gosoupBin, ['--listen', `${S}:${httpPort}`, '--web', path.join(repo, 'web', 'dist'),
      '--rtc-listen-ip', S, '--rtc-port', String(gPort), '--announced-ip', R, '--no-tcp', '--log-level', arg('gosoup-log', 'warn')],
    {}, null).catch((e) => console.error(String(e)));
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      try { up = (await fetch(`http://${S}:${httpPort}/healthz`)).ok; } catch { await sleep(200); }
    }
    if (!up) throw new Error('gosoup did not answer /healthz');
    servers.gosoup = { name: 'gosoup', url: `http://${S}:${httpPort}/harness.html` };
  }
  if (serverNames.includes('mediasoup')) {
    const wsPort = await freePort();
    await startProc('mediasoup', 'node', [refJs, '--port', String(wsPort), '--rtc-min-port', String(mMin), '--rtc-max-port', String(mMin + 39)],
      { REF_HOST: S, REF_ANNOUNCED_IP: R }, /LISTENING/);
    servers.mediasoup = { name: 'mediasoup', url: `http://${S}:${httpPort}/harness.html?server=${encodeURIComponent(`ws://${S}:${wsPort}/`)}` };
  }
  const secure = [`--unsafely-treat-insecure-origin-as-secure=http://${S}:${httpPort}`];
  browsers.push(await launchBrowser({ executablePath: pub.wrapper, args: secure }));
  browsers.push(await launchBrowser({ executablePath: sub.wrapper, args: secure }));
  const results = [];
  const order = serverNames.filter((n) => servers[n]);
  let flip = false;
  for (const cellName of cellsWanted) {
    if (!cells[cellName]) throw new Error(`unknown cell ${cellName}`);
    for (const mode of modes) {
      for (let r = 0; r < runs; r++) {
        const seq = flip ? [...order].reverse() : order;
        flip = !flip;
        for (const name of seq) {
          let res;
          try {
            res = await oneRun(servers[name], cellName, mode, r);
          } catch (err) {
            res = { server: name, cell: cellName, mode, run: r, error: String(err.message || err).slice(0, 300) };
          }
          console.log(JSON.stringify(res));
          appendFileSync(path.join(out, 'results.jsonl'), JSON.stringify({ at: new Date().toISOString(), ...res }) + '\n');
          results.push(res);
        }
      }
    }
  }
  console.log(`\n${runs} run(s) of ${seconds} s per server and cell; ranges are min–max over runs\n`);
  console.log('| cell | publisher | server | freezes | frozen s | decoded fps | width px | audio concealed % | recovery ms | alice sent kb/s |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const cellName of cellsWanted) {
    for (const mode of modes) {
      for (const name of order) {
        const rows = results.filter((x) => x.cell === cellName && x.mode === mode && x.server === name && !x.error);
        if (!rows.length) { console.log(`| ${cellName} | ${mode} | ${name} | error | | | | | | |`); continue; }
        console.log(`| ${cellName} | ${mode} | ${name} | ${fmt(rows, 'freezes', 0)} | ${fmt(rows, 'freezeSec', 1)} | ${fmt(rows, 'fps', 1)} | ` +
          `${fmt(rows, 'width', 0)} | ${fmt(rows, 'concealedPct', 1)} | ${cellName === 'outage' ? fmt(rows, 'recoverMs', 0) : ''} | ${fmt(rows, 'aliceSentTotalKbps', 0)} |`);
      }
    }
  }
}

async function cleanup() {
  for (const b of browsers) await b.close().catch(() => {});
  for (const p of procs) p.kill('SIGTERM');
  if (relay) relay.close();
  for (const x of nets) x.close();
}
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => cleanup().finally(() => process.exit(130)));

try {
  await main();
} finally {
  await cleanup();
}
