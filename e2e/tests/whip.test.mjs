// WHIP ingest and WHEP playback with Chromium: a plain RTCPeerConnection
// page publishes with WHIP and a mediasoup-client 2.4.12 peer decodes it;
// a mediasoup-client producer is played by a plain WHEP page, for one peer
// and for the room (where the player's one stream switches source when the
// peer it plays stops its camera, and under loss its RTX repairs it).
// Prints WHIP POST -> first frame decoded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openHarness, waitFor, roomId, sleep, freeUdpPort, startLossRelay } from '../lib.mjs';
import { publish, play, received, remove } from '../whip.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

// playerFrames waits until the WHEP page decoded more than n frames.
function playerFrames(page, n, timeout = 30000) {
  return waitFor(page, async (min) => (await window.whip.pc.getStats().then((r) => {
    let f = 0;
    r.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') f += s.framesDecoded || 0; });
    return f;
  })) > min, n, timeout);
}

test('WHIP: a plain RTCPeerConnection publishes, a mediasoup-client peer decodes it', async () => {
  const room = roomId('whip');
  const bob = await openHarness(browser, server, 'bob');
  await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
  const pub = await openHarness(browser, server, 'whip');

  const res = await pub.evaluate(publish, { room });
  assert.equal(res.status, 201, res.body);
  assert.match(res.location, new RegExp(`^/whip/${room}/[0-9a-f]{32}$`));
  assert.match(res.answer, /a=ice-lite/);
  await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 0, null, 30000);
  // one clock: the pages and this process run on the same machine
  const firstFrame = Date.now() - (await pub.evaluate(() => window.whip.postAt));
  console.log(`WHIP POST -> first frame decoded by the mediasoup-client peer: ${firstFrame} ms`);
  await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 30, null, 30000);
  await waitFor(bob, async () => (await window.harness.stats()).audioPackets > 50, null, 20000);

  const ev = await bob.evaluate(() => window.harness.events());
  const peer = ev.find((e) => e.event === 'newpeer');
  assert.ok(peer && peer.name.startsWith('whip-'), `newpeer ${JSON.stringify(peer)}`);
  assert.deepEqual(ev.filter((e) => e.event === 'newconsumer').map((e) => e.kind).sort(), ['audio', 'video']);

  assert.equal(await pub.evaluate(remove), 200);
  await waitFor(bob, (name) => window.harness.events().some((e) => e.event === 'peer-close' && e.name === name), peer.name);
  await pub.context().close();
  await bob.context().close();
});

test('WHIP simulcast: Chromium sends three RID layers, the mediasoup-client peer switches profiles', async () => {
  const room = roomId('whips');
  const bob = await openHarness(browser, server, 'bob');
  await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
  const pub = await openHarness(browser, server, 'whip');
  const res = await pub.evaluate(publish, { room, simulcast: true });
  assert.equal(res.status, 201, res.body);
  assert.match(res.answer, /a=simulcast:recv q;h;f/);
  await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 30, null, 30000);
  // low is the quarter-size layer; back to high, bob gets a bigger one
  // (the full one, unless a loaded machine made Chromium drop its top layer)
  const lastIs = (want) => {
    const e = window.harness.effectiveProfiles();
    return e.length > 0 && want.includes(e[e.length - 1].profile);
  };
  await bob.evaluate((p) => window.harness.setPreferredProfile(p), 'low');
  await waitFor(bob, lastIs, ['low'], 30000);
  await waitFor(bob, async () => (await window.harness.stats()).frameWidth === 320, null, 30000);
  await bob.evaluate((p) => window.harness.setPreferredProfile(p), 'high');
  await waitFor(bob, lastIs, ['medium', 'high'], 30000);
  await waitFor(bob, async () => (await window.harness.stats()).frameWidth >= 640, null, 30000);
  console.log(`WHIP simulcast profiles: ${(await bob.evaluate(() => window.harness.effectiveProfiles())).map((e) => e.profile).join(' -> ')}`);
  await pub.evaluate(remove);
  await pub.context().close();
  await bob.context().close();
});

test('WHEP: a plain page plays a mediasoup-client producer (?peer=alice)', async () => {
  const room = roomId('whep');
  const alice = await openHarness(browser, server, 'alice');
  await alice.evaluate((r) => window.harness.join(r, 'alice'), room);
  await alice.evaluate(() => window.harness.produce('audio'));
  await alice.evaluate(() => window.harness.produce('video'));
  const player = await openHarness(browser, server, 'player');

  const res = await player.evaluate(play, { path: `${room}?peer=alice` });
  assert.equal(res.status, 201, res.body);
  await playerFrames(player, 0);
  console.log(`WHEP POST -> first frame decoded by the player: ${Date.now() - (await player.evaluate(() => window.whip.postAt))} ms`);
  await playerFrames(player, 30);
  await waitFor(player, async () => (await window.whip.pc.getStats().then((r) => {
    let n = 0;
    r.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') n += s.packetsReceived || 0; });
    return n;
  })) > 50, null, 20000);
  // the player is a spy: alice sees no new peer
  assert.ok(!(await alice.evaluate(() => window.harness.events())).some((e) => e.event === 'newpeer'));
  assert.equal(await player.evaluate(remove), 200);
  await player.context().close();
  await alice.context().close();
});

