// Recording a Chromium peer (fake camera and microphone, mediasoup-client
// 2.4.12) through the admin API of a server started with --record-dir:
// ffprobe reads both streams (Opus, VP8), the file lasts the wall time
// between POST and DELETE, the tracks start together, and FFmpeg decodes
// the whole file without an error. A peer that vanishes (its page closed)
// ends its recording with a finalized file; the demo page's Record button
// works; a VP9 room records VP9. (The same with 5 % loss toward the
// recorder: record/ffmpeg_test.go, TestRecordRealMediaWithLoss, through a
// UDP relay given as record.Options.Via.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, aliceSendsToBob, waitFor, roomId, sleep, artifacts, ensureArtifacts } from '../lib.mjs';

let dir;
let server;
let browser;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gosoup-record-'));
  server = await startServer({ args: ['--record-dir', dir] });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// api sends one admin request and resolves {status, body}.
async function api(method, url, body) {
  const res = await fetch(`${server.http}${url}`, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined
  });
  return { status: res.status, body: await res.json() };
}

// probe describes a file with ffprobe: its streams, duration, the time of
// each stream's first packet, and what a full decode with ffmpeg prints.
function probe(file) {
  const info = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries',
    'stream=codec_name,codec_type,start_time,width,height:format=duration', '-of', 'json', file], { encoding: 'utf8' }));
  const first = {};
  const packets = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts_time',
    '-of', 'csv=p=0', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  for (const line of packets.trim().split('\n')) {
    const [idx, pts] = line.split(',');
    const type = info.streams[Number(idx)]?.codec_type;
    if (type && !(type in first)) first[type] = Number(pts);
  }
  // The decode check: every frame decoded, nothing printed. The output
  // stage uses -fps_mode vfr: with the default, FFmpeg 5.1's null output
  // guesses a constant frame rate and complains ("non monotonically
  // increasing dts") when two of Chromium's frames are closer than a frame
  // apart, which happens on a loaded machine; it says so of an FFmpeg-made
  // variable-frame-rate WebM too. That plain command's output is printed.
  const decode = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-fps_mode', 'vfr', '-f', 'null', '-'], { encoding: 'utf8' });
  const plain = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  const plainOut = (plain.stderr || '').trim();
  console.log(`# ffmpeg -v error -i FILE -f null - printed ${plainOut ? plainOut.split('\n').length : 0} lines` +
    (plainOut ? ` (first: ${plainOut.split('\n')[0]})` : ''));
  const summary = info.streams.map((s) => `${s.codec_type} ${s.codec_name} start ${s.start_time}s` +
    (s.width ? ` ${s.width}x${s.height}` : '')).join('; ') + `; duration ${info.format.duration}s`;
  if ((decode.stderr || '').trim() || plainOut) {
    ensureArtifacts();
    const keep = path.join(artifacts, path.basename(file));
    copyFileSync(file, keep);
    console.log(`# ffmpeg printed errors: the file is kept as ${keep}`);
  }
  return { info, first, duration: Number(info.format.duration), decodeErrors: (decode.stderr || '').trim(), decodeStatus: decode.status, summary };
}

test('record 10 s of a Chromium peer: opus + vp8, the wall time, in sync, decodes cleanly', async () => {
  const room = roomId('record');
  const { alice, bob } = await aliceSendsToBob(browser, server, room);

  // Refusals first: unknown peer, unknown recording.
  assert.equal((await api('POST', `/admin/rooms/${room}/recordings`, { peerName: 'nobody' })).status, 404);
  assert.equal((await api('DELETE', `/admin/rooms/${room}/recordings/0123456789abcdef`)).status, 404);

  const postAt = Date.now();
  const started = await api('POST', `/admin/rooms/${room}/recordings`, { peerName: 'alice' });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  assert.match(started.body.id, /^[0-9a-f]{16}$/);
  assert.ok(started.body.file.startsWith(dir), started.body.file);
  await sleep(10000);
  const deleteAt = Date.now();
  const stopped = await api('DELETE', `/admin/rooms/${room}/recordings/${started.body.id}`);
  assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
  assert.equal(stopped.body.file, started.body.file);
  assert.equal(stopped.body.reason, 'stopped');

  const p = probe(stopped.body.file);
  const wall = (deleteAt - postAt) / 1000;
  const offset = Math.abs(p.first.audio - p.first.video);
  console.log(`# record: ffprobe: ${p.summary}`);
  console.log(`# record: wall ${wall.toFixed(3)}s (POST to DELETE), file ${p.duration.toFixed(3)}s ` +
    `(API ${stopped.body.durationMs} ms, diff ${(wall - p.duration).toFixed(3)}s), ` +
    `A/V first-packet offset ${(offset * 1000).toFixed(0)} ms (audio ${p.first.audio}s, video ${p.first.video}s)`);
  const codecs = p.info.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort();
  assert.deepEqual(codecs, ['audio:opus', 'video:vp8']);
  assert.ok(Math.abs(wall - p.duration) <= 0.3, `file ${p.duration}s for ${wall}s of wall time`);
  assert.ok(offset < 0.1, `audio starts at ${p.first.audio}s, video at ${p.first.video}s`);
  assert.equal(p.decodeStatus, 0);
  assert.equal(p.decodeErrors, '', `ffmpeg -v error printed:\n${p.decodeErrors}`);
  await alice.context().close();
  await bob.context().close();
});

