// Cluster helpers shared by the tests that run several gosoup nodes on one
// Redis: a redis-server of the test's own, and nodes started on loopback
// with a shared --cluster-secret.
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { repo, serverEnv, freePort, sleep } from './lib.mjs';

// waitRedis resolves once redis-server answers PING on port.
async function waitRedis(port, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
      s.on('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
      s.on('error', () => resolve(false));
      s.setTimeout(500, () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error('redis-server did not answer');
}

// startRedis runs a redis-server on a free loopback port, keeping nothing
// on disk but in dir; it resolves once the server answers, to { url, stop }.
export async function startRedis(dir) {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' });
  try {
    await waitRedis(port);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return { url: `redis://127.0.0.1:${port}`, proc, stop: () => proc.kill('SIGKILL') };
}

// newClusterSecret returns a fresh --cluster-secret for the nodes of one
// test's cluster.
export function newClusterSecret() {
  return crypto.randomBytes(24).toString('hex');
}

// startNode runs one gosoup node (binary bin) of the cluster on Redis
// redisURL, on loopback, with extra flags args; it resolves once the node
// answers /healthz, to { id, proc, http, ws }.
export async function startNode(bin, id, { redisURL, secret, args = [] }) {
  const port = await freePort();
  const proc = spawn(bin, [
    '--listen', `127.0.0.1:${port}`, '--web', path.join(repo, 'web', 'dist'),
    '--rtc-listen-ip', '127.0.0.1', '--rtc-port', '0', '--announced-ip', '127.0.0.1',
    '--redis', redisURL, '--node-id', id, '--log-level', process.env.GOSOUP_LOG || 'warn', ...args
  ], { stdio: ['ignore', 'inherit', 'inherit'], env: serverEnv({ GOSOUP_CLUSTER_SECRET: secret }) });
  const http = `http://127.0.0.1:${port}`;
  const end = Date.now() + 20000;
  for (;;) {
    try { if ((await fetch(`${http}/healthz`)).ok) break; } catch { /* not yet */ }
    if (Date.now() > end || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      throw new Error(`node ${id} did not start`);
    }
    await sleep(200);
  }
  return { id, proc, http, ws: `ws://127.0.0.1:${port}` };
}
