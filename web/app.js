// Tandem demo: a 1:1 (or small mesh) video call page built on the browser SDK. URL parameters:
//   ?room=NAME  ?name=DISPLAY  ?relay=1 (TURN only)  ?autojoin=1  ?token=JWT (join with this token: tests use
//   it to present bad or expired tokens)
import { Room, TandemError, drained, sha256Hex } from './sdk/tandem.js';

const $ = (selector, root = document) => root.querySelector(selector);
const params = new URLSearchParams(location.search);

const ui = {
  lobby: $('#lobby'),
  call: $('#call'),
  joinForm: $('#join-form'),
  roomInput: $('#room-input'),
  nameInput: $('#name-input'),
  relayInput: $('#relay-input'),
  joinButton: $('#join-button'),
  preview: $('#preview-video'),
  previewEmpty: $('#preview-empty'),
  status: $('#connection-status'),
  callTitle: $('#call-title'),
  roomName: $('#room-name'),
  copyLink: $('#copy-link'),
  banner: $('#error-banner'),
  bannerTitle: $('#error-title'),
  bannerMessage: $('#error-message'),
  grid: $('#remote-grid'),
  waiting: $('#waiting'),
  waitingRoom: $('#waiting-room'),
  localVideo: $('#local-video'),
  localName: $('#local-name'),
  localMicMuted: $('#local-mic-muted'),
  localCameraOff: $('#local-camera-off'),
  micButton: $('#mic-button'),
  cameraButton: $('#camera-button'),
  relayCallInput: $('#relay-call-input'),
  leaveButton: $('#leave-button'),
  chatLog: $('#chat-log'),
  chatForm: $('#chat-form'),
  chatInput: $('#chat-input'),
  chatBadge: $('#chat-badge'),
  filesBadge: $('#files-badge'),
  fileInput: $('#file-input'),
  dropzone: $('#dropzone'),
  transfers: $('#transfers'),
  stats: $('#stats'),
  statsEmpty: $('#stats-empty'),
};

/** The demo's state; `window.tandemDemo` exposes it to tests and to curious developers. */
const state = {
  /** @type {Room|null} */ room: null,
  /** @type {MediaStream|null} */ localStream: null,
  mediaError: null,
  tiles: new Map(), // peerId -> element
  statCards: new Map(), // peerId -> element
  incoming: new Map(), // `${peerId}/${id}` -> receive state
  activeTab: 'chat',
};
window.tandemDemo = state;

const ROOM_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const CHUNK = 64 * 1024;
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
const MAX_FILE = 512 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Lobby

function randomRoom() {
  const words = ['amber', 'cedar', 'delta', 'ember', 'harbor', 'juniper', 'maple', 'nova', 'orbit', 'quartz'];
  const word = words[Math.floor(Math.random() * words.length)];
  return `${word}-${Math.floor(1000 + Math.random() * 9000)}`;
}

ui.roomInput.value = params.get('room') ?? randomRoom();
ui.nameInput.value = params.get('name') ?? localStorage.getItem('tandem.name') ?? '';
ui.relayInput.checked = params.get('relay') === '1';

async function startPreview() {
  if (state.localStream) return state.localStream;
  try {
    state.localStream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: { echoCancellation: true, noiseSuppression: true },
    });
    state.mediaError = null;
  } catch (err) {
    // Join anyway (receive-only, chat and files still work), and say why there is no camera.
    state.mediaError = err;
    state.localStream = new MediaStream();
  }
  ui.preview.srcObject = state.localStream;
  ui.previewEmpty.hidden = state.localStream.getVideoTracks().length > 0;
  if (state.mediaError) ui.previewEmpty.textContent = 'Camera unavailable';
  return state.localStream;
}

ui.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  join();
});