test('a peer that vanishes ends its recording with a finalized file', async () => {
  const room = roomId('record-gone');
  const { alice, bob } = await aliceSendsToBob(browser, server, room);
  const started = await api('POST', `/admin/rooms/${room}/recordings`, { peerName: 'alice' });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  await sleep(3000);
  await alice.context().close(); // the tab is gone: no leave, the socket drops
  await waitFor(bob, () => window.harness.events().some((e) => e.event === 'peer-close' && e.name === 'alice'), null, 40000);
  await sleep(500);
  // DELETE of a recording that ended by itself answers the file and why.
  const stopped = await api('DELETE', `/admin/rooms/${room}/recordings/${started.body.id}`);
  assert.equal(stopped.body.reason, 'producers closed', JSON.stringify(stopped.body));
  assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
  const p = probe(stopped.body.file);
  console.log(`# record (peer vanished, reason "${stopped.body.reason}"): ffprobe: ${p.summary}`);
  assert.ok(p.duration > 2 && p.duration < 10, `duration ${p.duration}s`);
  assert.equal(p.decodeErrors, '', `ffmpeg -v error printed:\n${p.decodeErrors}`);
  await bob.context().close();
});

test('the demo page\'s Record button records the local peer', async () => {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`[demo] page error: ${err.message}`));
  await page.goto(`${server.http}/?roomId=${roomId('record-demo')}`);
  await page.fill('#name', 'Rita');
  await page.click('#join');
  await page.waitForFunction(() => window.demo.producers.video && window.demo.producers.audio &&
    !window.demo.producers.video.closed, null, { timeout: 30000, polling: 200 });
  await sleep(1000);
  await page.click('#rec');
  await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('recording to'), null, { timeout: 10000 });
  assert.equal(await page.textContent('#rec'), 'Stop recording');
  await sleep(3000);
  await page.click('#rec');
  await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('recorded'), null, { timeout: 10000 });
  const text = await page.textContent('#status');
  console.log(`# record (demo page): ${text}`);
  const m = text.match(/^recorded (\S+\.webm) \(([\d.]+) s\)$/);
  assert.ok(m && Number(m[2]) > 2, text);
  const p = probe(m[1]);
  assert.deepEqual(p.info.streams.map((s) => s.codec_name).sort(), ['opus', 'vp8'], p.summary);
  assert.equal(await page.textContent('#rec'), 'Record');
  await context.close();
});

test('a VP9 room records VP9', async () => {
  const vp9Dir = mkdtempSync(path.join(tmpdir(), 'gosoup-record-vp9-'));
  const vp9Server = await startServer({ args: ['--record-dir', vp9Dir, '--video-codecs', 'vp9'] });
  try {
    const room = roomId('record-vp9');
    const { alice, bob } = await aliceSendsToBob(browser, vp9Server, room);
    const post = await fetch(`${vp9Server.http}/admin/rooms/${room}/recordings`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ peerName: 'alice' })
    });
    const started = await post.json();
    assert.equal(post.status, 201, JSON.stringify(started));
    await sleep(4000);
    const del = await fetch(`${vp9Server.http}/admin/rooms/${room}/recordings/${started.id}`, { method: 'DELETE' });
    const stopped = await del.json();
    assert.equal(del.status, 200, JSON.stringify(stopped));
    const p = probe(stopped.file);
    console.log(`# record (VP9 room): ffprobe: ${p.summary}; A/V first-packet offset ${(Math.abs(p.first.audio - p.first.video) * 1000).toFixed(0)} ms`);
    assert.deepEqual(p.info.streams.map((s) => s.codec_name).sort(), ['opus', 'vp9'], p.summary);
    // The file starts at the first video key frame. When the recording
    // starts within 300 ms of the key frame bob's consumer asked for,
    // Chromium's encoder ignores the recording's PLI (it grants one key
    // frame request per 300 ms) and the server's retry comes 500 ms later:
    // 3.4-4.0 s of the 4 s are in the file.
    assert.ok(p.duration > 3.0, p.summary);
    assert.equal(p.decodeErrors, '', `ffmpeg -v error printed:\n${p.decodeErrors}`);
    await alice.context().close();
    await bob.context().close();
  } finally {
    await vp9Server.stop();
    rmSync(vp9Dir, { recursive: true, force: true });
  }
});
