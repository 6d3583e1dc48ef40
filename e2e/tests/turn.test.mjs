// Restrictive networks: the demo page reaches gosoup's built-in TURN server
// (--turn) when nothing else gets through. Bob's Chromium runs in a network
// namespace that lets in only what the server sends from the allowed
// ports (iptables); Alice's runs on the host. Each case is a call both
// ways with default browser settings; the relayed bytes in /metrics show
// which way the media went.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, roomId, freeUdpPort, sleep } from '../lib.mjs';
import { netnsSupport, createNetns } from '../netns.mjs';

async function openDemo(browser, server, room, name, query = '') {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'], viewport: { width: 1100, height: 520 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`[${name}] page error: ${err.message}`));
  await page.goto(`${server.http}/?roomId=${room}${query}`);
  await page.fill('#name', name);
  await page.click('#join');
  return page;
}

// remotePlaying waits until a remote tile shows a playing video.
function remotePlaying(page, timeout = 40000) {
  return page.waitForFunction(() => [...document.querySelectorAll('.tile:not(.me) video')]
    .some((v) => v.videoWidth > 0 && v.currentTime > 1), null, { timeout, polling: 250 });
}

// turnMetrics reads the TURN counters of /metrics.
async function turnMetrics(server) {
  const text = await (await fetch(`${server.http}/metrics`)).text();
  const get = (re) => { const m = text.match(re); return m ? Number(m[1]) : 0; };
  const toPeer = get(/^gosoup_turn_relayed_bytes_total\{direction="to_peer"\} (\S+)$/m);
  const toClient = get(/^gosoup_turn_relayed_bytes_total\{direction="to_client"\} (\S+)$/m);
  return {
    relayed: toPeer + toClient,
    toPeer,
    toClient,
    tcp: get(/^gosoup_turn_relayed_tcp_bytes_total (\S+)$/m),
    allocations: get(/^gosoup_turn_allocations_total (\S+)$/m),
    // Packets handed between the TURN server and the SFU in process, and
    // through the allocations' sockets (none: the SFU is the only peer).
    inProcess: get(/^gosoup_turn_inprocess_packets_total\{direction="to_peer"\} (\S+)$/m) +
      get(/^gosoup_turn_inprocess_packets_total\{direction="to_client"\} (\S+)$/m),
    socket: get(/^gosoup_turn_socket_packets_total\{direction="to_peer"\} (\S+)$/m) +
      get(/^gosoup_turn_socket_packets_total\{direction="to_client"\} (\S+)$/m)
  };
}

// assertInProcess checks that the relayed media of 5 s went between the
// TURN server and the SFU in process, none of it through a socket.
function assertInProcess(before, after) {
  const packets = after.inProcess - before.inProcess;
  assert.ok(packets > 500, `only ${packets} packets relayed in process in 5 s`);
  assert.equal(after.socket, 0, 'packets relayed through the allocations\' sockets');
}

// callThrough runs Alice (host) and Bob (namespace, restricted by allow)
// in one room, both sending camera and microphone, until each plays the
// other's video for a few seconds; it returns the TURN counters.
async function callThrough(allow, query = '') {
  const ns = createNetns();
  const turnPort = await freeUdpPort();
  let server;
  const browsers = [];
  try {
    server = await startServer({ host: ns.hostIP, args: ['--turn', '--turn-port', String(turnPort)] });
    const listenPort = Number(new URL(server.http).port);
    ns.onlyFrom(...allow({ listenPort, turnPort }));
    const secure = [`--unsafely-treat-insecure-origin-as-secure=${server.http}`];
    const aliceBrowser = await launchBrowser({ args: secure });
    browsers.push(aliceBrowser);
    const bobBrowser = await launchBrowser({ executablePath: ns.wrapper, args: secure });
    browsers.push(bobBrowser);
    const room = roomId('turn');
    const alice = await openDemo(aliceBrowser, server, room, 'Alice', query);
    const bob = await openDemo(bobBrowser, server, room, 'Bob', query);
    const t0 = Date.now();
    await remotePlaying(bob);
    await remotePlaying(alice);
    const before = await turnMetrics(server);
    await sleep(5000);
    const after = await turnMetrics(server);
    const rate = Math.round(8 * (after.relayed - before.relayed) / 5 / 1000);
    const tcpRate = Math.round(8 * (after.tcp - before.tcp) / 5 / 1000);
    console.log(`call up in ${Date.now() - t0} ms; relayed ${rate} kb/s (${tcpRate} kb/s of it over TCP), ` +
      `${after.allocations} allocations, ${Math.round((after.inProcess - before.inProcess) / 5)} packets/s in process`);
    assertInProcess(before, after);
    return { before, after };
  } finally {
    for (const b of browsers) await b.close().catch(() => {});
    if (server) await server.stop();
    ns.close();
  }
}

const skip = netnsSupport(['ip', 'iptables']) || false;

test('only TCP to the listen port: the call goes through TURN over TCP', { skip }, async () => {
  const { before, after } = await callThrough(({ listenPort }) => [['tcp', listenPort]]);
  const tcp = after.tcp - before.tcp;
  // Bob's camera and microphone one way, Alice's the other: far more than
  // the TURN and ICE checks alone.
  assert.ok(tcp > 100_000, `only ${tcp} bytes relayed over TCP in 5 s`);
  assert.equal(after.relayed - after.tcp, 0, 'bytes relayed over UDP, which the namespace drops');
});

test('only UDP 3478 (and the page): the call goes through TURN over UDP', { skip }, async () => {
  const { before, after } = await callThrough(({ listenPort, turnPort }) => [['tcp', listenPort], ['udp', turnPort]]);
  const udp = (after.relayed - after.tcp) - (before.relayed - before.tcp);
  // The page and its WebSocket need TCP to the listen port, so TURN over
  // TCP on that port stays reachable too, and Chromium may nominate it for
  // one of its two transports (it did in one CI run: about half the bytes
  // each way). What this case asserts is that UDP to the TURN port alone
  // carries media: at least one direction's camera, far more than ICE.
  assert.ok(udp > 100_000, `only ${udp} bytes relayed over UDP in 5 s`);
});

test('?relay=1: with the network open, the media still goes through the relay', async () => {
  const turnPort = await freeUdpPort();
  const server = await startServer({ args: ['--turn', '--turn-port', String(turnPort)] });
  const browser = await launchBrowser();
  try {
    const room = roomId('relay');
    const alice = await openDemo(browser, server, room, 'Alice', '&relay=1');
    const bob = await openDemo(browser, server, room, 'Bob', '&relay=1');
    await remotePlaying(bob);
    await remotePlaying(alice);
    const before = await turnMetrics(server);
    await sleep(5000);
    const after = await turnMetrics(server);
    const relayed = after.relayed - before.relayed;
    console.log(`relay only: ${Math.round(8 * relayed / 5 / 1000)} kb/s relayed, ${after.allocations} allocations`);
    // Two cameras and microphones, each in and out of the SFU.
    assert.ok(relayed > 200_000, `only ${relayed} bytes relayed in 5 s`);
    assertInProcess(before, after);
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
  }
});
