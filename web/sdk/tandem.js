// Tandem browser SDK: joins a room on a Tandem signaling server (docs/signaling.md) and keeps one
// RTCPeerConnection per remote participant (a mesh; 1:1 calls are the target).
//
// - Perfect negotiation (W3C WebRTC §10.1 "Perfect negotiation example"): the peer with the smaller peer id is
//   polite and rolls back its own offer on glare; the other ignores the colliding offer.
// - Trickle ICE over the signaling socket; ICE restart on `failed`, and after `disconnected` lasts a few seconds.
// - The signaling socket reconnects with jittered exponential backoff and joins again (a new peer id: the server
//   assigns one per socket, so peer connections are rebuilt against the same remote peers).
// - Typed errors: every failure is a TandemError with a stable `code` (the server's codes from docs/signaling.md
//   plus a few client-side ones), emitted as an `error` event.
//
// No framework, no build step: an ES module for current browsers.

export const VERSION = '0.1.0';

/**
 * @typedef {'bad_token'|'token_expired'|'forbidden'|'room_full'|'too_many_connections'|'unauthorized'|
 *   'bad_request'|'rate_limited'|'unknown_peer'|'too_large'|'network'|'signaling_failed'|'signaling_closed'|
 *   'ice_failed'|'negotiation'|'media'|string} TandemErrorCode
 */

/** Error codes after which reconnecting with the same credentials cannot help. */
const FATAL_CODES = new Set(['bad_token', 'token_expired', 'forbidden', 'unauthorized', 'room_full']);

/** An error with a stable machine-readable `code`. */
export class TandemError extends Error {
  /**
   * @param {TandemErrorCode} code
   * @param {string} message
   * @param {{status?: number, fatal?: boolean, peerId?: string, cause?: unknown}} [details]
   */
  constructor(code, message, details = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'TandemError';
    /** @type {TandemErrorCode} */
    this.code = code;
    /** HTTP status when the error came from an HTTP answer. @type {number|undefined} */
    this.status = details.status;
    /** True when the room gave up (left) because of this error. @type {boolean} */
    this.fatal = details.fatal ?? FATAL_CODES.has(code);
    /** The remote peer concerned, for per-peer errors. @type {string|undefined} */
    this.peerId = details.peerId;
  }
}

/**
 * @typedef {object} ConnectOptions
 * @property {string} [server] Base URL of the Tandem server (default: the page's origin).
 * @property {string} [room] Room name (1–64 of [A-Za-z0-9_.-]); needed unless `token` is given.
 * @property {string} [identity] Display identity; needed unless `token` is given.
 * @property {string} [token] A room token (JWT). Without it the SDK asks `POST /api/token` (open in dev mode).
 * @property {() => Promise<string>} [getToken] Called for a fresh token on every (re)join instead of `token`.
 * @property {RTCIceTransportPolicy} [iceTransportPolicy] 'all' (default) or 'relay' (TURN only).
 * @property {RTCIceServer[]} [iceServers] Overrides the servers from the welcome frame / `/api/ice-servers`.
 * @property {MediaStream} [stream] Local media to send to every peer (same as `room.publish(stream)`).
 * @property {DataChannelSpec[]} [dataChannels] Channels opened with every peer (negotiated, symmetric).
 * @property {number} [statsInterval] Milliseconds between `stats` events (default 2000; 0 = none).
 * @property {boolean} [reconnect] Reconnect the signaling socket when it drops (default true).
 * @property {number} [disconnectedRestartMs] How long ICE may stay `disconnected` before an ICE restart (4000).
 */

/**
 * A data channel opened with every peer. Both sides create it with the same SCTP stream id (`negotiated: true`),
 * so it exists from the first offer on and handlers can be attached before any data arrives.
 * @typedef {object} DataChannelSpec
 * @property {string} label
 * @property {boolean} [ordered] default true
 * @property {number} [maxRetransmits]
 * @property {number} [maxPacketLifeTime]
 * @property {string} [protocol]
 */

/**
 * @typedef {object} CandidateInfo
 * @property {'host'|'srflx'|'prflx'|'relay'|string} type
 * @property {string} protocol 'udp' or 'tcp'
 * @property {string} address
 * @property {number} port
 * @property {string} [relayProtocol] for relay candidates: the transport to the TURN server
 */

/**
 * @typedef {object} PeerStats
 * @property {string} peerId
 * @property {number} timestamp ms
 * @property {RTCPeerConnectionState} connectionState
 * @property {number|null} rttMs round-trip time of the selected candidate pair
 * @property {number} bitrateIn bits/s received since the previous sample (all traffic on the selected pair)
 * @property {number} bitrateOut bits/s sent since the previous sample
 * @property {number} bytesReceived
 * @property {number} bytesSent
 * @property {number} packetsReceived inbound RTP packets (cumulative)
 * @property {number} packetsLost inbound RTP packets reported lost (cumulative)
 * @property {number} packetLoss inbound RTP loss since the previous sample, percent
 * @property {number} framesDecoded inbound video frames decoded (cumulative)
 * @property {number} framesPerSecond inbound video frame rate
 * @property {{width: number, height: number}|null} frameSize inbound video resolution
 * @property {{local: CandidateInfo, remote: CandidateInfo}|null} candidatePair the selected pair
 */

