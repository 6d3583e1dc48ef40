// A network namespace for one browser, joined to the host by a veth pair:
// traffic from gosoup (on the host end) to the browser (inside) can be
// rate-limited with tc tbf on the host end. Needs root, ip and tc.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// netnsSupport returns null when namespaces can be used, else why not.
export function netnsSupport(tools = ['ip', 'tc']) {
  if (!process.getuid || process.getuid() !== 0) return 'needs root (ip netns, tc)';
  for (const tool of tools) {
    if (spawnSync(tool, ['-V']).error) return `needs ${tool} (Debian package ${tool === 'iptables' ? 'iptables' : 'iproute2'})`;
  }
  return null;
}

function run(...args) {
  execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

function tryRun(...args) {
  spawnSync(args[0], args.slice(1), { stdio: 'ignore' });
}

// createNetns makes namespace + veth, 10.213.N.1 on the host end and
// 10.213.N.2 inside, and a Chromium wrapper that runs inside it. index
// tells apart the namespaces of one process (a publisher's, a subscriber's).
export function createNetns(index = 0) {
  const n = ((process.pid + 37 * index) % 200) + 20;
  const ns = `gosoup-bw${n}`;
  const host = `gsbw${n}h`;
  const peer = `gsbw${n}p`;
  tryRun('ip', 'link', 'del', host);
  tryRun('ip', 'netns', 'del', ns);
  run('ip', 'netns', 'add', ns);
  run('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
  run('ip', 'link', 'set', peer, 'netns', ns);
  run('ip', 'addr', 'add', `10.213.${n}.1/24`, 'dev', host);
  run('ip', 'link', 'set', host, 'up');
  run('ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', `10.213.${n}.2/24`, 'dev', peer);
  run('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', peer, 'up');
  run('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  const dir = mkdtempSync(path.join(tmpdir(), 'gosoup-netns-'));
  const wrapper = path.join(dir, 'chromium');
  const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${chromium} "$@"\n`, { mode: 0o755 });
  return {
    hostIP: `10.213.${n}.1`,
    wrapper,
    // onlyFrom lets into the namespace only what the host sends from the
    // given [protocol, port] pairs (e.g. ['tcp', 3443]) and loopback: the
    // browser's packets still leave (a failed send would make Chromium
    // drop the socket), but every answer from another port is dropped. It
    // also adds a default route via the host (Chromium gathers no
    // candidate without one).
    onlyFrom(...allowed) {
      const ipt = (...a) => run('ip', 'netns', 'exec', ns, 'iptables', ...a);
      tryRun('ip', 'netns', 'exec', ns, 'ip', 'route', 'add', 'default', 'via', `10.213.${n}.1`);
      ipt('-F', 'INPUT');
      ipt('-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT');
      for (const [proto, port] of allowed) {
        ipt('-A', 'INPUT', '-p', proto, '-s', `10.213.${n}.1`, '--sport', String(port), '-j', 'ACCEPT');
      }
      ipt('-A', 'INPUT', '-j', 'DROP');
    },
    // cap limits what goes from the host to the namespace (tbf).
    cap(bps) {
      run('tc', 'qdisc', 'replace', 'dev', host, 'root', 'tbf', 'rate', `${Math.round(bps)}bit`,
        'burst', '20kb', 'latency', '60ms');
    },
    // uncap removes the limit.
    uncap() { tryRun('tc', 'qdisc', 'del', 'dev', host, 'root'); },
    // defaultRoute routes everything from the namespace via the host end
    // (Chromium gathers no candidate without a default route; the host's
    // other addresses are reachable through it).
    defaultRoute() { tryRun('ip', 'netns', 'exec', ns, 'ip', 'route', 'replace', 'default', 'via', `10.213.${n}.1`); },
    // dropUDP drops a random share p (0..1; 1: all, an outage) of the UDP
    // packets both ways (iptables statistic): into the namespace in its
    // INPUT chain, out of it in the host's INPUT chain (chain gsimpN; a
    // drop in the namespace's OUTPUT would fail Chromium's send). 0 clears.
    dropUDP(p) {
      const chain = `gsimp${n}`;
      const nsIpt = (...a) => run('ip', 'netns', 'exec', ns, 'iptables', ...a);
      tryRun('iptables', '-N', chain);
      if (spawnSync('iptables', ['-C', 'INPUT', '-i', host, '-j', chain]).status !== 0) run('iptables', '-I', 'INPUT', '-i', host, '-j', chain);
      run('iptables', '-F', chain);
      nsIpt('-F', 'INPUT');
      if (p <= 0) return;
      const match = p >= 1 ? [] : ['-m', 'statistic', '--mode', 'random', '--probability', String(p)];
      run('iptables', '-A', chain, '-p', 'udp', ...match, '-j', 'DROP');
      nsIpt('-A', 'INPUT', '-p', 'udp', ...match, '-j', 'DROP');
    },
    // capUDP limits the UDP both ways to bps (htb: host end toward the
    // namespace, namespace end toward the host; TCP is not limited). 0
    // removes the limit.
    capUDP(bps) {
      for (const pre of [[], ['ip', 'netns', 'exec', ns]]) {
        const dev = pre.length ? peer : host;
        const tc = (...a) => run(...pre, 'tc', ...a);
        if (pre.length) tryRun(...pre, 'tc', 'qdisc', 'del', 'dev', dev, 'root');
        else tryRun('tc', 'qdisc', 'del', 'dev', dev, 'root');
        if (bps <= 0) continue;
        tc('qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '10');
        tc('class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '1gbit');
        tc('class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:20', 'htb', 'rate', `${Math.round(bps)}bit`,
          'ceil', `${Math.round(bps)}bit`, 'burst', '6kb');
        tc('qdisc', 'add', 'dev', dev, 'parent', '1:20', 'handle', '20:', 'bfifo', 'limit', `${Math.max(6000, Math.round(bps / 8 * 0.1))}`);
        tc('filter', 'add', 'dev', dev, 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32',
          'match', 'ip', 'protocol', '17', '0xff', 'flowid', '1:20');
      }
    },
    close() {
      if (spawnSync('iptables', ['-D', 'INPUT', '-i', host, '-j', `gsimp${n}`]).status === 0) {
        tryRun('iptables', '-F', `gsimp${n}`);
        tryRun('iptables', '-X', `gsimp${n}`);
      }
      tryRun('ip', 'link', 'del', host);
      tryRun('ip', 'netns', 'del', ns);
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

// createTwoAddressNet makes two namespaces joined by a veth pair: "server"
// (interface addresses first = 10.214.N.1/24 and second = 10.214.N.11/24,
// as a host with a primary and a secondary address) and "client"
// (10.214.N.2/24, whose packets to the first server address are lost, so
// that it reaches the server only through the second one). run(ns, args) spawns a
// command inside ns; wrapper(ns) is a Chromium that runs inside ns.
export function createTwoAddressNet() {
  const n = (process.pid % 200) + 20;
  const srv = `gosoup-das${n}`;
  const cli = `gosoup-dac${n}`;
  const sIf = `gsda${n}s`;
  const cIf = `gsda${n}c`;
  const first = `10.214.${n}.1`;
  const second = `10.214.${n}.11`;
  const clientIP = `10.214.${n}.2`;
  for (const ns of [srv, cli]) tryRun('ip', 'netns', 'del', ns);
  for (const ns of [srv, cli]) run('ip', 'netns', 'add', ns);
  run('ip', 'link', 'add', sIf, 'netns', srv, 'type', 'veth', 'peer', 'name', cIf, 'netns', cli);
  const inNs = (ns, ...args) => run('ip', 'netns', 'exec', ns, ...args);
  inNs(srv, 'ip', 'addr', 'add', `${first}/24`, 'dev', sIf);
  inNs(srv, 'ip', 'addr', 'add', `${second}/24`, 'dev', sIf);
  inNs(cli, 'ip', 'addr', 'add', `${clientIP}/24`, 'dev', cIf);
  for (const [ns, dev] of [[srv, sIf], [cli, cIf]]) {
    inNs(ns, 'ip', 'link', 'set', dev, 'up');
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
  }
  // Packets to the first address go to a MAC address nobody has: they
  // vanish silently (a blackhole route would fail the send, and Chromium
  // drops a socket whose send fails).
  inNs(cli, 'ip', 'neigh', 'add', `10.214.${n}.99`, 'lladdr', '02:00:00:00:00:99', 'dev', cIf, 'nud', 'permanent');
  inNs(cli, 'ip', 'route', 'add', `${first}/32`, 'via', `10.214.${n}.99`, 'dev', cIf);
  // Chromium gathers no candidate on a host without a default route; the
  // server namespace does not forward, so nothing leaves the two.
  inNs(cli, 'ip', 'route', 'add', 'default', 'via', second);
  const dir = mkdtempSync(path.join(tmpdir(), 'gosoup-netns-'));
  const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
  const wrappers = {};
  for (const ns of [srv, cli]) {
    wrappers[ns] = path.join(dir, `chromium-${ns}`);
    writeFileSync(wrappers[ns], `#!/bin/sh\nexec ip netns exec ${ns} ${chromium} "$@"\n`, { mode: 0o755 });
  }
  return {
    server: srv,
    client: cli,
    first,
    second,
    wrapper: (ns) => wrappers[ns],
    // spawnIn starts a command inside ns (options as child_process.spawn).
    spawnIn: (ns, args, opts) => spawn('ip', ['netns', 'exec', ns, ...args], opts),
    close() {
      for (const ns of [srv, cli]) tryRun('ip', 'netns', 'del', ns);
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