async function join() {
  const room = ui.roomInput.value.trim();
  const name = ui.nameInput.value.trim();
  const token = params.get('token') || undefined;
  if (!token && !ROOM_PATTERN.test(room)) {
    showError(new TandemError('bad_request', 'Room names are 1–64 letters, digits, dots, dashes or underscores.'));
    ui.roomInput.focus();
    return;
  }
  if (!token && !name) {
    ui.nameInput.focus();
    return;
  }
  localStorage.setItem('tandem.name', name);
  hideError();
  ui.joinButton.disabled = true;
  ui.joinButton.textContent = 'Joining…';

  const stream = await startPreview();
  if (state.mediaError) {
    showError(new TandemError('media', `Camera or microphone unavailable (${state.mediaError.name}). You joined without them.`));
  }
  const room_ = new Room({
    room,
    identity: name,
    token,
    iceTransportPolicy: ui.relayInput.checked ? 'relay' : 'all',
    stream,
    dataChannels: [{ label: 'chat' }, { label: 'file' }],
    statsInterval: 1000,
  });
  state.room = room_;
  wireRoom(room_);
  try {
    await room_.join();
  } catch {
    // Shown by the error listener; back to the lobby.
    state.room = null;
    ui.joinButton.disabled = false;
    ui.joinButton.textContent = 'Join call';
    return;
  }
  enterCall(room_);
}

function enterCall(room) {
  ui.lobby.hidden = true;
  ui.call.hidden = false;
  ui.callTitle.hidden = false;
  ui.roomName.textContent = room.room;
  ui.waitingRoom.textContent = room.room;
  ui.localName.textContent = `${room.identity} (you)`;
  ui.localVideo.srcObject = state.localStream;
  ui.relayCallInput.checked = room.iceTransportPolicy === 'relay';
  const hasVideo = state.localStream?.getVideoTracks().length > 0;
  const hasAudio = state.localStream?.getAudioTracks().length > 0;
  ui.cameraButton.disabled = !hasVideo;
  ui.micButton.disabled = !hasAudio;
  ui.localCameraOff.hidden = hasVideo;
  document.body.classList.add('in-call');
  const url = new URL(location.href);
  url.searchParams.set('room', room.room);
  for (const key of ['token', 'autojoin', 'name']) url.searchParams.delete(key);
  history.replaceState(null, '', url);
  document.title = `${room.room} · Tandem`;
}

function leave() {
  state.room?.leave();
  state.room = null;
  for (const track of state.localStream?.getTracks() ?? []) track.stop();
  state.localStream = null;
  for (const tile of state.tiles.values()) tile.remove();
  state.tiles.clear();
  for (const card of state.statCards.values()) card.remove();
  state.statCards.clear();
  state.incoming.clear();
  ui.transfers.replaceChildren();
  ui.chatLog.replaceChildren(ui.chatLog.firstElementChild);
  updateGrid();
  ui.call.hidden = true;
  ui.callTitle.hidden = true;
  ui.lobby.hidden = false;
  ui.joinButton.disabled = false;
  ui.joinButton.textContent = 'Join call';
  setMicMuted(false, false);
  setCameraOff(false, false);
  document.body.classList.remove('in-call');
  document.title = 'Tandem — video calls';
  setStatus('idle', 'Left the call');
  startPreview();
}

ui.leaveButton.addEventListener('click', leave);
window.addEventListener('pagehide', () => state.room?.leave());

ui.copyLink.addEventListener('click', async () => {
  const url = new URL(location.origin + location.pathname);
  url.searchParams.set('room', state.room?.room ?? ui.roomInput.value);
  try {
    await navigator.clipboard.writeText(url.toString());
    flash(ui.copyLink, 'Copied');
  } catch {
    prompt('Invite link', url.toString());
  }
});

function flash(button, text) {
  const label = $('span', button);
  const old = label.textContent;
  label.textContent = text;
  setTimeout(() => (label.textContent = old), 1500);
}

// ---------------------------------------------------------------------------------------------------------------
// Room events