// ---------------------------------------------------------------------------------------------------------------

/** Minimal typed event emitter. Listener exceptions are reported, never propagated into the SDK. */
class Emitter {
  /** @type {Map<string, Set<Function>>} */
  #listeners = new Map();

  /**
   * @param {string} type
   * @param {(event: any) => void} listener
   * @returns {() => void} a function that removes the listener
   */
  on(type, listener) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(listener);
    return () => this.off(type, listener);
  }

  /** @param {string} type @param {(event: any) => void} listener */
  off(type, listener) {
    this.#listeners.get(type)?.delete(listener);
  }

  /** @param {string} type @param {(event: any) => void} listener */
  once(type, listener) {
    const off = this.on(type, (event) => {
      off();
      listener(event);
    });
    return off;
  }

  /** @protected @param {string} type @param {any} event */
  emit(type, event) {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) {
      try {
        listener(event);
      } catch (err) {
        console.error(`tandem: a '${type}' listener threw`, err);
      }
    }
  }
}

/** Decodes a JWT's payload without verifying it (the server verifies). Null when it is not a JWT. */
function decodeJwtPayload(token) {
  try {
    const part = token.split('.')[1];
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/**
 * Makes a TandemError from an HTTP error answer (`{"error": {"code", "message"}}`).
 * @param {Response} response
 */
async function httpError(response) {
  let code = response.status === 401 ? 'bad_token' : response.status === 403 ? 'forbidden' : 'http_error';
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body?.error?.code) code = body.error.code;
    if (body?.error?.message) message = body.error.message;
  } catch {
    // Not JSON: keep the status-derived code.
  }
  return new TandemError(code, message, { status: response.status });
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * One remote participant and the RTCPeerConnection to it.
 *
 * Events are emitted on the Room (with `peer` set), not here.
 */
export class Peer {
  /** Remote peer id assigned by the server. @type {string} */
  id;
  /** Remote identity (display name). @type {string} */
  identity;
  /** True when this side rolls back its own offer on glare. @type {boolean} */
  polite = false;
  /** Remote tracks; the same object for the whole life of the Peer (safe to keep as a video's srcObject). */
  stream = new MediaStream();
  /** What the remote participant announced about its tracks. */
  muted = { audio: false, video: false };
  /** @type {RTCPeerConnection} */
  pc;
  /** Data channels by label (the latest one per label). @type {Map<string, RTCDataChannel>} */
  channels = new Map();

  /** @type {Room} */ #room;
  #makingOffer = false;
  #ignoreOffer = false;
  #settingRemoteAnswerPending = false;
  #localSetUp = false;
  #queue = Promise.resolve();
  #disconnectedTimer = 0;
  #lazyTimer = 0;
  #iceRestarts = 0;
  #closed = false;
  /** Previous totals for bitrate/loss deltas. */
  #prev = null;

  /**
   * @param {Room} room
   * @param {string} id
   * @param {string} identity
   * @param {{initiate: boolean}} how initiate: set up local media/channels and offer now; otherwise wait for the
   *   remote offer first (fewer glare rounds when an existing member meets a newcomer).
   */
  constructor(room, id, identity, how) {
    this.#room = room;
    this.id = id;
    this.identity = identity;
    this.#createPeerConnection();
    if (how.initiate) {
      this.#setUpLocal();
    } else {
      // If the newcomer has nothing to offer, we must not stay silent forever.
      this.#lazyTimer = setTimeout(() => this.#setUpLocal(), 1500);
    }
  }

  /** @returns {RTCPeerConnectionState} */
  get connectionState() {
    return this.pc.connectionState;
  }

  /**
   * The open data channel with this label, if any.
   * @param {string} label
   * @returns {RTCDataChannel|undefined}
   */
  channel(label) {
    return this.channels.get(label);
  }

  /**
   * Opens an in-band data channel to this peer (the remote side gets a `datachannel` event).
   * @param {string} label
   * @param {RTCDataChannelInit} [init]
   */
  createDataChannel(label, init = {}) {
    const channel = this.pc.createDataChannel(label, init);
    this.#adoptChannel(channel, true);
    return channel;
  }

  /** Restarts ICE (new ufrag/pwd and candidates); the W3C restartIce() triggers renegotiation. */
  restartIce() {
    if (!this.#closed) this.pc.restartIce();
  }

  /**
   * Samples getStats() and reduces it to the numbers a call UI shows.
   * @returns {Promise<PeerStats>}
   */
  async getStats() {
    const report = await this.pc.getStats();
    const now = performance.now();
    /** @type {Map<string, any>} */
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));

    let pair = null;
    for (const s of byId.values()) {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId) ?? pair;
    }
    if (!pair) {
      for (const s of byId.values()) {
        if (s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) pair = s;
      }
    }
    const candidate = (id) => {
      const c = byId.get(id);
      if (!c) return null;
      return {
        type: c.candidateType,
        protocol: c.protocol,
        address: c.address ?? c.ip,
        port: c.port,
        relayProtocol: c.relayProtocol,
      };
    };

    let packetsReceived = 0;
    let packetsLost = 0;
    let framesDecoded = 0;
    let framesPerSecond = 0;
    let frameSize = null;
    for (const s of byId.values()) {
      if (s.type !== 'inbound-rtp') continue;
      packetsReceived += s.packetsReceived ?? 0;
      packetsLost += Math.max(0, s.packetsLost ?? 0);
      if (s.kind === 'video') {
        framesDecoded += s.framesDecoded ?? 0;
        framesPerSecond = Math.max(framesPerSecond, s.framesPerSecond ?? 0);
        if (s.frameWidth) frameSize = { width: s.frameWidth, height: s.frameHeight };
      }
    }

    const bytesReceived = pair?.bytesReceived ?? 0;
    const bytesSent = pair?.bytesSent ?? 0;
    const prev = this.#prev;
    const seconds = prev ? (now - prev.at) / 1000 : 0;
    const rate = (cur, old) => (seconds > 0 && cur >= old ? Math.round(((cur - old) * 8) / seconds) : 0);
    const intervalReceived = prev ? packetsReceived - prev.packetsReceived : packetsReceived;
    const intervalLost = prev ? packetsLost - prev.packetsLost : packetsLost;
    const intervalTotal = intervalReceived + intervalLost;
    this.#prev = { at: now, bytesReceived, bytesSent, packetsReceived, packetsLost };

    const local = pair ? candidate(pair.localCandidateId) : null;
    const remote = pair ? candidate(pair.remoteCandidateId) : null;
    return {
      peerId: this.id,
      timestamp: Date.now(),
      connectionState: this.pc.connectionState,
      rttMs: pair?.currentRoundTripTime != null ? Math.round(pair.currentRoundTripTime * 1000 * 10) / 10 : null,
      bitrateIn: prev ? rate(bytesReceived, prev.bytesReceived) : 0,
      bitrateOut: prev ? rate(bytesSent, prev.bytesSent) : 0,
      bytesReceived,
      bytesSent,
      packetsReceived,
      packetsLost,
      packetLoss: intervalTotal > 0 && intervalLost > 0 ? (100 * intervalLost) / intervalTotal : 0,
      framesDecoded,
      framesPerSecond,
      frameSize,
      candidatePair: local && remote ? { local, remote } : null,
    };
  }

  // --- internals used by Room -----------------------------------------------------------------------------------

  /** @internal Adds a local track (now, or when local set-up happens). */
  _addTrack(track, streams) {
    if (!this.#localSetUp) return this.#setUpLocal(); // adds every published track, this one included
    if (this.pc.getSenders().some((s) => s.track === track)) return;
    // addTrack reuses a transceiver the remote offer created that has never sent (W3C WebRTC §5.1 addTrack).
    this.pc.addTrack(track, ...streams);
  }

  /** @internal */
  _removeTrack(track) {
    for (const sender of this.pc.getSenders()) {
      if (sender.track === track) this.pc.removeTrack(sender);
    }
  }

  /** @internal Signaling frame addressed to us from this peer. */
  _handleSignal(frame) {
    this.#enqueue(async () => {
      if (frame.type === 'offer' || frame.type === 'answer') {
        await this.#handleDescription({ type: frame.type, sdp: frame.sdp });
      } else if (frame.type === 'candidate') {
        await this.#handleCandidate(frame.candidate);
      }
    });
  }

  /**
   * @internal Starts over with a new RTCPeerConnection on both sides (we offer). Used to apply a new ICE transport
   * policy: an ICE restart alone is not enough, because Chromium keeps the old generation's host pair selected
   * (it outranks the new relay pairs) instead of moving to the newly allowed candidates.
   */
  _reset() {
    this.#room._signal({ type: 'message', to: this.id, data: { __tandem: { reset: true } } });
    this._rebuild(true);
  }

  /** @internal */
  _close() {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#disconnectedTimer);
    clearTimeout(this.#lazyTimer);
    for (const channel of this.channels.values()) channel.close();
    this.pc.close();
    for (const track of this.stream.getTracks()) {
      this.stream.removeTrack(track);
      track.stop();
    }
  }

  /**
   * @internal Replaces the RTCPeerConnection (after the signaling socket rejoined under a new peer id: the remote
   * side dropped the old connection when it saw our old id leave).
   */
  _rebuild(initiate) {
    clearTimeout(this.#disconnectedTimer);
    clearTimeout(this.#lazyTimer);
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    this.pc.close();
    for (const track of this.stream.getTracks()) {
      this.stream.removeTrack(track);
      track.stop();
    }
    this.#makingOffer = this.#ignoreOffer = this.#settingRemoteAnswerPending = this.#localSetUp = false;
    this.#queue = Promise.resolve();
    this.#iceRestarts = 0;
    this.#prev = null;
    this.#createPeerConnection();
    if (initiate) this.#setUpLocal();
    else this.#lazyTimer = setTimeout(() => this.#setUpLocal(), 1500);
  }

  // --- private --------------------------------------------------------------------------------------------------

  #createPeerConnection() {
    const room = this.#room;
    this.polite = room.peerId < this.id;
    const pc = new RTCPeerConnection({
      iceServers: room._iceServers,
      iceTransportPolicy: room.iceTransportPolicy,
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    });
    this.pc = pc;

    pc.onnegotiationneeded = async () => {
      if (pc !== this.pc) return;
      try {
        this.#makingOffer = true;
        await pc.setLocalDescription();
        room._signal({ type: pc.localDescription.type, to: this.id, sdp: pc.localDescription.sdp });
      } catch (err) {
        if (pc === this.pc && !this.#closed) this.#error('negotiation', 'could not create an offer', err);
      } finally {
        this.#makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (pc !== this.pc) return;
      room._signal({ type: 'candidate', to: this.id, candidate: candidate ? candidate.toJSON() : null });
    };
    pc.ontrack = ({ track, streams }) => {
      if (pc !== this.pc) return;
      if (!this.stream.getTrackById(track.id)) this.stream.addTrack(track);
      track.addEventListener('ended', () => this.stream.removeTrack(track));
      room._emit('track', { peer: this, track, streams });
    };
    pc.ondatachannel = ({ channel }) => {
      if (pc === this.pc) this.#adoptChannel(channel, false);
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      room._emit('connectionstatechange', { peer: this, state: pc.connectionState });
    };
    pc.oniceconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const state = pc.iceConnectionState;
      clearTimeout(this.#disconnectedTimer);
      if (state === 'connected' || state === 'completed') {
        this.#iceRestarts = 0;
      } else if (state === 'failed') {
        this.#restartAfterFailure();
      } else if (state === 'disconnected') {
        this.#disconnectedTimer = setTimeout(() => {
          if (pc === this.pc && pc.iceConnectionState === 'disconnected') this.#restartAfterFailure();
        }, room._disconnectedRestartMs);
      }
    };
  }

  #restartAfterFailure() {
    this.#iceRestarts += 1;
    if (this.#iceRestarts === 1 || this.#iceRestarts % 5 === 0) {
      const message = `ICE to ${this.identity} failed; restarting ICE (attempt ${this.#iceRestarts})`;
      this.#room._emit('error', new TandemError('ice_failed', message, { fatal: false, peerId: this.id }));
    }
    // Back off between consecutive restarts so that a dead path does not loop on the signaling rate limit.
    const delay = Math.min(10000, 250 * 2 ** (this.#iceRestarts - 1));
    const pc = this.pc;
    setTimeout(() => {
      if (pc === this.pc && !this.#closed && ['failed', 'disconnected'].includes(pc.iceConnectionState)) {
        pc.restartIce();
      }
    }, delay);
  }

  /** Adds published tracks and creates the room's negotiated channels: from here on we may offer. */
  #setUpLocal() {
    if (this.#localSetUp || this.#closed) return;
    this.#localSetUp = true;
    clearTimeout(this.#lazyTimer);
    const room = this.#room;
    room._dataChannelSpecs.forEach((spec, index) => {
      const { label, ...init } = spec;
      const channel = this.pc.createDataChannel(label, { ...init, negotiated: true, id: NEGOTIATED_ID_BASE + index });
      this.#adoptChannel(channel, true);
    });
    for (const { track, streams } of room._localTracks) this._addTrack(track, streams);
  }

  #adoptChannel(channel, local) {
    channel.binaryType = 'arraybuffer';
    this.channels.set(channel.label, channel);
    channel.addEventListener('close', () => {
      if (this.channels.get(channel.label) === channel) this.channels.delete(channel.label);
    });
    this.#room._emit('datachannel', { peer: this, channel, local });
  }

  /** Serialises handling of this peer's frames (descriptions and candidates keep their order). */
  #enqueue(task) {
    this.#queue = this.#queue.then(task).catch((err) => {
      if (!this.#closed) this.#error('negotiation', 'signaling from this peer could not be applied', err);
    });
  }

  // W3C WebRTC §10.1, "Perfect negotiation example".
  async #handleDescription(description) {
    const pc = this.pc;
    const readyForOffer =
      !this.#makingOffer && (pc.signalingState === 'stable' || this.#settingRemoteAnswerPending);
    const offerCollision = description.type === 'offer' && !readyForOffer;
    this.#ignoreOffer = !this.polite && offerCollision;
    if (this.#ignoreOffer) return;
    if (description.type === 'answer' && pc.signalingState !== 'have-local-offer') {
      return; // an answer to an offer we rolled back: nothing to apply
    }
    this.#settingRemoteAnswerPending = description.type === 'answer';
    try {
      await pc.setRemoteDescription(description); // rolls back our own offer when polite
    } finally {
      this.#settingRemoteAnswerPending = false;
    }
    if (description.type === 'offer') {
      this.#setUpLocal(); // the lazy side adds its tracks into the offered transceivers, then answers
      await pc.setLocalDescription();
      this.#room._signal({ type: 'answer', to: this.id, sdp: pc.localDescription.sdp });
    }
  }

  async #handleCandidate(candidate) {
    try {
      if (candidate && candidate.candidate) await this.pc.addIceCandidate(candidate);
      else await this.pc.addIceCandidate(); // end-of-candidates
    } catch (err) {
      // Candidates for an offer we ignored, or an end-of-candidates before any description, are expected.
      if (!this.#ignoreOffer && this.pc.remoteDescription && candidate?.candidate) throw err;
    }
  }

  #error(code, message, cause) {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    this.#room._emit('error', new TandemError(code, `${message}${detail}`, { cause, peerId: this.id, fatal: false }));
  }
}

