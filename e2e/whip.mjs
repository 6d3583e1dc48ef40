// Browser side of the WHIP/WHEP tests: what a plain web page does with an
// RTCPeerConnection and fetch, no mediasoup-client. Each function runs in
// a page (page.evaluate) and keeps its state on window.whip.

// publish sends the fake camera and microphone to POST /whip/{room} and
// resolves {status, location, answer}; with simulcast, the camera goes as
// three layers named by RID (q, h, f: a quarter, half and full size).
export async function publish({ room, token, simulcast }) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } });
  const pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) {
    const init = { direction: 'sendonly', streams: [stream] };
    if (simulcast && track.kind === 'video') {
      init.sendEncodings = [{ rid: 'q', scaleResolutionDownBy: 4 }, { rid: 'h', scaleResolutionDownBy: 2 }, { rid: 'f' }];
    }
    pc.addTransceiver(track, init);
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
