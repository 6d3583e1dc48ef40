// Connects a mediasoup-client 2.4.12 Room to gosoup over protoo, exactly
// as the mediasoup-demo v2 RoomClient did.
import * as mediasoupClient from 'mediasoup-client';
import protooClient from 'protoo-client';

export function serverUrl(roomId, peerName) {
  const params = new URLSearchParams(location.search);
  const base = params.get('server') ||
    `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
  const url = new URL(base);
  url.searchParams.set('roomId', roomId);
  url.searchParams.set('peerName', peerName);
  // A join token (servers started with --auth-secret) rides along from the
  // page's own address: ?token=...
  const token = params.get('token');
  if (token) url.searchParams.set('token', token);
  return url.toString();
}

// tokenGrants returns what the page's ?token= allows, read from the
// token's payload (a JWT: its claims are readable, only the server can
// check them): { peer, publish: [kinds], subscribe }, or null without a
// token. A token without a "grants" claim is a participant's.
export function tokenGrants() {
  const token = new URLSearchParams(location.search).get('token');
  if (!token) return null;
  try {
    const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(b64));
    const g = claims.grants || { publish: ['audio', 'video'], subscribe: true };
    return {
      peer: claims.peer || '',
      publish: claims.spy ? [] : (g.publish || []),
      subscribe: Boolean(g.subscribe)
    };
  } catch {
    return null;
  }
}

// fetchIceServers returns the TURN servers the gosoup server of a
// signaling URL offers (GET /ice-servers, with the URL's peer name and
// join token), or [] when it offers none or cannot be asked.
export async function fetchIceServers(url) {
  const ws = new URL(url);
  const u = new URL('/ice-servers', ws.protocol === 'wss:' ? `https://${ws.host}` : `http://${ws.host}`);
  for (const k of ['peerName', 'token']) {
    if (ws.searchParams.get(k)) u.searchParams.set(k, ws.searchParams.get(k));
  }
  try {
    const r = await fetch(u, { cache: 'no-store' });
    if (!r.ok) return [];
    const body = await r.json();
    return Array.isArray(body.iceServers) ? body.iceServers : [];
  } catch {
    return [];
  }
}

// openSession resolves once the protoo WebSocket is open; the returned
// object holds the mediasoup Room wired to it. The Room gets the server's
// TURN servers (unless roomOptions has turnServers); the page's ?relay=1
// makes it use them only (iceTransportPolicy 'relay').
export async function openSession(url, roomOptions = {}, onDemoNotification = () => {}) {
  const relayOnly = new URLSearchParams(location.search).get('relay') === '1';
  const turnServers = roomOptions.turnServers || await fetchIceServers(url);
  const transport = new protooClient.WebSocketTransport(url, { retry: { retries: 2 } });
  const protoo = new protooClient.Peer(transport);
  const room = new mediasoupClient.Room({
    requestTimeout: 12000,
    transportOptions: { tcp: false },
    turnServers,
    ...(relayOnly ? { iceTransportPolicy: 'relay' } : {}),
    ...roomOptions
  });
  const demoNotifications = [];
  // trace records every mediasoup message, in the shape of mediasoup's recorded traces.
  const trace = [];
  const record = (dir, type, method, data) =>
    trace.push({ dir, type, method, data: JSON.parse(JSON.stringify(data === undefined ? {} : data)) });

  room.on('request', (request, callback, errback) => {
    record('out', 'request', request.method, request);
    protoo.send('mediasoup-request', request)
      .then((data) => { record('in', 'response', request.method, data); callback(data); })
      .catch((err) => { record('in', 'error', request.method, { error: String(err) }); errback(err); });
  });
  room.on('notify', (notification) => {
    record('out', 'notification', notification.method, notification);
    protoo.notify('mediasoup-notification', notification).catch(() => {});
  });
  protoo.on('notification', (notification) => {
    if (notification.method === 'mediasoup-notification') {
      record('in', 'notification', notification.data.method, notification.data);
      room.receiveNotification(notification.data);
    } else {
      demoNotifications.push(notification);
      onDemoNotification(notification);
    }
  });
  protoo.on('request', (request, accept, reject) => reject(400, 'not supported'));

  return new Promise((resolve, reject) => {
    protoo.on('open', () => resolve({ protoo, room, demoNotifications, trace }));
    protoo.on('failed', () => reject(new Error('WebSocket connection failed')));
  });
}

export { mediasoupClient };
