// Firefox in the browser tests: Debian's firefox-esr driven by
// puppeteer-core over WebDriver BiDi, with gosoup, Firefox and Chromium all
// inside one network namespace of the test's own. Firefox does not use
// 127.0.0.1 for media and gathers ICE candidates only on a host with an
// interface address and a default route; the namespace has both (a veth
// whose other end sits in a second, non-forwarding namespace, so nothing
// the browsers send can leave the two). Needs root, ip and firefox-esr.
import puppeteer from 'puppeteer-core';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repo, serverEnv, launchBrowser, freePort } from './lib.mjs';

export const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// firefoxSupport returns null when the Firefox tests can run, else why not.
export function firefoxSupport() {
  if (!process.getuid || process.getuid() !== 0) return 'needs root (ip netns: Firefox gathers no ICE candidate on loopback)';
  if (spawnSync('ip', ['-V']).error) return 'needs ip (Debian package iproute2)';
  if (!existsSync(FIREFOX)) return `needs ${FIREFOX} (Debian package firefox-esr)`;
  if (!existsSync(CHROMIUM)) return `needs ${CHROMIUM} (Debian package chromium)`;
  return null;
}

function run(...args) {
  execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

function tryRun(...args) {
  spawnSync(args[0], args.slice(1), { stdio: 'ignore' });
}

// The Firefox wrapper puppeteer launches: it runs firefox-esr inside the
// namespace. Firefox's WebDriver BiDi server listens on the namespace's own
// loopback, which the test process cannot reach, so the wrapper bridges it:
// a relay inside the namespace accepts on a Unix socket (file system paths
// are shared across network namespaces) and connects to Firefox's port; the
// wrapper accepts on the host's 127.0.0.1 and connects to that socket, and
// it prints the "WebDriver BiDi listening on" line puppeteer waits for once
// the bridge is up. Firefox checks the Host header of the WebSocket
// handshake (host and port), so the host side listens on the port Firefox
// listens on inside (launchFirefoxIn picks one free on the host).
const firefoxWrapper = (ns, firefox, sock) => `#!${process.execPath}
'use strict';
const { spawn } = require('node:child_process');
const net = require('node:net');
const readline = require('node:readline');
const ns = ${JSON.stringify(ns)};
const sock = ${JSON.stringify(sock)};
const ff = spawn('ip', ['netns', 'exec', ns, ${JSON.stringify(firefox)}, ...process.argv.slice(2)],
  { stdio: ['ignore', 'inherit', 'pipe'] });
let relay = null;
let front = null;
const relayJs = (port) => \`const net = require('node:net');
require('node:fs').rmSync(\${JSON.stringify(sock)}, { force: true });
net.createServer((c) => {
  const u = net.connect(\${port}, '127.0.0.1');
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
}).listen(\${JSON.stringify(sock)}, () => console.log('ready'));\`;
function bridge(port, line) {
  relay = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', relayJs(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  relay.stdout.once('data', () => {
    front = net.createServer((c) => {
      const u = net.connect(sock);
      c.pipe(u); u.pipe(c);
      c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
    }).listen(Number(port), '127.0.0.1', () => process.stderr.write(line + '\\n'));
    front.on('error', (err) => {
      process.stderr.write('firefox wrapper: cannot listen on 127.0.0.1:' + port + ': ' + err.message + '\\n');
      ff.kill('SIGKILL');
    });
  });
}
readline.createInterface({ input: ff.stderr }).on('line', (line) => {
  const m = /^WebDriver BiDi listening on ws:\\/\\/127\\.0\\.0\\.1:(\\d+)/.exec(line);
  if (m && !relay) bridge(m[1], line);
  else process.stderr.write(line + '\\n');
});
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => ff.kill(sig));
ff.on('exit', (code, signal) => {
  if (relay) relay.kill('SIGKILL');
  if (front) front.close();
  process.exit(code === null ? 1 : code);
});
`;

// createFirefoxNet makes namespace NS (veth 10.215.N.1/24, default route
// via 10.215.N.2) and its gateway namespace (10.215.N.2/24, no forwarding),
// and the wrappers that run Chromium and Firefox inside NS.
export function createFirefoxNet() {
  const n = (process.pid % 200) + 20;
  const ns = `gosoup-ff${n}`;
  const gw = `gosoup-ffgw${n}`;
  const inIf = `gsff${n}a`;
  const gwIf = `gsff${n}b`;
  const addr = `10.215.${n}.1`;
  const gwAddr = `10.215.${n}.2`;
  for (const x of [ns, gw]) tryRun('ip', 'netns', 'del', x);
  for (const x of [ns, gw]) run('ip', 'netns', 'add', x);
  run('ip', 'link', 'add', inIf, 'netns', ns, 'type', 'veth', 'peer', 'name', gwIf, 'netns', gw);
  const inNs = (x, ...args) => run('ip', 'netns', 'exec', x, ...args);
  inNs(ns, 'ip', 'addr', 'add', `${addr}/24`, 'dev', inIf);
  inNs(gw, 'ip', 'addr', 'add', `${gwAddr}/24`, 'dev', gwIf);
  for (const [x, dev] of [[ns, inIf], [gw, gwIf]]) {
    inNs(x, 'ip', 'link', 'set', dev, 'up');
    inNs(x, 'ip', 'link', 'set', 'lo', 'up');
  }
  inNs(ns, 'ip', 'route', 'add', 'default', 'via', gwAddr);
  inNs(gw, 'sysctl', '-qw', 'net.ipv4.ip_forward=0');
  const dir = mkdtempSync(path.join(tmpdir(), 'gosoup-firefox-'));
  const chromiumWrapper = path.join(dir, 'chromium');
  writeFileSync(chromiumWrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  let wrappers = 0;
  return {
    ns,
    addr,
    dir,
    chromiumWrapper,
    // firefoxWrapper writes a new wrapper (one BiDi bridge socket each).
    firefoxWrapper() {
      wrappers++;
      const file = path.join(dir, `firefox-${wrappers}`);
      writeFileSync(file, firefoxWrapper(ns, FIREFOX, path.join(dir, `bidi-${wrappers}.sock`)), { mode: 0o755 });
      return file;
    },
    // spawnIn starts a command inside the namespace.
    spawnIn: (args, opts) => spawn('ip', ['netns', 'exec', ns, ...args], opts),
    // reachable tells whether url answers 2xx from inside the namespace.
    reachable(url) {
      const js = `fetch(${JSON.stringify(url)}).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
      return spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js], { timeout: 10000 }).status === 0;
    },
    close() {
      for (const x of [ns, gw]) tryRun('ip', 'netns', 'del', x);
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

// startServerIn builds gosoup and runs it inside the namespace on its
// address (page, signaling and media); returns {http, ws, stop}.
export async function startServerIn(net, opts = {}) {
  const bin = path.join(net.dir, 'gosoup');
  if (!existsSync(bin)) execFileSync('go', ['build', '-o', bin, './cmd/gosoup'], { cwd: repo, stdio: 'inherit' });
  const port = opts.port || 3443;
  const proc = net.spawnIn([bin,
    '--listen', `${net.addr}:${port}`, '--web', path.join(repo, 'web', 'dist'),
    '--rtc-listen-ip', net.addr, '--rtc-port', '0', '--announced-ip', net.addr,
    '--log-level', process.env.GOSOUP_LOG || 'warn', ...(opts.args || [])
  ], { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'], env: serverEnv() });
  let exited = false;
  proc.once('exit', () => { exited = true; });
  const http = `http://${net.addr}:${port}`;
  const end = Date.now() + 30000;
  while (!net.reachable(`${http}/healthz`)) {
    if (exited) throw new Error('gosoup exited at start');
    if (Date.now() > end) { proc.kill('SIGKILL'); throw new Error(`gosoup not reachable at ${http} in ${net.ns}`); }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    http,
    ws: http.replace(/^http/, 'ws'),
    async stop() {
      if (exited) return;
      proc.kill('SIGTERM');
      await new Promise((r) => { proc.once('exit', r); setTimeout(() => { proc.kill('SIGKILL'); r(); }, 5000); });
    }
  };
}

// launchChromiumIn starts Chromium (playwright) inside the namespace,
// treating the server's http origin as secure (camera on http).
export function launchChromiumIn(net, server) {
  return launchBrowser({
    executablePath: net.chromiumWrapper,
    args: [`--unsafely-treat-insecure-origin-as-secure=${server.http}`]
  });
}

// Firefox preferences: fake camera and microphone without a prompt, even
// on an http origin; media may autoplay.
export const firefoxPrefs = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.devices.insecure.enabled': true,
  'media.getusermedia.insecure.enabled': true,
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  'media.block-autoplay-until-in-foreground': false,
  'media.suspend-bkgnd-video.enabled': false,
  'browser.shell.checkDefaultBrowser': false
};

// launchFirefoxIn starts firefox-esr inside the namespace (puppeteer-core,
// WebDriver BiDi).
export async function launchFirefoxIn(net, opts = {}) {
  return puppeteer.launch({
    debuggingPort: await freePort(),
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: net.firefoxWrapper(),
    headless: true,
    timeout: 60000,
    protocolTimeout: 60000,
    extraPrefsFirefox: { ...firefoxPrefs, ...(opts.prefs || {}) },
    env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1' }
  });
}

// openFirefoxPage opens url in a fresh browser context (cookies, tabs) of a
// puppeteer browser, with page errors logged under name.
export async function openFirefoxPage(browser, url, name) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`[${name}] page error: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') console.log(`[${name}] console: ${msg.text()}`); });
  await page.goto(url, { timeout: 30000 });
  return page;
}

// openFirefoxHarness opens the harness page in Firefox.
export async function openFirefoxHarness(browser, server, name) {
  const page = await openFirefoxPage(browser, `${server.http}/harness.html`, name);
  await page.waitForFunction(() => window.harness !== undefined, { timeout: 20000 });
  return page;
}

// closeFirefox closes a puppeteer browser, killing its process group
// (wrapper, Firefox, bridge) when it does not end within 15 s.
export async function closeFirefox(browser) {
  const proc = browser.process();
  const closed = browser.close().then(() => true, () => false);
  const ok = await Promise.race([closed, new Promise((r) => setTimeout(() => r(false), 15000))]);
  if (!ok && proc && proc.exitCode === null) {
    try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
  }
}
