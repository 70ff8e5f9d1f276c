// End to end: Tandem's native peer (`tandem peer`, libtandem: our ICE, DTLS, SCTP and data channels) in one room
// with the demo page in headless Chromium (Google's WebRTC: BoringSSL DTLS, dcSCTP). Messages on ordered,
// unordered and maxRetransmits:0 channels both ways; 50 MiB files both ways with SHA-256 checks, directly and
// relay-only through Tandem's TURN server and through coturn.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  artifactsDir, demoUrl, launchBrowser, log, openDemo, screenshot, sha256, startServer, uniqueRoom, waitFor,
} from './harness.mjs';
import { startCoturn } from './coturn.mjs';
import { runPeer } from './peer_process.mjs';

const FILE_BYTES = 50 * 1024 * 1024;

describe('native peer with Chromium', { timeout: 600000 }, () => {
  let server;
  let browser;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-peer-e2e-'));

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    const status = await server?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
    assert.equal(status?.code, 0, 'tandem serve exits 0 on SIGTERM');
  });

  /** The demo page joined to `room` and connected to the native peer `identity`. */
  async function pageWithNative(srv, room, name, identity, query = {}) {
    const page = await openDemo(browser, demoUrl(srv, { room, name, autojoin: 1, ...query }), `peer-${name}`);
    await page.getByTestId('call').waitFor({ state: 'visible' });
    await waitFor(`the page connected to ${identity}`, () =>
      page.evaluate((who) => {
        const peer = [...(window.tandemDemo.room?.peers.values() ?? [])].find((p) => p.identity === who);
        return peer?.pc.connectionState === 'connected' && peer.channel('file')?.readyState === 'open';
      }, identity), { timeout: 30000 });
    return page;
  }

  /** The selected candidate pair's types as the page sees them, e.g. {local: 'relay', remote: 'relay'}. */
  function pageSelectedPair(page, identity) {
    return page.evaluate(async (who) => {
      const peer = [...window.tandemDemo.room.peers.values()].find((p) => p.identity === who);
      const stats = new Map();
      (await peer.pc.getStats()).forEach((s) => stats.set(s.id, s));
      for (const s of stats.values()) {
        if (s.type === 'transport' && s.selectedCandidatePairId) {
          const pair = stats.get(s.selectedCandidatePairId);
          const local = stats.get(pair.localCandidateId);
          return { local: local.candidateType, remote: stats.get(pair.remoteCandidateId).candidateType, url: local.url };
        }
      }
      return null;
    }, identity);
  }

  it('exchanges text and binary messages both ways on ordered, unordered and maxRetransmits:0 channels', { timeout: 120000 }, async () => {
    const room = uniqueRoom('peer-echo');
    const echo = runPeer(['echo', '--server', server.url, '--room', room, '--identity', 'echo-bot', '--duration', '90'], 'peer-echo');
    const page = await pageWithNative(server, room, 'Erin', 'echo-bot');
    const result = await page.evaluate(async () => {
      const peer = [...window.tandemDemo.room.peers.values()].find((p) => p.identity === 'echo-bot');
      const specs = [
        { label: 'ordered', init: {} },
        { label: 'unordered', init: { ordered: false } },
        { label: 'lossy', init: { ordered: false, maxRetransmits: 0 } },
      ];
      const out = {};
      await Promise.all(specs.map(async ({ label, init }) => {
        const channel = peer.pc.createDataChannel(label, init);
        channel.binaryType = 'arraybuffer';
        const sent = [];
        const received = [];
        channel.onmessage = (e) => received.push(typeof e.data === 'string' ? `t:${e.data}` : `b:${new Uint8Array(e.data).join(',').length}:${new Uint8Array(e.data).reduce((a, x) => (a * 31 + x) >>> 0, 7)}`);
        await new Promise((resolve, reject) => {
          channel.onopen = resolve;
          setTimeout(() => reject(new Error(`${label} did not open`)), 15000);
        });
        for (let i = 0; i < 40; i++) {
          if (i % 2 === 0) {
            const text = `${label} message ${i} ${'·'.repeat(i * 10)}`;
            channel.send(text);
            sent.push(`t:${text}`);
          } else {
            const bytes = new Uint8Array(1 + i * 1500);
            for (let k = 0; k < bytes.length; k++) bytes[k] = (k * 7 + i) & 255;
            channel.send(bytes);
            sent.push(`b:${bytes.join(',').length}:${bytes.reduce((a, x) => (a * 31 + x) >>> 0, 7)}`);
          }
        }
        const deadline = Date.now() + 20000;
        while (received.length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        out[label] = { sent, received, ordered: channel.ordered, maxRetransmits: channel.maxRetransmits, id: channel.id };
      }));
      return out;
    });
    for (const [label, r] of Object.entries(result)) {
      log(`${label}: sent ${r.sent.length}, echoed ${r.received.length} (stream id ${r.id})`);
      if (label === 'ordered') {
        assert.deepEqual(r.received, r.sent, 'ordered echoes arrive complete and in order');
      } else if (label === 'unordered') {
        // Unordered but reliable: every message comes back, in any order.
        assert.deepEqual([...r.received].sort(), [...r.sent].sort(), `${label} echoes arrive complete`);
      } else {
        // maxRetransmits:0 promises no delivery: a datagram the kernel drops on a busy loopback (a burst of
        // 30 KB messages overflowing a socket buffer) is gone, twice over (there and back). What does come back
        // must be exactly what was sent, once each, and most of it.
        const sent = new Set(r.sent);
        assert.ok(r.received.every((m) => sent.has(m)), `${label}: only messages that were sent come back`);
        assert.equal(new Set(r.received).size, r.received.length, `${label}: no message twice`);
        assert.ok(r.received.length >= r.sent.length * 0.75, `${label}: ${r.received.length} of ${r.sent.length} came back`);
      }
    }
    assert.equal(result.lossy.maxRetransmits, 0);
    assert.equal(result.unordered.ordered, false);
    await screenshot(page, 'peer-echo-page');
    await page.close();
    const { code, output } = await echo.stop();
    assert.equal(code, 0, output);
    assert.match(output, /echoing on channel ordered/);
    assert.match(output, /echoing on channel lossy/);
    const echoed = Number(output.match(/echoed (\d+) messages/)?.[1] ?? -1);
    // Every reliable message, and at least each lossy one that came back (some may have been lost on the way in).
    const reliable = result.ordered.sent.length + result.unordered.sent.length;
    assert.ok(echoed >= reliable + result.lossy.received.length, `the native peer echoed ${echoed} messages`);
  });

  const modes = [
    { name: 'direct', relay: false },
    { name: 'relay-only through Tandem TURN', relay: true },
    { name: 'relay-only through coturn', relay: true, coturn: true },
  ];
  for (const mode of modes) {
    it(`moves 50 MiB files both ways (${mode.name}) with matching SHA-256`, { timeout: 240000 }, async () => {
      const tag = mode.coturn ? 'coturn' : mode.relay ? 'relay' : 'direct';
      // coturn: a second `tandem serve` hands out coturn's URL with TURN REST credentials for the shared secret.
      let coturn;
      let srv = server;
      if (mode.coturn) {
        const secret = crypto.randomBytes(16).toString('hex');
        coturn = await startCoturn(secret);
        srv = await startServer(['--ice-server', coturn.url, '--turn-secret', secret]);
      }
      try {
        const room = uniqueRoom(`peer-${tag}`);
        const relayArgs = mode.relay ? ['--relay-only'] : [];
        const query = mode.relay ? { relay: 1 } : {};

        // Page → native: `tandem peer recv`.
        const out = path.join(scratch, `received-${tag}.bin`);
        const recv = runPeer(['recv', '--server', srv.url, '--room', room, '--identity', 'native-recv', '--out', out, '--timeout', '180', ...relayArgs], `peer-recv-${tag}`);
        const page = await pageWithNative(srv, room, 'Pat', 'native-recv', query);
        const pair = await pageSelectedPair(page, 'native-recv');
        log(`${mode.name}: the page's selected pair`, JSON.stringify(pair));
        if (mode.relay) {
          assert.equal(pair.local, 'relay');
          assert.equal(pair.remote, 'relay');
          const turnPort = mode.coturn ? coturn.port : Number(srv.turn.split(':').pop());
          assert.match(pair.url ?? '', new RegExp(`^turn:127\\.0\\.0\\.1:${turnPort}`), 'the relay is the expected TURN server');
        }
        const upload = path.join(scratch, `upload-${tag}.bin`);
        const uploadBytes = crypto.randomBytes(FILE_BYTES);
        fs.writeFileSync(upload, uploadBytes);
        await page.getByTestId('tab-files').click();
        const started = Date.now();
        await page.getByTestId('file-input').setInputFiles(upload);
        const recvResult = await recv.exited;
        const seconds = (Date.now() - started) / 1000;
        assert.equal(recvResult.code, 0, recvResult.output);
        assert.equal(sha256(fs.readFileSync(out)), sha256(uploadBytes), 'the native receiver wrote the same bytes');
        assert.match(recvResult.output, /received 52428800 bytes/);
        if (mode.relay) assert.match(recvResult.output, /over relay\/udp/, 'the native peer reports a relay pair');
        log(`page → native (${mode.name}): 50 MiB in ${seconds.toFixed(1)} s (page hashing included)`);
        const outItem = page.locator('[data-testid=file-transfer][data-direction=out]').first();
        await waitFor('the page hears the native peer verified the file', async () => (await outItem.getAttribute('data-status')) === 'delivered', { timeout: 20000 });

        // Native → page: `tandem peer send`.
        const download = path.join(scratch, `download-${tag}.bin`);
        const downloadBytes = crypto.randomBytes(FILE_BYTES);
        fs.writeFileSync(download, downloadBytes);
        const send = runPeer(['send', download, '--server', srv.url, '--room', room, '--identity', 'native-send', '--timeout', '180', ...relayArgs], `peer-send-${tag}`);
        const sendResult = await send.exited;
        assert.equal(sendResult.code, 0, sendResult.output);
        assert.match(sendResult.output, /sent 52428800 bytes .* SHA-256 verified by the receiver/);
        if (mode.relay) assert.match(sendResult.output, /over relay\/udp/);
        const inItem = page.locator('[data-testid=file-transfer][data-direction=in]', { hasText: path.basename(download) });
        await waitFor('the page received the native file', async () => (await inItem.getAttribute('data-status')) === 'done', { timeout: 30000 });
        assert.equal(await inItem.getAttribute('data-sha256'), sha256(downloadBytes));
        await screenshot(page, `peer-files-${tag}`);
        await page.close();
      } finally {
        if (mode.coturn) {
          await srv.stop();
          await coturn.stop();
        }
      }
    });
  }

  it('keeps artifacts for review', () => {
    assert.ok(fs.existsSync(artifactsDir));
  });
});