/** Negotiated channels use stream ids from here up, away from the ids the browser picks for in-band channels. */
const NEGOTIATED_ID_BASE = 1000;

// ---------------------------------------------------------------------------------------------------------------

/**
 * A joined (or joining) room.
 *
 * Events (`room.on(type, listener)`):
 * - `statechange` {state}: the signaling connection: 'connecting' | 'connected' | 'reconnecting' | 'closed'
 * - `joined` {peerId, room, identity, peers}: after every (re)join (welcome frame)
 * - `peer-joined` {peer}, `peer-left` {peer}
 * - `track` {peer, track, streams}
 * - `datachannel` {peer, channel, local}: a channel appeared (created here, by the room's specs, or by the remote)
 * - `message` {from, data}: an application message relayed by the server (room.send / POST .../messages)
 * - `peer-updated` {peer}: the remote announced a mute change (`peer.muted`)
 * - `connectionstatechange` {peer, state}: RTCPeerConnection.connectionState of one peer
 * - `stats` {peer, stats}: every `statsInterval` ms while a peer is there
 * - `error` TandemError
 */
export class Room extends Emitter {
  /** Our peer id (changes when the socket rejoins). @type {string} */
  peerId = '';
  /** @type {string} */ room = '';
  /** @type {string} */ identity = '';
  /** @type {'new'|'connecting'|'connected'|'reconnecting'|'closed'} */
  state = 'new';
  /** @type {RTCIceTransportPolicy} */
  iceTransportPolicy = 'all';
  /** Remote peers by id. @type {Map<string, Peer>} */
  peers = new Map();
  /** What we announce about our own tracks. */
  muted = { audio: false, video: false };

