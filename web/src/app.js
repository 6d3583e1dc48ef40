// gosoup demo page: join a room with camera and microphone, see and hear
// the others.
import { openSession, serverUrl, mediasoupClient, tokenGrants } from './session.js';

const $ = (sel) => document.querySelector(sel);
const params = new URLSearchParams(location.search);
let roomId = params.get('roomId');
if (!roomId) {
  roomId = Math.random().toString(36).slice(2, 10);
  params.set('roomId', roomId);
  history.replaceState(null, '', `${location.pathname}?${params}`);
}

// ?simulcast=1 sends the camera as three layers (320x180, 640x360,
// 1280x720); every remote video then has a profile selector.
const simulcast = params.get('simulcast') === '1';

const state = { room: null, session: null, producers: {}, tiles: new Map(), stream: null };
window.demo = state;

function status(text) { $('#status').textContent = text; }

function tileFor(key, label) {
  let tile = state.tiles.get(key);
  if (tile) return tile;
  tile = document.createElement('figure');
  tile.className = 'tile';
  tile.dataset.peer = key;
  tile.innerHTML = '<video autoplay playsinline></video><figcaption></figcaption>';
  tile.querySelector('figcaption').textContent = label;
  tile.stream = new MediaStream();
  tile.querySelector('video').srcObject = tile.stream;
  $('#tiles').appendChild(tile);
  state.tiles.set(key, tile);
  return tile;
}

function removeTile(key) {
  const tile = state.tiles.get(key);
  if (tile) { tile.remove(); state.tiles.delete(key); }
}

function displayName(peer) {
  return (peer.appData && peer.appData.displayName) || peer.name;
}

// Big rooms (a server with --audio-slots or --last-n, docs/protocol.md):
// the audio of the room-level peer "audio-slots" plays through one tile
// per slot, captioned with the peer the slot carries (the audioSlot
// notification); only peers whose video is offered get a tile, other
// peers' audio plays without one.
const AUDIO_SLOTS = 'audio-slots';
const BIG_ROOM_PEERS = 24;
const slotSpeakers = new Map(); // slot index -> peer name ('' for nobody)

function slotIndex(consumer) {
  const slot = consumer.appData && consumer.appData.slot;
  return Number.isInteger(slot) ? slot : 0;
}

// showSlots captions each slot tile with its speaker and marks the video
// tiles of the peers the slots carry.
function showSlots() {
  const carried = new Set();
  for (const [slot, name] of slotSpeakers) {
    const tile = state.tiles.get(`slot-${slot}`);
    if (name) carried.add(name);
    if (!tile) continue;
    const peer = name && state.room && state.room.getPeerByName(name);
    tile.querySelector('figcaption').textContent = name ? `🔊 ${peer ? displayName(peer) : name}` : `slot ${slot + 1}: quiet`;
    tile.dataset.speaker = name;
    tile.classList.toggle('quiet', !name);
  }
  for (const [key, tile] of state.tiles) {
    if (!tile.classList.contains('slot')) tile.classList.toggle('in-slot', carried.has(key));
  }
}

function onAudioSlot(n) {
  slotSpeakers.set(n.slot, n.speakerPeerName || '');
  showSlots();
}

function addConsumer(consumer, recvTransport) {
  const peer = consumer.peer;
  let tile;
  if (peer.name === AUDIO_SLOTS) {
    const slot = slotIndex(consumer);
    tile = tileFor(`slot-${slot}`, `slot ${slot + 1}: quiet`);
    tile.classList.add('slot');
    if (!slotSpeakers.has(slot)) slotSpeakers.set(slot, '');
  } else if (!state.bigRoom || consumer.kind === 'video') {
    tile = tileFor(peer.name, displayName(peer));
  }
  showSlots();
  const holder = tile || $('#tiles');
  consumer.receive(recvTransport)
    .then((track) => {
      if (track.kind === 'audio') {
        const audio = document.createElement('audio');
        audio.autoplay = true;
        audio.srcObject = new MediaStream([track]);
        audio.dataset.consumer = consumer.id;
        holder.appendChild(audio);
      } else if (tile) {
        tile.stream.addTrack(track);
        tile.querySelector('video').play().catch(() => {});
      }
    })
    .catch((err) => console.warn('consumer.receive() failed', err));
  if (!tile) {
    consumer.on('close', () => { const a = holder.querySelector(`audio[data-consumer="${consumer.id}"]`); if (a) a.remove(); });
    return;
  }
  if (consumer.kind === 'video') addProfileControl(tile, consumer);
  consumer.on('pause', () => tile.classList.toggle(`paused-${consumer.kind}`, true));
  consumer.on('resume', () => tile.classList.toggle(`paused-${consumer.kind}`, false));
  consumer.on('close', () => {
    if (consumer.track) tile.stream.removeTrack(consumer.track);
    const a = tile.querySelector(`audio[data-consumer="${consumer.id}"]`);
    if (a) a.remove();
    // In a big room a peer's tile goes with its last video (last-N).
    if (state.bigRoom && consumer.kind === 'video' && !peer.consumers.some((c) => !c.closed && c.kind === 'video')) removeTile(peer.name);
  });
}

