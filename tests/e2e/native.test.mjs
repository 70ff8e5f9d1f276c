// End to end, native ↔ native: two `tandem peer` processes (libtandem on both sides) move 50 MiB both ways through
// `tandem serve`, directly and relay-only through Tandem's TURN server and through coturn; plus chat. No browser.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { log, sha256, startServer, uniqueRoom } from './harness.mjs';
import { startCoturn } from './coturn.mjs';
import { runPeer } from './peer_process.mjs';

const FILE_BYTES = 50 * 1024 * 1024;

describe('native peer with native peer', { timeout: 600000 }, () => {
  let server;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-native-e2e-'));

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    const status = await server?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
    assert.equal(status?.code, 0);
  });

  /** One file from `from` to `to` in `room`; returns the two outputs. */
  async function transfer(srv, room, tag, extra) {
    const bytes = crypto.randomBytes(FILE_BYTES);
    const input = path.join(scratch, `${tag}.in`);
    const output = path.join(scratch, `${tag}.out`);
    fs.writeFileSync(input, bytes);
    const recv = runPeer(['recv', '--server', srv.url, '--room', room, '--identity', `${tag}-rx`, '--out', output, '--timeout', '120', ...extra], `native-${tag}-recv`);
    const send = runPeer(['send', input, '--server', srv.url, '--room', room, '--identity', `${tag}-tx`, '--timeout', '120', ...extra], `native-${tag}-send`);
    const [s, r] = await Promise.all([send.exited, recv.exited]);
    assert.equal(s.code, 0, s.output);
    assert.equal(r.code, 0, r.output);
    assert.equal(sha256(fs.readFileSync(output)), sha256(bytes));
    const line = s.output.split('\n').find((l) => l.startsWith('sent 52428800 bytes'));
    log(`${tag}: ${line}`);
    return { send: s.output, recv: r.output };
  }

  const modes = [
    { name: 'direct', relay: false },
    { name: 'relay-only through Tandem TURN', relay: true },
    { name: 'relay-only through coturn', relay: true, coturn: true },
  ];
  for (const mode of modes) {
    it(`moves 50 MiB both ways (${mode.name})`, { timeout: 240000 }, async () => {
      const tag = mode.coturn ? 'coturn' : mode.relay ? 'relay' : 'direct';
      let coturn;
      let srv = server;
      if (mode.coturn) {
        const secret = crypto.randomBytes(16).toString('hex');
        coturn = await startCoturn(secret);
        srv = await startServer(['--ice-server', coturn.url, '--turn-secret', secret]);
      }
      try {
        const extra = mode.relay ? ['--relay-only'] : [];
        const room = uniqueRoom(`native-${tag}`);
        for (const direction of ['a', 'b']) {
          const out = await transfer(srv, room, `${tag}-${direction}`, extra);
          assert.match(out.send, /SHA-256 verified by the receiver/);
          if (mode.relay) {
            assert.match(out.send, /over relay\/udp/, 'the sender used a relayed candidate');
            assert.match(out.recv, /over relay\/udp/, 'the receiver used a relayed candidate');
          } else {
            assert.match(out.send, /over host/, 'loopback peers connect host to host');
          }
        }
      } finally {
        if (mode.coturn) {
          await srv.stop();
          await coturn.stop();
        }
      }
    });
  }

  it('chats: lines typed on one side are printed on the other', { timeout: 60000 }, async () => {
    const room = uniqueRoom('native-chat');
    const listener = runPeer(['chat', '--server', server.url, '--room', room, '--identity', 'listener', '--duration', '30'], 'native-chat-listener');
    const talker = runPeer(['chat', '--server', server.url, '--room', room, '--identity', 'talker', '--timeout', '30'], 'native-chat-talker');
    talker.write('hello from the native side');
    talker.write('ünïcödé ✓');
    talker.child.stdin.end();
    const t = await talker.exited;
    assert.equal(t.code, 0, t.output);
    const deadline = Date.now() + 10000;
    while (!listener.output.includes('ünïcödé ✓') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const l = await listener.stop();
    assert.match(l.output, /\[talker\] hello from the native side/);
    assert.match(l.output, /\[talker\] ünïcödé ✓/);
  });
});
