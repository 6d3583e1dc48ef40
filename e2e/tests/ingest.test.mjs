// Feeding a room from a tool: Debian's ffmpeg sends a generated test
// pattern (VP8) and a sine tone (Opus) over plain RTP to the ports the
// admin API gives; a Chromium peer with mediasoup-client decodes the video
// and receives the audio. The server runs with the README's defaults (the
// admin API is open to loopback when no auth keys are set).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startServer, launchBrowser, openHarness, waitFor, roomId, sleep } from '../lib.mjs';

// ffmpegArgs is the README's ingest command for the answer of the API.
function ffmpegArgs(a) {
  return [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-map', '0:v', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '800k', '-g', '30',
    '-payload_type', String(a.video.payloadType), '-ssrc', String(a.video.ssrc),
    '-f', 'rtp', `rtp://${a.video.ip}:${a.video.port}?rtcpport=${a.video.rtcpPort}&pkt_size=1200`,
    '-map', '1:a', '-c:a', 'libopus', '-ac', '2', '-b:a', '64k',
    '-payload_type', String(a.audio.payloadType), '-ssrc', String(a.audio.ssrc),
    '-f', 'rtp', `rtp://${a.audio.ip}:${a.audio.port}?rtcpport=${a.audio.rtcpPort}&pkt_size=1200`
  ];
}

test('ffmpeg ingest: a Chromium peer decodes the tool\'s video and receives its audio', async () => {
  const server = await startServer();
  const browser = await launchBrowser();
  let ff;
  try {
    const room = roomId('ingest');
    const res = await fetch(`${server.http}/admin/rooms/${room}/ingest`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ peerName: 'tool', kinds: ['audio', 'video'], videoCodec: 'VP8' })
    });
    assert.equal(res.status, 201, await res.clone().text());
    const a = await res.json();
    assert.equal(a.peerName, 'tool');
    for (const k of ['audio', 'video']) {
      assert.ok(a[k].port > 0 && a[k].rtcpPort > 0 && a[k].ssrc > 0, JSON.stringify(a));
    }
    assert.equal(a.video.clockRate, 90000);
    assert.equal(a.audio.clockRate, 48000);

    const started = Date.now();
    ff = spawn('ffmpeg', ffmpegArgs(a), { stdio: ['ignore', 'ignore', 'inherit'] });
    const bob = await openHarness(browser, server, 'bob');
    await bob.evaluate((r) => window.harness.join(r, 'bob'), room);
    await waitFor(bob, async () => (await window.harness.stats()).framesDecoded > 30, null, 40000);
    console.log(`# ingest: ffmpeg start -> 30 frames decoded in Chromium: ${Date.now() - started} ms`);
    await waitFor(bob, async () => (await window.harness.stats()).audioPackets > 50, null, 20000);
    const s = await bob.evaluate(() => window.harness.stats());
    assert.equal(s.frameWidth, 640);

    // A second request for the same name is refused; DELETE ends the peer.
    const dup = await fetch(`${server.http}/admin/rooms/${room}/ingest`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ peerName: 'tool', kinds: ['video'] })
    });
    assert.equal(dup.status, 409);
    const del = await fetch(`${server.http}/admin/rooms/${room}/ingest?peerName=tool`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    await waitFor(bob, () => window.harness.events().some((e) => e.event === 'peer-close' && e.name === 'tool'), null, 10000);
    const again = await fetch(`${server.http}/admin/rooms/${room}/ingest?peerName=tool`, { method: 'DELETE' });
    assert.equal(again.status, 404);
  } finally {
    if (ff) ff.kill('SIGKILL');
    await sleep(100);
    await browser.close();
    await server.stop();
  }
});

test('ingest API: bad requests get a clear error and create nothing', async () => {
  const server = await startServer();
  try {
    const room = roomId('ingest-bad');
    const post = (body) => fetch(`${server.http}/admin/rooms/${room}/ingest`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body
    });
    for (const [body, status, text] of [
      ['{', 400, 'invalid body'],
      [JSON.stringify({ kinds: ['video'] }), 400, 'peerName'],
      [JSON.stringify({ peerName: 'x', kinds: ['smell'] }), 400, 'kinds'],
      [JSON.stringify({ peerName: 'x', kinds: ['video'], videoCodec: 'AV1' }), 400, 'videoCodec'],
      [JSON.stringify({ peerName: 'x', kinds: ['video'], extra: 1 }), 400, 'unknown field']
    ]) {
      const r = await post(body);
      assert.equal(r.status, status, body);
      assert.match((await r.json()).error, new RegExp(text), body);
    }
    const ok = await post(JSON.stringify({ peerName: 'x', kinds: ['video'] }));
    assert.equal(ok.status, 201, 'after the refusals, the name x is still free');
  } finally {
    await server.stop();
  }
});
