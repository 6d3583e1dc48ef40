// Test harness page for the browser end-to-end tests: a thin async API on
// window.harness over the real mediasoup-client 2.4.12.
import { openSession, serverUrl, mediasoupClient } from './session.js';

const state = {
  session: null,
  room: null,
  sendTransport: null,
  recvTransport: null,
  producers: {},
  consumers: [],
  events: [],
  stream: null
};

function log(event, data) {
  state.events.push({ t: Date.now(), event, ...data });
}

function watchConsumer(consumer) {
  state.consumers.push(consumer);
  log('newconsumer', { id: consumer.id, kind: consumer.kind, peer: consumer.peer.name });
  consumer.on('pause', (originator) => log('consumer-pause', { id: consumer.id, kind: consumer.kind, originator }));
  consumer.on('resume', (originator) => log('consumer-resume', { id: consumer.id, kind: consumer.kind, originator }));
  consumer.on('close', (originator) => log('consumer-close', { id: consumer.id, kind: consumer.kind, originator }));
  consumer.on('effectiveprofilechange', (profile) => log('effectiveprofile', { id: consumer.id, profile }));
  consumer.receive(state.recvTransport)
    .then((track) => {
      log('consumer-track', { id: consumer.id, kind: consumer.kind });
      const el = document.createElement(consumer.kind === 'video' ? 'video' : 'audio');
      el.autoplay = true;
      el.muted = true;
      el.playsInline = true;
      el.srcObject = new MediaStream([track]);
      el.dataset.consumer = String(consumer.id);
      document.body.appendChild(el);
    })
    .catch((err) => log('consumer-error', { id: consumer.id, error: String(err) }));
}

function watchPeer(peer) {
  log('newpeer', { name: peer.name });
  peer.on('close', (originator) => log('peer-close', { name: peer.name, originator }));
  peer.on('newconsumer', watchConsumer);
  for (const consumer of peer.consumers) watchConsumer(consumer);
}

