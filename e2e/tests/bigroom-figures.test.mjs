// Big-room figures for docs/benchmarks.md (run by hand: BIGROOM_MEASURE=1;
// skipped otherwise). For each size in BIGROOM_SIZES (default 300,1000),
// with and without --audio-slots 3 --last-n 4 (BIGROOM_MODES, default
// on,off), on one node or on BIGROOM_NODES=3 nodes sharing a Redis (meeting
// peer i on node i mod 3): the meeting's join latencies, each node's CPU
// while the peers join and in the steady room, and its RSS; then a
// Chromium mediasoup-client page (a spy) joins node 1: consumers offered,
// time until it received them all (given up after 60 s), the packets and
// bits per second it then receives (5 s of inbound-rtp), and the signaling
// bytes of its join. BIGROOM_LISTEN=1: the meeting peers listen too (each
// receives what it is offered), and each row adds their consumers and what
// one of them received per second over the steady 10 s.
import { test, before, after } from 'node:test';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { launchBrowser, roomId, waitFor, sleep, startServer } from '../lib.mjs';
import { startRedis, startNode, newClusterSecret } from '../cluster.mjs';
import { buildLoad, startMeeting, openPage, offered, received } from '../meeting.mjs';

const measure = !!process.env.BIGROOM_MEASURE;
const NODES = Number(process.env.BIGROOM_NODES || 1);
const tick = measure ? Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) : 100;

// procSample reads a process's CPU seconds so far and its RSS (MiB).
function procSample(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rss = Number((readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m) || [0, 0])[1]) / 1024;
  return { cpu: (Number(f[11]) + Number(f[12])) / tick, rss };
}

// inboundTotals sums the page's inbound-rtp packets and bytes (payload and
// header).
function inboundTotals(page) {
  return page.evaluate(async () => {
    let packets = 0;
    let bytes = 0;
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp') { packets += s.packetsReceived || 0; bytes += (s.bytesReceived || 0) + (s.headerBytesReceived || 0); }
      });
    }
    return { packets, bytes };
  });
}

// startServers starts one node, or NODES nodes on a fresh Redis; it
// returns { nodes: [{ws, http, pid}], stop }.
async function startServers(bins, args) {
  args = [...args, '--max-peers-per-room', '5000'];
  if (NODES === 1) {
    const s = await startServer({ args });
    return { nodes: [s], stop: () => s.stop() };
  }
  const redis = await startRedis(process.env.TMPDIR || '/tmp');
  const secret = newClusterSecret();
  const nodes = [];
  try {
    for (let i = 1; i <= NODES; i++) {
      const n = await startNode(bins.serverBin, `n${i}`, { redisURL: redis.url, secret, args });
      nodes.push({ ...n, pid: n.proc.pid });
    }
  } catch (err) {
    for (const n of nodes) n.proc.kill('SIGKILL');
    redis.stop();
    throw err;
  }
  return {
    nodes,
    stop: async () => {
      for (const n of nodes) {
        n.proc.kill('SIGTERM');
        await new Promise((r) => { n.proc.once('exit', r); setTimeout(r, 5000); });
      }
      redis.stop();
    }
  };
}

let bins;
let browser;
before(async () => {
  if (!measure) return;
  bins = buildLoad({ server: true });
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (bins) bins.cleanup();
});

test('big-room figures', { skip: !measure, timeout: 3600000 }, async () => {
  const sizes = (process.env.BIGROOM_SIZES || '300,1000').split(',').map(Number);
  const modes = (process.env.BIGROOM_MODES || 'on,off').split(',');
  // BIGROOM_LISTEN=1: every meeting peer also receives what it is offered
  // (gosoup-load --meeting-listen), as the "everyone listening".
  const listen = process.env.BIGROOM_LISTEN === '1';
  const rows = [];
  for (const size of sizes) {
    for (const args of [['--audio-slots', '3', '--last-n', '4'], []].filter((a) => modes.includes(a.length ? 'on' : 'off'))) {
      const servers = await startServers(bins, args);
      const { nodes } = servers;
      let meeting;
      try {
        const room = roomId('figures');
        const s0 = nodes.map((n) => procSample(n.pid));
        meeting = await startMeeting(bins.loadBin, nodes.map((n) => n.ws).join(','), room,
          { peers: size, args: ['--meeting-concurrency', '32', ...(listen ? ['--meeting-listen'] : [])] });
        const s1 = nodes.map((n) => procSample(n.pid));
        const t1 = Date.now();
        if (listen) await meeting.sample(); // starts the window of what the meeting peers receive
        await sleep(10000);
        const s2 = nodes.map((n) => procSample(n.pid));
        const heard = listen ? await meeting.sample() : null;
        const steadyS = (Date.now() - t1) / 1000;
        const page = await openPage(browser, nodes[0], 'chrome');
        const t0 = Date.now();
        await page.evaluate((r) => window.harness.join(r, 'chrome', { spy: true }), room);
        const offers = await offered(page);
        let all = null;
        try {
          await waitFor(page, (n) => window.harness.events().filter((e) => e.event === 'consumer-track').length >= n, offers.length, 60000);
          all = Math.max(...(await received(page)).map((e) => e.t)) - t0;
        } catch { /* reported as not all received */ }
        const got = (await received(page)).length;
        const bytes = await page.evaluate((t) => window.harness.trace().filter((m) => m.dir === 'in')
          .reduce((n, m) => n + JSON.stringify(m.data).length, 0), t0);
        const joinBytes = await page.evaluate(() => JSON.stringify(window.harness.trace().find((m) => m.method === 'join' && m.type === 'response').data).length);
        const i0 = await inboundTotals(page);
        await sleep(5000);
        const i1 = await inboundTotals(page);
        const row = {
          nodes: nodes.length, peers: size, settings: args.length ? 'slots 3, last-n 4' : 'off', joined: meeting.ready.joined,
          joinP50Ms: meeting.ready.joinP50Ms, joinP95Ms: meeting.ready.joinP95Ms, rampMs: meeting.ready.elapsedMs,
          cpuJoinS: s1.map((s, k) => +(s.cpu - s0[k].cpu).toFixed(1)),
          steadyCpuPct: s2.map((s, k) => Math.round(100 * (s.cpu - s1[k].cpu) / steadyS)),
          rssMiB: s2.map((s) => Math.round(s.rss)),
          offered: offers.length, allReceivedMs: all, received: got, joinResponseBytes: joinBytes, signalingBytes: bytes,
          chromePktPerS: Math.round((i1.packets - i0.packets) / 5), chromeKbps: Math.round(8 * (i1.bytes - i0.bytes) / 5 / 1000),
          ...(heard ? { peerConsumers: heard.consumers, perPeerPktPerS: Math.round(heard.perPeerPacketsPerS), perPeerKbps: Math.round(heard.perPeerBitsPerS / 1000) } : {})
        };
        console.log(JSON.stringify(row));
        rows.push(row);
        await page.context().close();
      } finally {
        if (meeting) await meeting.stop();
        await servers.stop();
      }
    }
  }
  console.log(JSON.stringify(rows));
});
