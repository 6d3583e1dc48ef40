// Layers from a Chromium WHIP publisher, each decoded by mediasoup-client
// 2.4.12 peers in Chromium whose preferred profiles are low, medium and
// high: a VP9 room with one SVC stream (scalabilityMode L3T3_KEY: three
// spatial layers, 320, 640 and 1280 px wide from the 1280x720 camera),
// an H264 room with three RID simulcast streams (a quarter, half and full
// size). Over 4 s in which the publisher sends all its layers, each viewer
// must decode its profile's width at every sample, at least 30 frames and
// no freeze (one is let pass on a loaded machine). An AV1-only WHIP offer
// is refused: no room offers AV1. Prints the widths decoded per profile.
// The VP9 case needs SVC layer selection in sfu: without it every viewer
// decodes 1280 px. A fourth case switches one H264 viewer's profile back
// and forth: no sequence gap, no stall.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openHarness, waitFor, stats, roomId, sleep } from '../lib.mjs';
import { publish, sent, remove } from '../whip.mjs';

const widths = { low: 320, medium: 640, high: 1280 };

// viewer joins room as a mediasoup-client peer and waits for its first
// decoded video frame; the caller then sets its preferred profile.
async function viewer(browser, server, room, profile) {
  const page = await openHarness(browser, server, profile);
  await page.evaluate(([r, n]) => window.harness.join(r, n), [room, `viewer-${profile}`]);
  return page;
}

// allLive reports whether, between two sent() samples, the WHIP page
// encoded n streams, the largest 1280 px wide (an SVC stream reports its
// top spatial layer's width).
function allLive(prev, cur, n) {
  const live = cur.streams.filter((s) => s.framesEncoded > (prev.streams.find((p) => p.ssrc === s.ssrc) || { framesEncoded: 0 }).framesEncoded);
  return live.length >= n && Math.max(...live.map((s) => s.frameWidth)) === 1280;
}

// sendsAll waits (30 s at most) until the WHIP page encodes all n streams
// within a second.
async function sendsAll(pub, n) {
  const start = Date.now();
  let prev = await pub.evaluate(sent);
  for (;;) {
    await sleep(1000);
    const cur = await pub.evaluate(sent);
    const ok = allLive(prev, cur, n);
    if (ok || Date.now() - start > 30000) return { ok, ms: Date.now() - start, last: cur };
    prev = cur;
  }
}

// steadyWindow measures what each viewer page decodes over 4 s in which
// the publisher encoded all its n streams every second, and the width it
// reports each second. Chromium turns its top layer off and on as its
// estimate hovers near what that layer needs, and re-creates its
// encoders (every viewer then freezes once); under load its estimate
// (gosoup's REMB) may also fall for a while and the top layer stop, so a
// window where it did is measured again, for 45 s at most. It resolves {steady, per: {profile: {frames,
// freezes, widths}}}.
async function steadyWindow(pub, pages, n) {
  let per;
  for (const end = Date.now() + 45000; Date.now() < end;) {
    per = {};
    const before = {};
    for (const [p, page] of Object.entries(pages)) {
      before[p] = await stats(page);
      per[p] = { widths: [] };
    }
    let steady = true;
    let prev = await pub.evaluate(sent);
    for (let i = 0; i < 4; i++) {
      await sleep(1000);
      const cur = await pub.evaluate(sent);
      steady = steady && allLive(prev, cur, n);
      prev = cur;
      for (const [p, page] of Object.entries(pages)) per[p].widths.push((await stats(page)).frameWidth);
    }
    for (const [p, page] of Object.entries(pages)) {
      const s = await stats(page);
      Object.assign(per[p], { frames: s.framesDecoded - before[p].framesDecoded, freezes: s.freezeCount - before[p].freezeCount });
    }
    if (steady) return { steady, per };
    console.log(`publisher not steady, measured again: ${JSON.stringify(per)}`);
  }
  return { steady: false, per };
}