// addProfileControl shows the consumer's effective simulcast profile and
// lets the user prefer one (setConsumerPreferredProfile).
function addProfileControl(tile, consumer) {
  const box = document.createElement('div');
  box.className = 'profile';
  box.innerHTML = '<select><option value="default">auto</option><option>low</option><option>medium</option><option>high</option></select> <span></span>';
  const select = box.querySelector('select');
  const shown = box.querySelector('span');
  select.addEventListener('change', () => consumer.setPreferredProfile(select.value));
  consumer.on('effectiveprofilechange', (profile) => { shown.textContent = profile; });
  consumer.on('close', () => box.remove());
  tile.appendChild(box);
}

function addPeer(peer, recvTransport) {
  if (!state.bigRoom) tileFor(peer.name, displayName(peer));
  peer.on('close', () => removeTile(peer.name));
  if (!recvTransport) return; // the token does not allow receiving
  peer.on('newconsumer', (c) => addConsumer(c, recvTransport));
  for (const c of peer.consumers) addConsumer(c, recvTransport);
}

// scaleLayers makes the browser send the low, medium and high layers at
// 1/4, 1/2 and full size. Chrome does not downscale layers added by
// mediasoup-client's SDP munging (its encodings have no rid, low first);
// Firefox's carry rids named after their profile (high1, medium1, low1).
async function scaleLayers(transport, producer) {
  const sender = transport._handler._pc.getSenders().find((x) => x.track === producer.track);
  if (!sender) return;
  const p = sender.getParameters();
  const byRid = (rid) => (rid.startsWith('low') ? 4 : rid.startsWith('medium') ? 2 : 1);
  p.encodings.forEach((e, i) => { e.scaleResolutionDownBy = e.rid ? byRid(e.rid) : [4, 2, 1][i] || 1; });
  await sender.setParameters(p).catch((err) => console.warn('setParameters failed', err));
}

async function join() {
  const name = $('#name').value.trim() || 'guest';
  localStorage.setItem('gosoup.displayName', name);
  // With a join token the peer name is the token's; its grants say what
  // this page may send and receive (the server enforces them).
  const grants = tokenGrants() || { peer: '', publish: ['audio', 'video'], subscribe: true };
  const peerName = grants.peer || `${name.replace(/[^\w-]/g, '').slice(0, 20) || 'guest'}-${Math.random().toString(36).slice(2, 6)}`;
  state.peerName = peerName;
  $('#join').disabled = true;
  status('connecting…');
  try {
    state.session = await openSession(serverUrl(roomId, peerName), {}, (n) => {
      if (n.method === 'active-speaker') {
        for (const [key, tile] of state.tiles) {
          tile.classList.toggle('speaking', key === n.data.peerName || (key === 'me' && n.data.peerName === peerName));
        }
      }
    });
    const room = state.room = state.session.room;
    room.on('close', (originator) => { status(`disconnected (${originator})`); leaveUi(); });
    // mediasoup-client ignores audioSlot (not a v2 notification): read it
    // on its way in.
    const receive = room.receiveNotification.bind(room);
    room.receiveNotification = (n) => { if (n && n.method === 'audioSlot') onAudioSlot(n); return receive(n); };
    const peers = await room.join(peerName, { displayName: name, device: mediasoupClient.getDeviceInfo() });
    state.bigRoom = peers.length > BIG_ROOM_PEERS || peers.some((p) => p.name === AUDIO_SLOTS);
    const recvTransport = grants.subscribe ? room.createTransport('recv', { media: 'RECV' }) : null;
    room.on('newpeer', (peer) => addPeer(peer, recvTransport));
    for (const peer of peers) addPeer(peer, recvTransport);
    document.body.classList.add('joined');
    const limits = [];
    if (grants.publish.length < 2) limits.push(grants.publish.length ? `only ${grants.publish.join(' and ')} may be sent` : 'nothing may be sent');
    if (!grants.subscribe) limits.push('nothing may be received');
    status(`in room ${roomId}${limits.length ? ` — your token allows no more: ${limits.join(', ')}` : ''}`);
    $('#grants').textContent = limits.length ? `token: ${limits.join(', ')}` : '';
    if (grants.publish.length === 0) return;
    const sendTransport = room.createTransport('send', { media: 'SEND' });

    const me = tileFor('me', `${name} (you)`);
    me.classList.add('me');
    try {
      const size = simulcast ? { width: 1280, height: 720 } : { width: 640, height: 360 };
      state.stream = await navigator.mediaDevices.getUserMedia({
        audio: grants.publish.includes('audio'), video: grants.publish.includes('video') && size
      });
    } catch (err) {
      status(`in room ${roomId} — no camera/microphone: ${err.message}`);
      return;
    }
    const video = state.stream.getVideoTracks()[0];
    if (video) me.stream.addTrack(video);
    me.querySelector('video').muted = true;
    for (const track of state.stream.getTracks()) {
      if (!room.canSend(track.kind)) continue;
      const layered = simulcast && track.kind === 'video';
      const producer = room.createProducer(track.clone(), layered ? { simulcast: true } : null, { source: track.kind === 'audio' ? 'mic' : 'webcam' });
      state.producers[track.kind] = producer;
      await producer.send(sendTransport);
      if (layered) await scaleLayers(sendTransport, producer);
    }
  } catch (err) {
    console.error(err);
    status(`could not join: ${err.message || err}`);
    $('#join').disabled = false;
  }
}