test('WHEP of the room: the player switches to another peer when the one it plays stops its camera', async () => {
  const room = roomId('whepr');
  const alice = await openHarness(browser, server, 'alice');
  const carol = await openHarness(browser, server, 'carol');
  for (const [page, name] of [[alice, 'alice'], [carol, 'carol']]) {
    await page.evaluate(([r, n]) => window.harness.join(r, n), [room, name]);
    await page.evaluate(() => window.harness.produce('video'));
  }
  const player = await openHarness(browser, server, 'player');
  const res = await player.evaluate(play, { path: room });
  assert.equal(res.status, 201, res.body);
  // one stream per kind whoever plays in it, named with its RTX
  const [, ssrc] = res.answer.match(/a=ssrc-group:FID (\d+) \d+/) || [];
  assert.ok(ssrc, res.answer);
  assert.match(res.answer, /a=extmap:\d+ http:\/\/www.webrtc.org\/experiments\/rtp-hdrext\/abs-send-time/);
  await playerFrames(player, 30);
  // whichever peer it plays (alice joined first) stops its camera; carol
  // starts hers again: the player ends on a producer that did not exist
  // when it started, in the same stream
  await alice.evaluate(() => window.harness.closeProducer('video'));
  await carol.evaluate(() => window.harness.closeProducer('video'));
  await sleep(500);
  const before = (await player.evaluate(received)).find((s) => String(s.ssrc) === ssrc);
  assert.ok(before, `no inbound video on SSRC ${ssrc}`);
  await carol.evaluate(() => window.harness.produce('video'));
  await waitFor(player, async ([want, min]) => (await window.whip.pc.getStats().then((r) => {
    let ok = false;
    r.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video' && String(s.ssrc) === want && s.framesDecoded > min) ok = true; });
    return ok;
  })), [ssrc, before.framesDecoded + 30], 30000);
  assert.equal((await player.evaluate(received)).length, 1);
  await player.context().close();
  await alice.context().close();
  await carol.context().close();
});

test('WHEP of the room under 5 % loss: Chromium takes retransmissions after a switch and sends REMB', async () => {
  const rtcPort = await freeUdpPort();
  const relay = await startLossRelay(rtcPort, 0.05, 11);
  const lossy = await startServer({ rtcPort, args: ['--announced-port', String(relay.port), '--no-tcp'] });
  const pages = [];
  try {
    const room = roomId('wheprtx');
    for (const name of ['alice', 'carol']) {
      const page = await openHarness(browser, lossy, name);
      pages.push(page);
      await page.evaluate(([r, n]) => window.harness.join(r, n), [room, name]);
      await page.evaluate(() => window.harness.produce('video'));
    }
    const player = await openHarness(browser, lossy, 'player');
    pages.push(player);
    const res = await player.evaluate(play, { path: room });
    assert.equal(res.status, 201, res.body);
    await playerFrames(player, 30);
    const video = () => player.evaluate(async () => {
      let v = null;
      (await window.whip.pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') v = s; });
      return v && { ssrc: v.ssrc, frames: v.framesDecoded || 0, rtx: v.retransmittedPacketsReceived || 0, nacks: v.nackCount || 0, lost: v.packetsLost || 0 };
    });
    await pages[0].evaluate(() => window.harness.closeProducer('video')); // the player moves to carol
    await sleep(500);
    const v0 = await video();
    await sleep(10000);
    const v1 = await video();
    const admin = await (await fetch(`${lossy.http}/admin/rooms/${encodeURIComponent(room)}`)).json();
    const whep = admin.peers.find((p) => p.name.startsWith('whep-'));
    const remb = whep && whep.transports[0] && whep.transports[0].stats.remoteAvailableSendBw;
    console.log(`WHEP room player, 5% loss, 10 s after the switch: ${JSON.stringify({ frames: v1.frames - v0.frames, nacks: v1.nacks - v0.nacks, retransmitted: v1.rtx - v0.rtx, dropped: relay.stats.dropped, remb: remb && remb.bitrate })}`);
    assert.equal(v1.ssrc, v0.ssrc);
    assert.ok(v1.frames - v0.frames > 150, `frames decoded ${v1.frames - v0.frames}`);
    assert.ok(v1.nacks > v0.nacks && v1.rtx > v0.rtx, `NACKs ${v1.nacks - v0.nacks}, retransmitted packets received ${v1.rtx - v0.rtx}`);
    assert.ok(remb && remb.bitrate > 0, `the player's REMB as the SFU sees it: ${JSON.stringify(whep && whep.transports)}`);
  } finally {
    for (const p of pages) await p.context().close();
    await lossy.stop();
    relay.close();
  }
});

test('WHIP/WHEP refusals from the server binary', async () => {
  const post = (path, type, body) => fetch(`${server.http}${path}`, { method: 'POST', headers: { 'Content-Type': type }, body });
  let r = await post('/whip/x', 'text/plain', 'v=0');
  assert.equal(r.status, 415);
  r = await post('/whip/x', 'application/sdp', 'not sdp');
  assert.equal(r.status, 400);
  assert.match(await r.text(), /malformed SDP offer/);
  r = await fetch(`${server.http}/whep/x/00112233`, { method: 'DELETE' });
  assert.equal(r.status, 404);
});
