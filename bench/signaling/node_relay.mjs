// The signaling relay most people would write themselves: Node.js and the `ws` package, one process, rooms in a
// Map. It speaks enough of docs/signaling.md for bench/signaling/sig_load: join with /ws?room=NAME (or
// /ws?token=<JWT>: the room and identity are read from its claims, and the HS256 signature is checked when
// --secret is given), get a `welcome` with your peerId and the others, `peer-joined`/`peer-left`, and frames
// {type, to, ...} are relayed to peer `to` with `from` added. `ping` is answered with `pong`. Like the `ws` README's
// example it pings every socket every 30 s and drops those that did not answer the previous ping.
//
//   node bench/signaling/node_relay.mjs --port 8081 [--host 127.0.0.1] [--secret S]
//
// Prints "node relay ready: http=HOST:PORT" when listening; exits on SIGTERM/SIGINT.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
function option(name, fallback) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}
const host = option('host', '127.0.0.1');
const port = Number(option('port', '8081'));
const secret = option('secret', '');

const peers = new Map();  // peerId -> { ws, room, identity }
const rooms = new Map();  // room -> Set of peerIds

function claimsOf(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  if (secret) {
    const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
    const given = Buffer.from(parts[2], 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  }
  try {
    return JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  } catch {
    return null;
  }
}

function send(ws, message) {
  ws.send(JSON.stringify(message));
}

const wss = new WebSocketServer({ host, port, maxPayload: 64 * 1024 });

wss.on('connection', (ws, req) => {
  const url = new URL(req.url, 'http://relay');
  let room = url.searchParams.get('room');
  let identity = 'anonymous';
  const token = url.searchParams.get('token');
  if (token) {
    const claims = claimsOf(token);
    if (!claims || typeof claims.room !== 'string') {
      ws.close(4001, 'bad_token');
      return;
    }
    room = claims.room;
    identity = String(claims.sub ?? identity);
  }
  if (url.pathname !== '/ws' || !room) {
    ws.close(4008, 'no room');
    return;
  }

  const id = `p-${randomBytes(6).toString('hex')}`;
  let members = rooms.get(room);
  if (!members) rooms.set(room, (members = new Set()));
  const others = [...members].map((peerId) => ({ peerId, identity: peers.get(peerId).identity }));
  send(ws, { type: 'welcome', peerId: id, room, identity, peers: others, iceServers: [] });
  for (const peerId of members) send(peers.get(peerId).ws, { type: 'peer-joined', peer: { peerId: id, identity } });
  members.add(id);
  peers.set(id, { ws, room, identity });
  ws.isAlive = true;
  ws.on('pong', () => { ws.isAlive = true; });

  ws.on('message', (data) => {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      send(ws, { type: 'error', code: 'bad_json', message: 'frame is not JSON' });
      return;
    }
    if (msg === null || typeof msg !== 'object') {
      send(ws, { type: 'error', code: 'bad_json', message: 'frame is not a JSON object' });
      return;
    }
    if (msg.type === 'ping') {
      send(ws, { type: 'pong', ts: msg.ts });
      return;
    }
    const target = peers.get(msg.to);
    if (!target || target.room !== room) {
      send(ws, { type: 'error', code: 'unknown_peer', message: 'no such peer in this room' });
      return;
    }
    delete msg.to;
    msg.from = id;
    send(target.ws, msg);
  });

  ws.on('close', () => {
    peers.delete(id);
    members.delete(id);
    if (members.size === 0) {
      rooms.delete(room);
      return;
    }
    for (const peerId of members) send(peers.get(peerId).ws, { type: 'peer-left', peerId: id });
  });
});

const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, 30000);

wss.on('listening', () => {
  const a = wss.address();
  console.log(`node relay ready: http=${a.address}:${a.port}`);
});
wss.on('error', (e) => {
  console.error(`node relay: ${e.message}`);
  process.exit(1);
});

function stop() {
  clearInterval(heartbeat);
  for (const ws of wss.clients) ws.terminate();
  wss.close(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
