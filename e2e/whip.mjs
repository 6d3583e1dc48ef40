// Browser side of the WHIP/WHEP tests: what a plain web page does with an
// RTCPeerConnection and fetch, no mediasoup-client. Each function runs in
// a page (page.evaluate) and keeps its state on window.whip.

// publish sends the fake camera and microphone to POST /whip/{room} and
// resolves {status, location, answer}; with simulcast, the camera goes as
// three layers named by RID (q, h, f: a quarter, half and full size).
// codec ("video/VP9", ...) puts that codec alone in the video section
// (setCodecPreferences, with its RTX); encodings replaces the video
// sendEncodings (e.g. [{scalabilityMode: 'L3T3_KEY'}]); videoOnly leaves
// the microphone out.
export async function publish({ room, token, simulcast, codec, encodings, videoOnly }) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: !videoOnly, video: { width: 1280, height: 720 } });
  const pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) {
    const init = { direction: 'sendonly', streams: [stream] };
    if (simulcast && track.kind === 'video') {
      init.sendEncodings = [{ rid: 'q', scaleResolutionDownBy: 4 }, { rid: 'h', scaleResolutionDownBy: 2 }, { rid: 'f' }];
    }
    if (encodings && track.kind === 'video') init.sendEncodings = encodings;
    const tr = pc.addTransceiver(track, init);
    if (codec && track.kind === 'video') {
      const all = RTCRtpSender.getCapabilities('video').codecs;
      const want = all.filter((c) => c.mimeType.toLowerCase() === codec.toLowerCase());
      if (want.length === 0) return { status: 0, body: `this browser cannot send ${codec}` };
      tr.setCodecPreferences([...want, ...all.filter((c) => /rtx/i.test(c.mimeType))]);
    }
  }
  await pc.setLocalDescription(await pc.createOffer());
  const headers = { 'Content-Type': 'application/sdp' };
  if (token) headers.Authorization = `Bearer ${token}`;
  window.whip = { pc, postAt: Date.now() };
  const res = await fetch(`/whip/${encodeURIComponent(room)}`, { method: 'POST', headers, body: pc.localDescription.sdp });
  const answer = await res.text();
  if (res.status !== 201) return { status: res.status, body: answer };
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  window.whip.location = res.headers.get('Location');
  return { status: res.status, location: window.whip.location, answer };
}

// sent lists the video streams (outbound-rtp) the page's peer connection
// sends (codec, scalabilityMode, rid, frameWidth, framesEncoded) and
// Chromium's send estimate (availableOutgoingBitrate, bits per second).
export async function sent() {
  const streams = [];
  let bw = 0;
  const report = await window.whip.pc.getStats();
  report.forEach((s) => {
    if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) bw = s.availableOutgoingBitrate;
    if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
    const c = s.codecId && report.get(s.codecId);
    streams.push({
      ssrc: s.ssrc, rid: s.rid, codec: c ? c.mimeType : '', scalabilityMode: s.scalabilityMode,
      frameWidth: s.frameWidth || 0, framesEncoded: s.framesEncoded || 0, encoder: s.encoderImplementation
    });
  });
  return { streams, bw };
}

// play asks POST /whep/{path} for audio and video and shows them in a
// <video>; it resolves {status, location, answer}.
export async function play({ path }) {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  const el = document.createElement('video');
  el.autoplay = true;
  el.muted = true;
  el.playsInline = true;
  document.body.appendChild(el);
  const stream = new MediaStream();
  el.srcObject = stream;
  pc.ontrack = (e) => stream.addTrack(e.track);
  await pc.setLocalDescription(await pc.createOffer());
  window.whip = { pc, postAt: Date.now() };
  const res = await fetch(`/whep/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
  const answer = await res.text();
  if (res.status !== 201) return { status: res.status, body: answer };
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  window.whip.location = res.headers.get('Location');
  return { status: res.status, location: window.whip.location, answer };
}

// received lists the video streams (inbound-rtp) the page's peer
// connection decodes: a player that switched streams has several SSRCs.
export async function received() {
  const out = [];
  const report = await window.whip.pc.getStats();
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') out.push({ ssrc: s.ssrc, framesDecoded: s.framesDecoded || 0 });
  });
  return out;
}

// remove ends the session (DELETE on its Location) and resolves the status.
export async function remove() {
  const res = await fetch(window.whip.location, { method: 'DELETE' });
  window.whip.pc.close();
  return res.status;
}
