// A user-space UDP impairment relay for the quality-under-impairment runs
// (bench/impair/run.mjs): the kernel here has no netem, so delay, jitter and
// loss bursts are made in Node. It listens on listenIP at each of the given
// ports and forwards to targetIP at the same port (so a server that gives
// every transport its own port, as mediasoup does, can announce listenIP),
// one upstream socket per client address. Both directions go through
// impair(), whose settings can change while it runs:
//
//   delayMs, jitterMs  one-way delay, uniform in delayMs ± jitterMs per packet
//                      (packets may be reordered, as netem's jitter does)
//   burst              { everyMs, lenMs }: about every everyMs (uniformly
//                      0.5–1.5×), every packet is dropped for lenMs
//   down               every packet is dropped (an outage)
//
// A seeded PRNG makes runs comparable.
import dgram from 'node:dgram';

export async function startImpairRelay({ listenIP, targetIP, ports, seed = 1 }) {
  let state = seed;
  const rand = () => { state = (state * 1103515245 + 12345) % 2147483648; return state / 2147483648; };
  const cfg = { delayMs: 0, jitterMs: 0, burst: null, down: false };
  const stats = { forwarded: 0, dropped: 0 };
  let burstStart = Infinity;
  let burstEnd = 0;
  const scheduleBurst = (now) => {
    if (!cfg.burst) { burstStart = Infinity; return; }
    burstStart = now + cfg.burst.everyMs * (0.5 + rand());
    burstEnd = burstStart + cfg.burst.lenMs;
  };
  const drop = (now) => {
    if (cfg.down) return true;
    if (now >= burstEnd && burstStart !== Infinity && now >= burstStart) scheduleBurst(now);
    return now >= burstStart && now < burstEnd;
  };
  const deliver = (sock, msg, port, address) => {
    const now = Date.now();
    if (drop(now)) { stats.dropped++; return; }
    stats.forwarded++;
    const d = cfg.delayMs + (cfg.jitterMs ? (2 * rand() - 1) * cfg.jitterMs : 0);
    if (d <= 0) sock.send(msg, port, address);
    else setTimeout(() => sock.send(msg, port, address), d);
  };
  const sockets = [];
  for (const port of ports) {
    const front = dgram.createSocket('udp4');
    const clients = new Map();
    front.on('message', (msg, rinfo) => {
      const key = `${rinfo.address}:${rinfo.port}`;
      let up = clients.get(key);
      if (!up) {
        up = dgram.createSocket('udp4');
        up.bind(0, listenIP);
        up.on('message', (m) => deliver(front, m, rinfo.port, rinfo.address));
        up.on('error', () => {});
        clients.set(key, up);
        sockets.push(up);
      }
      deliver(up, msg, port, targetIP);
    });
    front.on('error', () => {});
    await new Promise((resolve, reject) => { front.once('error', reject); front.bind(port, listenIP, resolve); });
    sockets.push(front);
  }
  return {
    stats,
    // impair replaces the settings (missing fields: no impairment).
    impair(settings = {}) {
      Object.assign(cfg, { delayMs: 0, jitterMs: 0, burst: null, down: false }, settings);
      scheduleBurst(Date.now());
    },
    close() { for (const s of sockets) { try { s.close(); } catch { /* closed */ } } }
  };
}

// Run as a program (its own process, so that nothing else delays the
// packets): node relay.mjs LISTEN_IP TARGET_IP PORT... ; prints "READY",
// then takes one JSON settings object per line on standard input.
if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const [listenIP, targetIP, ...ports] = process.argv.slice(2);
  const relay = await startImpairRelay({ listenIP, targetIP, ports: ports.map(Number) });
  let buf = '';
  process.stdin.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) relay.impair(JSON.parse(line));
    }
  });
  process.stdin.on('end', () => { relay.close(); process.exit(0); });
  console.log('READY');
}