window.harness = {
  device: () => mediasoupClient.getDeviceInfo(),

  async join(roomId, peerName, options = {}) {
    state.session = await openSession(serverUrl(roomId, peerName), options.roomOptions || {});
    const room = state.room = state.session.room;
    room.on('newpeer', watchPeer);
    room.on('close', (originator) => log('room-close', { originator }));
    const peers = await room.join(peerName, { displayName: peerName, device: mediasoupClient.getDeviceInfo() });
    state.recvTransport = room.createTransport('recv', { media: 'RECV' });
    if (!options.spy) state.sendTransport = room.createTransport('send', { media: 'SEND' });
    for (const peer of peers) watchPeer(peer);
    log('joined', { peers: peers.map((p) => p.name) });
    return peers.map((p) => p.name);
  },

  async produce(kind, options = {}) {
    if (!state.stream) {
      state.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: options.width || 640, height: options.height || 360 } });
    }
    const track = (kind === 'audio' ? state.stream.getAudioTracks() : state.stream.getVideoTracks())[0].clone();
    const producer = state.room.createProducer(track, options.simulcast ? { simulcast: true } : null, { source: kind === 'audio' ? 'mic' : 'webcam' });
    await producer.send(state.sendTransport);
    state.producers[kind] = producer;
    return producer.id;
  },

  // scaleSimulcast asks Chrome to downscale the simulcast layers of the
  // video producer (e.g. [4, 2, 1]) through RTCRtpSender.setParameters, as
  // an app can: Chrome does not downscale layers added by SDP munging.
  async scaleSimulcast(factors) {
    const producer = state.producers.video;
    const pc = state.sendTransport._handler._pc;
    const sender = pc.getSenders().find((s) => s.track === producer.track);
    const params = sender.getParameters();
    params.encodings.forEach((e, i) => { if (factors[i]) e.scaleResolutionDownBy = factors[i]; });
    await sender.setParameters(params);
    return sender.getParameters().encodings.map((e) => e.scaleResolutionDownBy);
  },

  // sendBandwidth is Chrome's own estimate of what it may send
  // (availableOutgoingBitrate of the send transport's candidate pair).
  async sendBandwidth() {
    const pc = state.sendTransport && state.sendTransport._handler._pc;
    if (!pc) return 0;
    let bw = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) bw = s.availableOutgoingBitrate;
    });
    return bw;
  },

  // setPreferredProfile sets the preferred simulcast profile of every open
  // video consumer (setConsumerPreferredProfile).
  setPreferredProfile(profile) {
    for (const c of state.consumers) if (!c.closed && c.kind === 'video') c.setPreferredProfile(profile);
  },
  effectiveProfiles: () => state.events.filter((e) => e.event === 'effectiveprofile').map((e) => ({ t: e.t, profile: e.profile })),

  producerParameters: (kind) => state.producers[kind].rtpParameters,

  pauseProducer(kind) { state.producers[kind].pause(); },
  resumeProducer(kind) { state.producers[kind].resume(); },
  closeProducer(kind) { state.producers[kind].close(); delete state.producers[kind]; },
  leave() { state.room.leave(); },

  // enableStats turns on mediasoup stats for every transport, producer and
  // consumer; the last report of each kind is kept in state.stats.
  enableStats(interval = 1000) {
    state.stats = state.stats || {};
    const keep = (kind) => (stats) => { state.stats[kind] = stats; };
    for (const t of [state.sendTransport, state.recvTransport]) {
      if (!t) continue;
      t.on('stats', keep(`transport-${t.direction}`));
      t.enableStats(interval);
    }
    for (const [kind, p] of Object.entries(state.producers)) {
      p.on('stats', keep(`producer-${kind}`));
      p.enableStats(interval);
    }
    for (const c of state.consumers) {
      if (c.closed) continue;
      c.on('stats', keep(`consumer-${c.kind}`));
      c.enableStats(interval);
    }
  },
  lastStats: () => state.stats || {},
  restartIce() { state.room.restartIce(); },
  iceState: () => ({
    send: state.sendTransport && state.sendTransport.connectionState,
    recv: state.recvTransport && state.recvTransport.connectionState
  }),
  // selectedRemotes gives, per transport direction, the server address and
  // port of the ICE candidate pair Chromium selected.
  async selectedRemotes() {
    const out = {};
    for (const t of [state.sendTransport, state.recvTransport]) {
      const pc = t && t._handler && t._handler._pc;
      if (!pc) continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
        const pair = report.get(s.selectedCandidatePairId);
        const remote = pair && report.get(pair.remoteCandidateId);
        if (remote) out[t.direction] = { address: remote.address || remote.ip, port: remote.port };
      });
    }
    return out;
  },
  events: () => state.events,
  trace: () => (state.session ? state.session.trace : []),
  consumers: () => state.consumers.map((c) => ({
    id: c.id, kind: c.kind, peer: c.peer.name, paused: c.paused, closed: c.closed
  })),

  // Aggregated inbound-rtp stats of the receive transport's RTCPeerConnection.
  async stats() {
    const out = { framesDecoded: 0, videoPackets: 0, audioPackets: 0, audioSamples: 0, freezeCount: 0, freezeSeconds: 0, nackCount: 0, videoLost: 0 };
    const handler = state.recvTransport && state.recvTransport._handler;
    if (!handler || !handler._pc) return out;
    const report = await handler._pc.getStats();
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      if (s.kind === 'video') {
        out.framesDecoded += s.framesDecoded || 0;
        out.videoPackets += s.packetsReceived || 0;
        out.freezeCount += s.freezeCount || 0;
        out.freezeSeconds += s.totalFreezesDuration || 0;
        out.nackCount += s.nackCount || 0;
        out.videoLost += s.packetsLost || 0;
        out.frameWidth = s.frameWidth || 0;
        out.frameHeight = s.frameHeight || 0;
      } else if (s.kind === 'audio') {
        out.audioPackets += s.packetsReceived || 0;
        out.audioSamples += s.totalSamplesReceived || 0;
      }
    });
    return out;
  }
};
document.title = 'gosoup harness ready';