  /** @internal @type {RTCIceServer[]} */ _iceServers = [];
  /** @internal @type {DataChannelSpec[]} */ _dataChannelSpecs = [];
  /** @internal @type {{track: MediaStreamTrack, streams: MediaStream[]}[]} */ _localTracks = [];
  /** @internal */ _disconnectedRestartMs = 4000;

  /** @type {ConnectOptions} */ #options;
  #server;
  /** @type {WebSocket|null} */ #ws = null;
  #token = '';
  #attempt = 0;
  #reconnectTimer = 0;
  #pingTimer = 0;
  #statsTimer = 0;
  #lastPong = 0;
  #leaving = false;

  /** @param {ConnectOptions} options */
  constructor(options) {
    super();
    this.#options = { ...options };
    const origin = typeof location !== 'undefined' ? location.origin : '';
    this.#server = (options.server ?? origin).replace(/\/+$/, '');
    this.iceTransportPolicy = options.iceTransportPolicy ?? 'all';
    this._dataChannelSpecs = [...(options.dataChannels ?? [])];
    this._disconnectedRestartMs = options.disconnectedRestartMs ?? 4000;
    if (options.stream) for (const track of options.stream.getTracks()) this._localTracks.push({ track, streams: [options.stream] });
    if (!options.token && !options.getToken && (!options.room || !options.identity)) {
      throw new TandemError('bad_request', 'connect needs a token, or a room and an identity');
    }
  }

