// The demo page: two people join the same room and see each other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, launchBrowser, roomId, artifacts, ensureArtifacts } from '../lib.mjs';

let server;
let browser;
before(async () => { server = await startServer(); browser = await launchBrowser(); });
after(async () => { if (browser) await browser.close(); if (server) await server.stop(); });

async function openDemo(room, name, query = '') {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'], viewport: { width: 1100, height: 520 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`[${name}] page error: ${err.message}`));
  await page.goto(`${server.http}/?roomId=${room}${query}`);
  await page.fill('#name', name);
  await page.click('#join');
  return page;
}

// remotePlaying waits until a remote tile shows a playing video.
function remotePlaying(page) {
  return page.waitForFunction(() => [...document.querySelectorAll('.tile:not(.me) video')]
    .some((v) => v.videoWidth > 0 && v.currentTime > 0.5), null, { timeout: 30000, polling: 200 });
}

test('two demo pages in one room see each other', async () => {
  const room = roomId('demo');
  const alice = await openDemo(room, 'Alice');
  const bob = await openDemo(room, 'Bob');
  await remotePlaying(alice);
  await remotePlaying(bob);
  const names = await bob.$$eval('.tile figcaption', (els) => els.map((e) => e.textContent));
  assert.ok(names.includes('Alice'), `tiles: ${names}`);
  assert.ok(names.includes('Bob (you)'), `tiles: ${names}`);
  ensureArtifacts();
  const file = path.join(artifacts, 'demo-two-peers.png');
  await bob.screenshot({ path: file });
  console.log(`screenshot: ${file}`);

  // Camera off on Alice's side shows as "camera off" on Bob's.
  await alice.click('#cam');
  await bob.waitForSelector('.tile.paused-video:not(.me)', { timeout: 10000 });
  await alice.click('#cam');
  await bob.waitForFunction(() => !document.querySelector('.tile.paused-video:not(.me)'), null, { timeout: 10000 });
  await alice.context().close();
  await bob.waitForFunction(() => document.querySelectorAll('.tile').length === 1, null, { timeout: 15000 });
  await bob.context().close();
});

test('demo with ?simulcast=1: a remote video shows its profile and follows the chosen one', async () => {
  const room = roomId('demosim');
  const alice = await openDemo(room, 'Alice', '&simulcast=1');
  const bob = await openDemo(room, 'Bob', '&simulcast=1');
  await remotePlaying(bob);
  const profile = () => bob.$eval('.tile:not(.me) .profile span', (e) => e.textContent);
  const width = () => bob.$eval('.tile:not(.me) video', (v) => v.videoWidth);
  await bob.waitForFunction(() => {
    const s = document.querySelector('.tile:not(.me) .profile span');
    return s && ['low', 'medium', 'high'].includes(s.textContent);
  }, null, { timeout: 30000, polling: 200 });
  await bob.selectOption('.tile:not(.me) .profile select', 'low');
  await bob.waitForFunction(() => document.querySelector('.tile:not(.me) .profile span').textContent === 'low', null, { timeout: 15000, polling: 200 });
  await bob.waitForFunction(() => document.querySelector('.tile:not(.me) video').videoWidth === 320, null, { timeout: 10000, polling: 200 });
  console.log(`demo simulcast: bob chose low, shows ${await profile()} at ${await width()} px wide`);
  ensureArtifacts();
  await bob.screenshot({ path: path.join(artifacts, 'demo-simulcast-low.png') });
  await alice.context().close();
  await bob.context().close();
});
