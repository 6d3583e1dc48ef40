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
  return url.toString();
}

// openSession resolves once the protoo WebSocket is open; the returned
// object holds the mediasoup Room wired to it.
export function openSession(url, roomOptions = {}) {
  const transport = new protooClient.WebSocketTransport(url, { retry: { retries: 2 } });
  const protoo = new protooClient.Peer(transport);
  const room = new mediasoupClient.Room({
    requestTimeout: 12000,
    transportOptions: { udp: true, tcp: false },
    ...roomOptions
  });
  const demoNotifications = [];

  room.on('request', (request, callback, errback) => {
    protoo.send('mediasoup-request', request).then(callback).catch(errback);
  });
  room.on('notify', (notification) => {
    protoo.notify('mediasoup-notification', notification).catch(() => {});
  });
  protoo.on('notification', (notification) => {
    if (notification.method === 'mediasoup-notification') {
      room.receiveNotification(notification.data);
    } else {
      demoNotifications.push(notification);
    }
  });
  protoo.on('request', (request, accept, reject) => reject(400, 'not supported'));

  return new Promise((resolve, reject) => {
    protoo.on('open', () => resolve({ protoo, room, demoNotifications }));
    protoo.on('failed', () => reject(new Error('WebSocket connection failed')));
  });
}

export { mediasoupClient };