  /**
   * Opens the signaling socket and joins. Resolves after the server's welcome; rejects with a TandemError (also
   * emitted as `error`) when the first join fails. Later drops reconnect on their own.
   */
  async join() {
    if (this.state !== 'new') throw new TandemError('bad_request', `join() in state ${this.state}`);
    this.#setState('connecting');
    try {
      await this.#open();
    } catch (err) {
      const error = err instanceof TandemError ? err : new TandemError('network', String(err?.message ?? err), { cause: err });
      error.fatal = true;
      this.emit('error', error);
      this.#shutdown();
      throw error;
    }
    this.#startStats();
    return this;
  }

  /** Leaves the room: closes the socket and every peer connection. Local tracks stay the caller's. */
  leave() {
    if (this.state === 'closed') return;
    this.#leaving = true;
    this.#shutdown();
  }

  /**
   * Sends `track` to every current and future peer.
   * @param {MediaStreamTrack} track
   * @param {...MediaStream} streams
   */
  addTrack(track, ...streams) {
    if (this._localTracks.some((t) => t.track === track)) return;
    this._localTracks.push({ track, streams });
    for (const peer of this.peers.values()) peer._addTrack(track, streams);
  }

  /** @param {MediaStreamTrack} track */
  removeTrack(track) {
    this._localTracks = this._localTracks.filter((t) => t.track !== track);
    for (const peer of this.peers.values()) peer._removeTrack(track);
  }