/** @param {Room} room */
function wireRoom(room) {
  room.on('statechange', ({ state: s }) => {
    const labels = { connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', closed: 'Disconnected' };
    setStatus(s, labels[s] ?? s);
    if (s === 'closed' && state.room === room && !ui.call.hidden) {
      // The room gave up (e.g. the token expired while reconnecting): the banner says why.
      setStatus('closed', 'Disconnected');
    }
  });
  room.on('error', (err) => {
    // Fatal errors (the room closed) and the ones a user can act on get the banner; the rest are expected races
    // (e.g. unknown_peer for a candidate sent just as that peer left) and go to the console.
    if (err.fatal || SHOWN_WARNINGS.has(err.code)) showError(err);
    else console.warn(`tandem: ${err.code}: ${err.message}`);
  });
  room.on('peer-joined', ({ peer }) => {
    addTile(peer);
    systemNote(`${peer.identity} joined`);
  });
  room.on('peer-left', ({ peer }) => {
    removeTile(peer);
    if (state.room === room) systemNote(`${peer.identity} left`);
  });
  room.on('track', ({ peer }) => {
    const tile = state.tiles.get(peer.id);
    const video = tile && $('video', tile);
    if (video && video.srcObject !== peer.stream) video.srcObject = peer.stream;
    video?.play().catch(() => {});
  });
  room.on('connectionstatechange', ({ peer, state: s }) => {
    const tile = state.tiles.get(peer.id);
    if (!tile) return;
    tile.dataset.state = s;
    const text = { new: 'Connecting…', connecting: 'Connecting…', connected: '', disconnected: 'Reconnecting…', failed: 'Connection lost — retrying…', closed: 'Left' }[s] ?? s;
    $('.tile-state', tile).textContent = text;
    $('.tile-state', tile).hidden = !text;
    if (s === 'connected' && ui.banner.dataset.code === 'ice_failed') hideError();
  });
  room.on('peer-updated', ({ peer }) => {
    const tile = state.tiles.get(peer.id);
    if (!tile) return;
    $('.mic-muted', tile).toggleAttribute('hidden', !peer.muted.audio); // an SVG element: no .hidden property
    $('.camera-off', tile).hidden = !peer.muted.video;
    tile.dataset.audioMuted = String(peer.muted.audio);
    tile.dataset.videoMuted = String(peer.muted.video);
  });
  room.on('datachannel', ({ peer, channel }) => {
    if (channel.label === 'chat') channel.addEventListener('message', (e) => onChat(peer, e.data));
    if (channel.label === 'file') channel.addEventListener('message', (e) => onFileMessage(peer, channel, e.data));
  });
  room.on('stats', ({ peer, stats }) => renderStats(peer, stats));
  room.on('message', ({ from, data }) => {
    // Server-relayed application messages (e.g. POST /api/rooms/{room}/messages) land in the chat as notices.
    if (typeof data?.text === 'string') systemNote(`${from}: ${data.text}`);
  });
}

function setStatus(stateName, label) {
  ui.status.dataset.state = stateName;
  $('.label', ui.status).textContent = label;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

const ERROR_TITLES = {
  bad_token: 'Invalid access token',
  token_expired: 'Access token expired',
  forbidden: 'Not allowed in this room',
  room_full: 'This room is full',
  too_many_connections: 'Too many connections',
  network: 'Cannot reach the server',
  signaling_failed: 'Could not connect',
  signaling_closed: 'Disconnected from the server',
  ice_failed: 'Connection problem',
  negotiation: 'Call setup problem',
  media: 'Camera or microphone unavailable',
  bad_request: 'Check the form',
  rate_limited: 'Slow down',
};

const SHOWN_WARNINGS = new Set(['ice_failed', 'media', 'datachannel', 'rate_limited']);

const ERROR_HINTS = {
  bad_token: 'The server rejected the token in your link. Ask for a new invite link.',
  token_expired: 'The token in your link has expired. Ask for a new invite link.',
};

/** @param {TandemError|Error} err */
function showError(err) {
  const code = err.code ?? 'error';
  ui.banner.dataset.code = code;
  ui.banner.dataset.severity = err.fatal === false ? 'warning' : 'error';
  ui.bannerTitle.textContent = ERROR_TITLES[code] ?? 'Something went wrong';
  const hint = ERROR_HINTS[code];
  ui.bannerMessage.textContent = hint ? `${hint} (${err.message})` : err.message;
  ui.banner.hidden = false;
}

function hideError() {
  ui.banner.hidden = true;
  delete ui.banner.dataset.code;
}

$('#error-dismiss').addEventListener('click', hideError);

// ---------------------------------------------------------------------------------------------------------------
// Video tiles

const initials = (name) =>
  (name ?? '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0].toUpperCase()).join('') || '?';

function addTile(peer) {
  if (state.tiles.has(peer.id)) return;
  const tile = $('#remote-tile-template').content.firstElementChild.cloneNode(true);
  tile.dataset.peerId = peer.id;
  tile.dataset.identity = peer.identity;
  tile.dataset.state = 'new';
  $('.name', tile).textContent = peer.identity;
  $('.avatar', tile).textContent = initials(peer.identity);
  const video = $('video', tile);
  video.srcObject = peer.stream;
  ui.grid.append(tile);
  state.tiles.set(peer.id, tile);
  updateGrid();
}

function removeTile(peer) {
  state.tiles.get(peer.id)?.remove();
  state.tiles.delete(peer.id);
  state.statCards.get(peer.id)?.remove();
  state.statCards.delete(peer.id);
  ui.statsEmpty.hidden = state.statCards.size > 0;
  updateGrid();
}

function updateGrid() {
  ui.grid.dataset.count = String(state.tiles.size);
  ui.waiting.hidden = state.tiles.size > 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Mute controls

function setMicMuted(muted, announce = true) {
  if (announce) state.room?.setMuted('audio', muted);
  ui.micButton.setAttribute('aria-pressed', String(muted));
  ui.micButton.title = muted ? 'Unmute microphone' : 'Mute microphone';
  ui.localMicMuted.toggleAttribute('hidden', !muted); // an SVG element: no .hidden property
}

function setCameraOff(off, announce = true) {
  if (announce) state.room?.setMuted('video', off);
  ui.cameraButton.setAttribute('aria-pressed', String(off));
  ui.cameraButton.title = off ? 'Turn camera on' : 'Turn camera off';
  ui.localCameraOff.hidden = !off;
}

ui.micButton.addEventListener('click', () => setMicMuted(ui.micButton.getAttribute('aria-pressed') !== 'true'));
ui.cameraButton.addEventListener('click', () => setCameraOff(ui.cameraButton.getAttribute('aria-pressed') !== 'true'));
ui.relayCallInput.addEventListener('change', () => {
  state.room?.setIceTransportPolicy(ui.relayCallInput.checked ? 'relay' : 'all');
  systemNote(ui.relayCallInput.checked ? 'Relay only: media now goes through the TURN server' : 'Direct connections allowed');
});

// ---------------------------------------------------------------------------------------------------------------
// Side panel tabs

for (const tab of document.querySelectorAll('.tab')) {
  tab.addEventListener('click', () => selectTab(tab.dataset.tab));
}

function selectTab(name) {
  state.activeTab = name;
  for (const tab of document.querySelectorAll('.tab')) tab.setAttribute('aria-selected', String(tab.dataset.tab === name));
  for (const panel of document.querySelectorAll('.tab-panel')) panel.hidden = panel.dataset.panel !== name;
  const badge = name === 'chat' ? ui.chatBadge : name === 'files' ? ui.filesBadge : null;
  if (badge) {
    badge.hidden = true;
    badge.textContent = '';
  }
}

function bumpBadge(name) {
  if (state.activeTab === name) return;
  const badge = name === 'chat' ? ui.chatBadge : ui.filesBadge;
  badge.textContent = String(Number(badge.textContent || 0) + 1);
  badge.hidden = false;
}

// ---------------------------------------------------------------------------------------------------------------
// Chat (data channel "chat": JSON {text, ts})

ui.chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.chatInput.value.trim();
  if (!text || !state.room) return;
  const sent = state.room.broadcast('chat', JSON.stringify({ type: 'chat', text, ts: Date.now() }));
  addChat({ author: 'You', text, ts: Date.now(), mine: true, delivered: sent > 0 });
  ui.chatInput.value = '';
});

function onChat(peer, raw) {
  let message;
  try {
    message = JSON.parse(raw);
  } catch {
    return;
  }
  if (message?.type !== 'chat' || typeof message.text !== 'string') return;
  addChat({ author: peer.identity, text: message.text, ts: Date.now(), mine: false });
  bumpBadge('chat');
}

function addChat({ author, text, ts, mine, delivered = true }) {
  const item = document.createElement('li');
  item.className = `msg${mine ? ' mine' : ''}`;
  item.dataset.testid = 'chat-message';
  item.dataset.author = author;
  const head = document.createElement('div');
  head.className = 'msg-head';
  const who = document.createElement('span');
  who.className = 'author';
  who.textContent = author;
  const time = document.createElement('time');
  time.textContent = new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  head.append(who, time);
  const body = document.createElement('p');
  body.className = 'text';
  body.dataset.testid = 'chat-text';
  body.textContent = text;
  item.append(head, body);
  if (!delivered) {
    const note = document.createElement('small');
    note.className = 'undelivered';
    note.textContent = 'Not delivered: nobody is connected';
    item.append(note);
  }
  ui.chatLog.append(item);
  ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}

function systemNote(text) {
  const item = document.createElement('li');
  item.className = 'system-note';
  item.textContent = text;
  ui.chatLog.append(item);
  ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}

// ---------------------------------------------------------------------------------------------------------------
// File transfer (data channel "file", reliable and ordered):
//   {"type":"file-start","id","name","size","mime"}  then binary chunks  then {"type":"file-end","id","sha256"}
//   the receiver answers {"type":"file-ack","id","sha256","ok"}.
// One transfer at a time per channel and direction (a queue), so chunks need no header.

const sendQueues = new Map(); // peerId -> Promise chain

ui.fileInput.addEventListener('change', () => {
  for (const file of ui.fileInput.files) sendFile(file);
  ui.fileInput.value = '';
});
for (const type of ['dragenter', 'dragover']) {
  ui.dropzone.addEventListener(type, (e) => {
    e.preventDefault();
    ui.dropzone.classList.add('over');
  });
}
for (const type of ['dragleave', 'drop']) ui.dropzone.addEventListener(type, () => ui.dropzone.classList.remove('over'));
ui.dropzone.addEventListener('drop', (e) => {
  e.preventDefault();
  for (const file of e.dataTransfer.files) sendFile(file);
});

const formatBytes = (n) =>
  n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : n < 1 << 30 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${(n / (1 << 30)).toFixed(2)} GB`;

function transferItem({ direction, name, size, peerName }) {
  const item = $('#transfer-template').content.firstElementChild.cloneNode(true);
  item.dataset.direction = direction;
  $('[data-testid=file-name]', item).textContent = name;
  $('[data-testid=file-meta]', item).textContent = `${formatBytes(size)} · ${direction === 'out' ? 'to' : 'from'} ${peerName}`;
  ui.transfers.prepend(item);
  return item;
}

function setTransfer(item, { status, text, progress, sha }) {
  if (status) item.dataset.status = status;
  if (text !== undefined) $('[data-testid=file-status]', item).textContent = text;
  if (progress !== undefined) $('progress', item).value = progress;
  if (sha !== undefined) $('[data-testid=file-sha256]', item).textContent = sha;
}

async function sendFile(file) {
  const room = state.room;
  if (!room) return;
  const peers = [...room.peers.values()].filter((p) => p.channel('file')?.readyState === 'open');
  if (!peers.length) {
    showError(new TandemError('datachannel', 'Nobody to send the file to yet.', { fatal: false }));
    return;
  }
  if (file.size > MAX_FILE) {
    showError(new TandemError('datachannel', `Files up to ${formatBytes(MAX_FILE)} in this demo.`, { fatal: false }));
    return;
  }
  const sha = await sha256Hex(file);
  for (const peer of peers) {
    const item = transferItem({ direction: 'out', name: file.name, size: file.size, peerName: peer.identity });
    item.dataset.sha256 = sha;
    setTransfer(item, { status: 'queued', text: 'Queued', sha });
    const previous = sendQueues.get(peer.id) ?? Promise.resolve();
    const next = previous.then(() => sendOne(peer, file, sha, item)).catch((err) => {
      setTransfer(item, { status: 'failed', text: `Failed: ${err.message}` });
    });
    sendQueues.set(peer.id, next);
  }
}

async function sendOne(peer, file, sha, item) {
  const channel = peer.channel('file');
  if (!channel || channel.readyState !== 'open') throw new Error('the channel closed');
  const id = crypto.randomUUID();
  const maxMessage = peer.pc.sctp?.maxMessageSize || CHUNK;
  const chunk = Math.min(CHUNK, maxMessage);
  item.dataset.id = id;
  setTransfer(item, { status: 'sending', text: 'Sending…' });
  channel.send(JSON.stringify({ type: 'file-start', id, name: file.name, size: file.size, mime: file.type }));
  const started = performance.now();
  let offset = 0;
  let lastPaint = 0;
  while (offset < file.size) {
    if (channel.bufferedAmount > HIGH_WATER) await drained(channel, LOW_WATER);
    const buffer = await file.slice(offset, offset + chunk).arrayBuffer();
    channel.send(buffer);
    offset += buffer.byteLength;
    const now = performance.now();
    if (now - lastPaint > 100) {
      lastPaint = now;
      const acked = Math.max(0, offset - channel.bufferedAmount);
      const rate = acked / Math.max(0.001, (now - started) / 1000);
      setTransfer(item, { progress: acked / file.size, text: `${formatBytes(acked)} of ${formatBytes(file.size)} · ${formatBytes(rate)}/s` });
    }
  }
  channel.send(JSON.stringify({ type: 'file-end', id, sha256: sha }));
  await drained(channel, 0);
  setTransfer(item, { status: 'sent', progress: 1, text: 'Sent — waiting for confirmation' });
  peer._pendingAcks ??= new Map();
  peer._pendingAcks.set(id, item);
}

function onFileMessage(peer, channel, data) {
  const key = (id) => `${peer.id}/${id}`;
  if (typeof data === 'string') {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.type === 'file-start') {
      const item = transferItem({ direction: 'in', name: message.name, size: message.size, peerName: peer.identity });
      item.dataset.id = message.id;
      setTransfer(item, { status: 'receiving', text: 'Receiving…' });
      state.incoming.set(key(message.id), { ...message, chunks: [], received: 0, item, started: performance.now(), lastPaint: 0 });
      state.incoming.set(`${peer.id}/current`, state.incoming.get(key(message.id)));
      bumpBadge('files');
    } else if (message.type === 'file-end') {
      const incoming = state.incoming.get(key(message.id));
      if (!incoming) return;
      state.incoming.delete(key(message.id));
      state.incoming.delete(`${peer.id}/current`);
      finishIncoming(peer, channel, incoming, message.sha256);
    } else if (message.type === 'file-ack') {
      const item = peer._pendingAcks?.get(message.id);
      if (!item) return;
      peer._pendingAcks.delete(message.id);
      setTransfer(item, message.ok
        ? { status: 'delivered', text: 'Delivered · SHA-256 verified by the receiver' }
        : { status: 'mismatch', text: 'Delivered, but the receiver computed a different SHA-256' });
    }
    return;
  }
  const incoming = state.incoming.get(`${peer.id}/current`);
  if (!incoming) return;
  incoming.chunks.push(data);
  incoming.received += data.byteLength;
  const now = performance.now();
  if (now - incoming.lastPaint > 100) {
    incoming.lastPaint = now;
    const rate = incoming.received / Math.max(0.001, (now - incoming.started) / 1000);
    setTransfer(incoming.item, {
      progress: incoming.size ? incoming.received / incoming.size : 1,
      text: `${formatBytes(incoming.received)} of ${formatBytes(incoming.size)} · ${formatBytes(rate)}/s`,
    });
  }
}

async function finishIncoming(peer, channel, incoming, expectedSha) {
  const { item } = incoming;
  const blob = new Blob(incoming.chunks, { type: incoming.mime || 'application/octet-stream' });
  incoming.chunks = [];
  setTransfer(item, { progress: 1, text: 'Checking SHA-256…' });
  const sha = await sha256Hex(blob);
  const ok = sha === expectedSha && blob.size === incoming.size;
  item.dataset.sha256 = sha;
  item.dataset.size = String(blob.size);
  const link = $('[data-testid=file-download]', item);
  link.href = URL.createObjectURL(blob);
  link.download = incoming.name;
  link.hidden = false;
  setTransfer(item, ok
    ? { status: 'done', sha, text: `Received ${formatBytes(blob.size)} · SHA-256 verified` }
    : { status: 'mismatch', sha, text: `Received ${formatBytes(blob.size)} · SHA-256 MISMATCH (sender: ${String(expectedSha).slice(0, 12)}…)` });
  if (channel.readyState === 'open') channel.send(JSON.stringify({ type: 'file-ack', id: incoming.id, sha256: sha, ok }));
}

// ---------------------------------------------------------------------------------------------------------------
// Stats panel

const formatBitrate = (bps) => (bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mbit/s` : `${Math.round(bps / 1e3)} kbit/s`);
const describeCandidate = (c) => `${c.type}${c.type === 'relay' && c.relayProtocol ? `/${c.relayProtocol}` : ''} ${c.protocol} ${c.address}:${c.port}`;

function renderStats(peer, stats) {
  let card = state.statCards.get(peer.id);
  if (!card) {
    card = $('#stats-template').content.firstElementChild.cloneNode(true);
    card.dataset.peerId = peer.id;
    $('.name', card).textContent = peer.identity;
    $('.avatar', card).textContent = initials(peer.identity);
    ui.stats.append(card);
    state.statCards.set(peer.id, card);
    ui.statsEmpty.hidden = true;
  }
  const set = (id, text) => ($(`[data-testid=${id}]`, card).textContent = text);
  set('stat-rtt', stats.rttMs == null ? '—' : `${stats.rttMs.toFixed(stats.rttMs < 10 ? 1 : 0)} ms`);
  set('stat-loss', `${stats.packetLoss.toFixed(1)} %`);
  set('stat-bitrate-in', formatBitrate(stats.bitrateIn));
  set('stat-bitrate-out', formatBitrate(stats.bitrateOut));
  set('stat-video', stats.frameSize ? `${stats.frameSize.width}×${stats.frameSize.height} · ${Math.round(stats.framesPerSecond)} fps` : '—');
  set('stat-frames-decoded', String(stats.framesDecoded));
  const pair = stats.candidatePair;
  const badge = $('[data-testid=stat-candidate-type]', card);
  badge.textContent = pair ? (pair.local.type === pair.remote.type ? pair.local.type : `${pair.local.type} ↔ ${pair.remote.type}`) : 'connecting';
  badge.dataset.type = pair?.local.type ?? '';
  card.dataset.localCandidateType = pair?.local.type ?? '';
  card.dataset.remoteCandidateType = pair?.remote.type ?? '';
  card.dataset.framesDecoded = String(stats.framesDecoded);
  set('stat-route', pair ? `${describeCandidate(pair.local)}  →  ${describeCandidate(pair.remote)}` : 'No candidate pair selected yet');
}

// ---------------------------------------------------------------------------------------------------------------

if (params.get('autojoin') === '1') {
  if (!ui.nameInput.value) ui.nameInput.value = `Guest ${Math.floor(100 + Math.random() * 900)}`;
  join();
} else {
  startPreview();
}