function toggle(kind, button, onLabel, offLabel) {
  const producer = state.producers[kind];
  if (!producer) return;
  if (producer.paused) { producer.resume(); button.textContent = onLabel; button.classList.remove('off'); }
  else { producer.pause(); button.textContent = offLabel; button.classList.add('off'); }
  if (kind === 'video') tileFor('me').classList.toggle('paused-video', producer.paused);
}

// record starts or stops a recording of this peer's camera and microphone
// through the server's admin API (a server started with --record-dir; it
// answers loopback clients, or a ?token= with the admin grant for the room).
async function record(button) {
  const url = `/admin/rooms/${encodeURIComponent(roomId)}/recordings`;
  const headers = { 'Content-Type': 'application/json' };
  if (params.get('token')) headers.Authorization = `Bearer ${params.get('token')}`;
  button.disabled = true;
  try {
    const res = state.recording
      ? await fetch(`${url}/${state.recording}`, { method: 'DELETE', headers })
      : await fetch(url, { method: 'POST', headers, body: JSON.stringify({ peerName: state.peerName }) });
    const body = await res.json().catch(() => ({}));
    if (state.recording) {
      state.recording = null;
      button.textContent = 'Record';
      button.classList.remove('recording');
    }
    if (!res.ok) throw new Error(body.error || res.statusText);
    if (body.id) {
      state.recording = body.id;
      button.textContent = 'Stop recording';
      button.classList.add('recording');
      status(`recording to ${body.file}`);
    } else {
      status(`recorded ${body.file} (${(body.durationMs / 1000).toFixed(1)} s)`);
    }
  } catch (err) {
    status(`recording: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

function leaveUi() {
  state.recording = null;
  $('#rec').textContent = 'Record';
  $('#rec').classList.remove('recording');
  document.body.classList.remove('joined');
  for (const key of [...state.tiles.keys()]) removeTile(key);
  slotSpeakers.clear();
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  $('#join').disabled = false;
}

$('#name').value = localStorage.getItem('gosoup.displayName') || '';
$('#room').textContent = roomId;
$('#join').addEventListener('click', join);
$('#name').addEventListener('keydown', (e) => { if (e.key === 'Enter') join(); });
$('#mic').addEventListener('click', (e) => toggle('audio', e.currentTarget, 'Mute', 'Unmute'));
$('#cam').addEventListener('click', (e) => toggle('video', e.currentTarget, 'Camera off', 'Camera on'));
$('#rec').addEventListener('click', (e) => record(e.currentTarget));
$('#leave').addEventListener('click', () => { if (state.room) state.room.leave(); state.session.protoo.close(); leaveUi(); status('left the room'); });
$('#copy').addEventListener('click', async () => {
  try { await navigator.clipboard.writeText(location.href); status('room link copied'); }
  catch { prompt('Share this link', location.href); }
});