  /** Sends every track of `stream` to every peer. @param {MediaStream} stream */
  publish(stream) {
    for (const track of stream.getTracks()) this.addTrack(track, stream);
  }

  /**
   * Mutes/unmutes our published tracks of one kind (track.enabled: the track keeps its transceiver, sends
   * silence/black) and tells the other peers.
   * @param {'audio'|'video'} kind
   * @param {boolean} muted
   */
  setMuted(kind, muted) {
    for (const { track } of this._localTracks) if (track.kind === kind) track.enabled = !muted;
    this.muted = { ...this.muted, [kind]: muted };
    this._signal({ type: 'message', data: { __tandem: { muted: this.muted } } });
  }

  /**
   * Opens an in-band data channel to every current peer; returns them.
   * @param {string} label
   * @param {RTCDataChannelInit} [init]
   */
  createDataChannel(label, init) {
    return [...this.peers.values()].map((peer) => peer.createDataChannel(label, init));
  }

  /**
   * Sends on the channel `label` of every peer where it is open. Returns how many peers it went to.
   * @param {string} label
   * @param {string|ArrayBuffer|ArrayBufferView|Blob} data
   */
  broadcast(label, data) {
    let sent = 0;
    for (const peer of this.peers.values()) {
      const channel = peer.channel(label);
      if (channel?.readyState === 'open') {
        channel.send(/** @type {any} */ (data));
        sent += 1;
      }
    }
    return sent;
  }

  /**
   * Sends an application message through the signaling server (to one peer, or to all others).
   * @param {any} data JSON-serialisable
   * @param {{to?: string}} [options]
   */
  send(data, options = {}) {
    const frame = { type: 'message', data };
    if (options.to) frame.to = options.to;
    if (!this._signal(frame)) throw new TandemError('signaling_closed', 'the signaling socket is not open');
  }

  /**
   * Switches between 'all' and 'relay' (TURN only). Applies by reconnecting media with every peer (new peer
   * connections on both sides: `track` and `datachannel` events come again; transfers in flight are lost).
   * @param {RTCIceTransportPolicy} policy
   */
  setIceTransportPolicy(policy) {
    this.iceTransportPolicy = policy;
    for (const peer of this.peers.values()) peer._reset();
  }

  /** Stats of every peer. @returns {Promise<PeerStats[]>} */
  async getStats() {
    return Promise.all([...this.peers.values()].map((peer) => peer.getStats()));
  }

  // --- internals used by Peer -----------------------------------------------------------------------------------

  /** @internal */
  _emit(type, event) {
    this.emit(type, event);
  }

