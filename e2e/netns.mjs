// A network namespace for one browser, joined to the host by a veth pair:
// traffic from gosoup (on the host end) to the browser (inside) can be
// rate-limited with tc tbf on the host end. Needs root, ip and tc.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// netnsSupport returns null when namespaces can be used, else why not.
export function netnsSupport() {
  if (!process.getuid || process.getuid() !== 0) return 'needs root (ip netns, tc)';
  for (const tool of ['ip', 'tc']) {
    if (spawnSync(tool, ['-V']).error) return `needs ${tool} (Debian package iproute2)`;
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
// 10.213.N.2 inside, and a Chromium wrapper that runs inside it.
export function createNetns() {
  const n = (process.pid % 200) + 20;
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
    // cap limits what goes from the host to the namespace (tbf).
    cap(bps) {
      run('tc', 'qdisc', 'replace', 'dev', host, 'root', 'tbf', 'rate', `${Math.round(bps)}bit`,
        'burst', '20kb', 'latency', '60ms');
    },
    // uncap removes the limit.
    uncap() { tryRun('tc', 'qdisc', 'del', 'dev', host, 'root'); },
    close() {
      tryRun('ip', 'link', 'del', host);
      tryRun('ip', 'netns', 'del', ns);
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