// layers publishes with WHIP as opts say, lets three viewers (low, medium,
// high) decode it and checks each one's decoded width and frame flow; it
// returns what each decoded.
async function layers(t, codecArg, opts) {
  const server = await startServer({ args: ['--video-codecs', codecArg] });
  const browser = await launchBrowser();
  try {
    const room = roomId(codecArg);
    const pages = {};
    for (const p of Object.keys(widths)) pages[p] = await viewer(browser, server, room, p);
    const pub = await openHarness(browser, server, 'whip');
    const res = await pub.evaluate(publish, { room, videoOnly: true, ...opts });
    if (res.status === 0) {
      t.skip(res.body);
      return null;
    }
    assert.equal(res.status, 201, res.body);
    // Chromium turns its layers on as its send estimate (gosoup's REMB)
    // allows: each viewer can get its layer once the publisher sends it.
    const full = await sendsAll(pub, opts.simulcast ? 3 : 1);
    console.log(`${codecArg} publisher sends all layers after ${full.ms} ms: ${JSON.stringify(full.last)}`);
    assert.ok(full.ok, `the publisher does not send every layer at full size: ${JSON.stringify(full.last)}`);

    for (const [p, page] of Object.entries(pages)) {
      await waitFor(page, async () => (await window.harness.stats()).framesDecoded > 0, null, 30000);
      await page.evaluate((x) => window.harness.setPreferredProfile(x), p);
    }
    // the allocator may hold a viewer on a lower layer while the estimates
    // rise: wait (in parallel) until each one first decodes its profile's
    // width; the window below checks that it keeps it
    await Promise.all(Object.entries(pages).map(([p, page]) =>
      waitFor(page, async (w) => (await window.harness.stats()).frameWidth === w, widths[p], 30000).catch(() => {})));
    // a stream switch waits for a key frame, then the receiver catches up
    // (an H264 viewer switched down to low decoded 110 frames in the next
    // 4 s, others 83, and counted a freeze): the window below measures the
    // steady state after 3 s; switches are simulcast.test.mjs's subject
    await sleep(3000);
    console.log(`${codecArg} publisher sends: ${JSON.stringify(await pub.evaluate(sent))}`);
    // over 4 s in which the publisher sent steadily, every viewer decodes
    // frames at its profile's width without a freeze (a frame later than
    // max(3 x the mean interval, the mean + 150 ms)); on this loaded 2-core
    // machine one decode stall in 4 s is let pass, as in simulcast.test.mjs
    const win = await steadyWindow(pub, pages, opts.simulcast ? 3 : 1);
    const out = win.per;
    console.log(`${codecArg} decoded per preferred profile (widths sampled each second): ${JSON.stringify(out)}`);
    assert.ok(win.steady, 'the publisher never sent all its layers for 4 s in a row');
    for (const p of Object.keys(widths)) {
      assert.ok(out[p].frames >= 30, `${p}: ${out[p].frames} frames decoded in 4 s`);
      assert.ok(out[p].freezes <= 1, `${p}: ${out[p].freezes} freezes in 4 s`);
    }
    for (const p of Object.keys(widths)) {
      assert.deepEqual(out[p].widths, [widths[p], widths[p], widths[p], widths[p]], `${p} viewer decodes ${out[p].widths} px`);
    }
    await pub.evaluate(remove);
    return out;
  } finally {
    await browser.close();
    await server.stop();
  }
}

test('VP9 SVC (L3T3_KEY) from WHIP: viewers low, medium, high decode 320, 640, 1280 px', async (t) => {
  await layers(t, 'vp9', { codec: 'video/VP9', encodings: [{ scalabilityMode: 'L3T3_KEY' }] });
});

test('H264 simulcast (three RIDs) from WHIP: viewers low, medium, high decode 320, 640, 1280 px', async (t) => {
  await layers(t, 'h264', { codec: 'video/H264', simulcast: true });
});

// One viewer of the H264 simulcast switches profiles seven times; after
// each switch its decoding must not stop for a second or more, and no
// sequence number may go missing (packetsLost: gosoup numbers what the
// viewer receives). Chromium probes by re-sending old packets over RTX,
// old key-frame packets of the low stream among them: a switch made on
// such a packet starts the viewer's numbering there, and the live packets
// then come 66 to 313 numbers ahead (the viewer waits for packets never
// sent, up to 2.9 s). VP8 switches this way without a gap.
test('H264 simulcast from WHIP: switching profiles leaves no gap and no stall', async (t) => {
  const server = await startServer({ args: ['--video-codecs', 'h264'] });
  const browser = await launchBrowser();
  try {
    const room = roomId('h264sw');
    const v = await viewer(browser, server, room, 'switcher');
    const pub = await openHarness(browser, server, 'whip');
    const res = await pub.evaluate(publish, { room, videoOnly: true, codec: 'video/H264', simulcast: true });
    if (res.status === 0) {
      t.skip(res.body);
      return;
    }
    assert.equal(res.status, 201, res.body);
    await waitFor(v, async () => (await window.harness.stats()).frameWidth === 1280, null, 30000);
    await sleep(3000);
    const steps = [];
    for (const prof of ['low', 'high', 'low', 'high', 'low', 'medium', 'low']) {
      const t0 = Date.now();
      const first = await stats(v);
      await v.evaluate((p) => window.harness.setPreferredProfile(p), prof);
      let stall = 0;
      let last = first.framesDecoded;
      let lastAt = t0;
      let s = first;
      while (Date.now() - t0 < 4000) {
        await sleep(200);
        s = await stats(v);
        if (s.framesDecoded !== last) {
          last = s.framesDecoded;
          lastAt = Date.now();
        }
        stall = Math.max(stall, Date.now() - lastAt);
      }
      steps.push({ prof, width: s.frameWidth, stall, lost: s.videoLost - first.videoLost, frames: s.framesDecoded - first.framesDecoded });
    }
    console.log(`h264 switches: ${JSON.stringify(steps)}`);
    for (const st of steps) {
      assert.equal(st.lost, 0, `to ${st.prof}: the viewer counts ${st.lost} packets lost`);
      assert.ok(st.stall < 1000, `to ${st.prof}: decoding stopped for ${st.stall} ms`);
    }
    await pub.evaluate(remove);
  } finally {
    await browser.close();
    await server.stop();
  }
});

test('AV1 from WHIP: an AV1-only offer is refused, naming the room codecs', async (t) => {
  const server = await startServer({ args: ['--video-codecs', 'vp8,vp9,h264'] });
  const browser = await launchBrowser();
  try {
    const pub = await openHarness(browser, server, 'whip');
    const res = await pub.evaluate(publish, { room: roomId('av1'), videoOnly: true, codec: 'video/AV1' });
    if (res.status === 0) {
      t.skip(res.body);
      return;
    }
    assert.equal(res.status, 400);
    assert.match(res.body, /offered AV1; the room has audio opus, video VP8, video VP9, video H264/);
  } finally {
    await browser.close();
    await server.stop();
  }
});