  /** @internal Sends a frame if the socket is open; false otherwise (the frame is dropped). */
  _signal(frame) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.state !== 'connected') return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  // --- private --------------------------------------------------------------------------------------------------

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('statechange', { state });
  }

  async #fetchToken() {
    const opts = this.#options;
    if (opts.getToken) return opts.getToken();
    if (opts.token) return opts.token;
    let response;
    try {
      response = await fetch(`${this.#server}/api/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ room: opts.room, identity: opts.identity }),
      });
    } catch (err) {
      throw new TandemError('network', `cannot reach ${this.#server || 'the server'}`, { cause: err, fatal: false });
    }
    if (!response.ok) throw await httpError(response);
    const body = await response.json();
    if (typeof body.token !== 'string') throw new TandemError('bad_request', '/api/token answered without a token');
    return body.token;
  }

  async #fetchIceServers() {
    try {
      const response = await fetch(`${this.#server}/api/ice-servers`, {
        headers: { Authorization: `Bearer ${this.#token}` },
      });
      if (!response.ok) return [];
      const body = await response.json();
      return Array.isArray(body.iceServers) ? body.iceServers : [];
    } catch {
      return [];
    }
  }

  /**
   * Finds out why the socket could not open: browsers do not expose the status of a refused WebSocket upgrade,
   * so ask an HTTP route that checks the same token (`GET /api/rooms/{room}`).
   */
  async #diagnose(closeCode) {
    const claims = decodeJwtPayload(this.#token);
    const room = (claims && typeof claims.room === 'string' && claims.room) || this.#options.room || '_';
    let response;
    try {
      response = await fetch(`${this.#server}/api/rooms/${encodeURIComponent(room)}`, {
        headers: { Authorization: `Bearer ${this.#token}` },
      });
    } catch (err) {
      return new TandemError('network', `cannot reach ${this.#server || 'the server'}`, { cause: err, fatal: false });
    }
    if (!response.ok && response.status !== 404) return httpError(response);
    return new TandemError('signaling_failed', `the signaling socket closed before joining (code ${closeCode})`, {
      fatal: false,
    });
  }

  /** One join attempt: token, socket, welcome. */
  async #open() {
    this.#token = await this.#fetchToken();
    const url = new URL(`${this.#server || location.origin}/ws`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', this.#token);

    const ws = new WebSocket(url);
    this.#ws = ws;
    const welcome = await new Promise((resolve, reject) => {
      let settled = false;
      let serverError = null;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        ws.close();
        reject(new TandemError('signaling_failed', 'no welcome from the server within 10 s', { fatal: false }));
      }, 10000);
      ws.onmessage = (event) => {
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch {
          return;
        }
        if (frame.type === 'welcome' && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve(frame);
        } else if (frame.type === 'error') {
          serverError = new TandemError(frame.code, frame.message ?? frame.code);
        }
      };
      ws.onclose = async (event) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (serverError) return reject(serverError);
        reject(await this.#diagnose(event.code));
      };
    });

    this.peerId = welcome.peerId;
    this.room = welcome.room;
    this.identity = welcome.identity;
    this._iceServers = this.#options.iceServers ?? (welcome.iceServers?.length ? welcome.iceServers : await this.#fetchIceServers());
    this.#attempt = 0;
    ws.onmessage = (event) => this.#onFrame(event.data);
    ws.onclose = (event) => this.#onClose(ws, event);
    this.#setState('connected');
    this.#startPing(ws);

    // Peers that survived a reconnect keep their Peer object (and stream); their connections are rebuilt.
    const present = new Map((welcome.peers ?? []).map((p) => [p.peerId, p]));
    for (const [id, peer] of this.peers) {
      if (!present.has(id)) {
        this.peers.delete(id);
        peer._close();
        this.emit('peer-left', { peer });
      }
    }
    this.emit('joined', { peerId: this.peerId, room: this.room, identity: this.identity, peers: welcome.peers ?? [] });
    for (const { peerId, identity } of present.values()) {
      const existing = this.peers.get(peerId);
      if (existing) {
        existing._rebuild(true);
      } else {
        const peer = new Peer(this, peerId, identity, { initiate: true });
        this.peers.set(peerId, peer);
        this.emit('peer-joined', { peer });
      }
    }
    if (this.muted.audio || this.muted.video) this._signal({ type: 'message', data: { __tandem: { muted: this.muted } } });
  }

  #onFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    switch (frame.type) {
      case 'peer-joined': {
        const { peerId, identity } = frame.peer ?? {};
        if (!peerId || peerId === this.peerId || this.peers.has(peerId)) return;
        const peer = new Peer(this, peerId, identity ?? peerId, { initiate: false });
        this.peers.set(peerId, peer);
        this.emit('peer-joined', { peer });
        // Tell the newcomer our mute state.
        if (this.muted.audio || this.muted.video) {
          this._signal({ type: 'message', to: peerId, data: { __tandem: { muted: this.muted } } });
        }
        return;
      }
      case 'peer-left': {
        const peer = this.peers.get(frame.peerId);
        if (!peer) return;
        this.peers.delete(frame.peerId);
        peer._close();
        this.emit('peer-left', { peer });
        return;
      }
      case 'offer':
      case 'answer':
      case 'candidate': {
        let peer = this.peers.get(frame.from);
        if (!peer) {
          // A frame can overtake nothing on one socket, but be lenient: a peer we did not hear join.
          if (frame.type !== 'offer') return;
          peer = new Peer(this, frame.from, frame.from, { initiate: false });
          this.peers.set(frame.from, peer);
          this.emit('peer-joined', { peer });
        }
        peer._handleSignal(frame);
        return;
      }
      case 'message': {
        const control = frame.data?.__tandem;
        if (control && typeof control === 'object') {
          const peer = this.peers.get(frame.from);
          if (peer && control.reset) peer._rebuild(false); // the remote starts over; its offer follows
          if (peer && control.muted) {
            peer.muted = { audio: !!control.muted.audio, video: !!control.muted.video };
            this.emit('peer-updated', { peer });
          }
          return;
        }
        this.emit('message', { from: frame.from, data: frame.data });
        return;
      }
      case 'pong':
        this.#lastPong = Date.now();
        return;
      case 'error':
        this.emit('error', new TandemError(frame.code ?? 'error', frame.message ?? 'server error', { fatal: false }));
        return;
      default:
        return; // unknown frames are ignored: the server may be newer than this SDK
    }
  }

  #startPing(ws) {
    clearInterval(this.#pingTimer);
    this.#lastPong = Date.now();
    // Application-level liveness: a socket that silently died (laptop sleep, NAT timeout) is noticed in < 30 s.
    this.#pingTimer = setInterval(() => {
      if (ws !== this.#ws || ws.readyState !== WebSocket.OPEN) return;
      if (Date.now() - this.#lastPong > 30000) {
        ws.close(4000, 'no pong');
        return;
      }
      ws.send(JSON.stringify({ type: 'ping', ts: Date.now() }));
    }, 10000);
  }

  #startStats() {
    const interval = this.#options.statsInterval ?? 2000;
    if (!interval) return;
    this.#statsTimer = setInterval(async () => {
      for (const peer of [...this.peers.values()]) {
        try {
          const stats = await peer.getStats();
          if (this.peers.get(peer.id) === peer) this.emit('stats', { peer, stats });
        } catch {
          // A peer closed while sampling.
        }
      }
    }, interval);
  }

  #onClose(ws, event) {
    if (ws !== this.#ws || this.#leaving || this.state === 'closed') return;
    clearInterval(this.#pingTimer);
    if (this.#options.reconnect === false) {
      const reason = event.reason ? `: ${event.reason}` : '';
      this.emit('error', new TandemError('signaling_closed', `the signaling socket closed (code ${event.code}${reason})`, { fatal: true }));
      this.#shutdown();
      return;
    }
    // Every close, auth closes (4001) included, goes through a fresh join attempt: with a given token that attempt
    // diagnoses bad_token/token_expired and gives up; a minted token is simply minted again.
    this.#setState('reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect() {
    // Jittered exponential backoff: 0.5 s, 1 s, 2 s, … capped at 10 s.
    const base = Math.min(10000, 500 * 2 ** this.#attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.#attempt += 1;
    this.#reconnectTimer = setTimeout(async () => {
      if (this.state !== 'reconnecting') return;
      try {
        await this.#open();
      } catch (err) {
        const error = err instanceof TandemError ? err : new TandemError('network', String(err), { cause: err, fatal: false });
        if (this.state === 'closed') return;
        // An expired minted token is renewed on the next attempt; a given one cannot be.
        const renewable = !this.#options.token || this.#options.getToken;
        if (error.fatal && !(renewable && error.code === 'token_expired')) {
          this.emit('error', error);
          this.#shutdown();
          return;
        }
        this.#scheduleReconnect();
      }
    }, delay);
  }

  #shutdown() {
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#pingTimer);
    clearInterval(this.#statsTimer);
    const ws = this.#ws;
    this.#ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'leave');
    for (const peer of this.peers.values()) {
      peer._close();
      this.emit('peer-left', { peer });
    }
    this.peers.clear();
    this.#setState('closed');
  }
}

/**
 * Joins a room. Resolves with the Room after the server's welcome; rejects with a TandemError (e.g. code
 * 'bad_token' or 'token_expired'). To see every event, including those of the first join, use
 * `const room = new Room(options); room.on(...); await room.join();` instead.
 * @param {ConnectOptions} options
 * @returns {Promise<Room>}
 */
export async function connect(options) {
  const room = new Room(options);
  await room.join();
  return room;
}

/**
 * Resolves when `channel.bufferedAmount` is at or below `lowWater` (flow control for large transfers: send while
 * below a high-water mark, then await this).
 * @param {RTCDataChannel} channel
 * @param {number} [lowWater] bytes (default 1 MiB)
 */
export function drained(channel, lowWater = 1 << 20) {
  if (channel.bufferedAmount <= lowWater) return Promise.resolve();
  return new Promise((resolve, reject) => {
    channel.bufferedAmountLowThreshold = lowWater;
    const done = () => {
      channel.removeEventListener('bufferedamountlow', done);
      channel.removeEventListener('close', closed);
      resolve();
    };
    const closed = () => {
      channel.removeEventListener('bufferedamountlow', done);
      reject(new TandemError('datachannel', `channel '${channel.label}' closed`));
    };
    channel.addEventListener('bufferedamountlow', done);
    channel.addEventListener('close', closed, { once: true });
  });
}

/**
 * Hex SHA-256 of bytes (Web Crypto).
 * @param {ArrayBuffer|ArrayBufferView|Blob} data
 */
export async function sha256Hex(data) {
  const buffer = data instanceof Blob ? await data.arrayBuffer() : data;
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The SDK as one object: `import Tandem from './sdk/tandem.js'; await Tandem.connect({...})`. */
const Tandem = { connect, Room, Peer, TandemError, drained, sha256Hex, VERSION };
export default Tandem;
