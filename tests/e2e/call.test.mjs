// End to end: two Chromium processes join one room on the demo page served by `tandem serve --dev`, then
// video flows both ways, chat and a 5 MiB file cross the data channel both ways, and a peer that leaves disappears
// from the other page. Run: tests/interop/isolated.sh node --test tests/e2e/call.test.mjs (TANDEM_BIN set).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { demoUrl, launchBrowser, log, openDemo, peerFacts, screenshot, sha256, startServer, uniqueRoom, waitFor } from './harness.mjs';

describe('two browsers in a call', { timeout: 240000 }, () => {
  let server;
  const browsers = [];
  let alice;
  let bob;
  const room = uniqueRoom('call');

  before(async () => {
    server = await startServer();
    browsers.push(await launchBrowser(), await launchBrowser());
    alice = await openDemo(browsers[0], demoUrl(server, { room, name: 'Alice', autojoin: 1 }), 'call-alice');
    await alice.getByTestId('call').waitFor({ state: 'visible' });
    bob = await openDemo(browsers[1], demoUrl(server, { room, name: 'Bob', autojoin: 1 }), 'call-bob');
    await bob.getByTestId('call').waitFor({ state: 'visible' });
  });

  after(async () => {
    for (const browser of browsers) await browser.close();
    if (server) {
      const status = await server.stop();
      log('server stopped', status);
    }
  });

  it('both pages decode video from each other', { timeout: 60000 }, async () => {
    for (const [page, other] of [[alice, 'Bob'], [bob, 'Alice']]) {
      await page.locator(`[data-testid=remote-tile][data-identity=${other}]`).waitFor();
    }
    const [a, b] = await Promise.all(
      [alice, bob].map((page) =>
        waitFor('framesDecoded > 30 and connected', async () => {
          const facts = await peerFacts(page);
          return facts.connectionState === 'connected' && facts.framesDecoded > 30 && facts.audioPackets > 0 && facts;
        }, { timeout: 30000 })));
    log('alice decoded', a.framesDecoded, 'frames via', a.pair?.local.type, '/ bob decoded', b.framesDecoded, 'via', b.pair?.local.type);
    assert.ok(a.framesDecoded > 30 && b.framesDecoded > 30);
    // The remote <video> really plays (the page attached the stream; dimensions come from decoded frames).
    for (const page of [alice, bob]) {
      const size = await page.getByTestId('remote-video').evaluate((v) => ({ w: v.videoWidth, h: v.videoHeight, paused: v.paused }));
      assert.ok(size.w > 0 && size.h > 0 && !size.paused, `remote video not playing: ${JSON.stringify(size)}`);
    }
    // The stats panel shows live numbers from the SDK's helper.
    await alice.getByTestId('tab-stats').click();
    await waitFor('stats panel filled', async () => {
      const card = alice.getByTestId('peer-stats');
      const frames = Number(await card.getAttribute('data-frames-decoded'));
      const rtt = await card.getByTestId('stat-rtt').textContent();
      const download = await card.getByTestId('stat-bitrate-in').textContent();
      const upload = await card.getByTestId('stat-bitrate-out').textContent();
      const nonZero = (text) => /^[\d.]+ (k|M)bit\/s$/.test(text) && parseFloat(text) > 0;
      return frames > 0 && /ms$/.test(rtt ?? '') && nonZero(download) && nonZero(upload) &&
        (await card.getAttribute('data-local-candidate-type'));
    }, { timeout: 10000 });
    await alice.getByTestId('tab-chat').click();
  });

  it('chat messages cross the data channel both ways', { timeout: 30000 }, async () => {
    const hello = `hello from Alice ${crypto.randomUUID()}`;
    const reply = `hi Alice, Bob here ${crypto.randomUUID()}`;
    await alice.getByTestId('chat-input').fill(hello);
    await alice.getByTestId('chat-send').click();
    await bob.locator('[data-testid=chat-message][data-author=Alice] [data-testid=chat-text]', { hasText: hello }).waitFor();
    await bob.getByTestId('chat-input').fill(reply);
    await bob.getByTestId('chat-input').press('Enter');
    await alice.locator('[data-testid=chat-message][data-author=Bob] [data-testid=chat-text]', { hasText: reply }).waitFor();
  });

  it('a 5 MiB file crosses the data channel both ways with matching SHA-256', { timeout: 60000 }, async () => {
    const files = {
      alice: { name: 'alice-5MiB.bin', mimeType: 'application/octet-stream', buffer: crypto.randomBytes(5 * 1024 * 1024) },
      bob: { name: 'bob-5MiB.bin', mimeType: 'application/octet-stream', buffer: crypto.randomBytes(5 * 1024 * 1024) },
    };
    for (const page of [alice, bob]) await page.getByTestId('tab-files').click();
    const started = Date.now();
    // Both directions at once.
    await Promise.all([
      alice.getByTestId('file-input').setInputFiles(files.alice),
      bob.getByTestId('file-input').setInputFiles(files.bob),
    ]);
    const received = async (page, file) => {
      const item = page.locator(`[data-testid=file-transfer][data-direction=in]`, { hasText: file.name });
      await waitFor(`${file.name} received`, async () => ['done', 'mismatch'].includes(await item.getAttribute('data-status')), { timeout: 45000 });
      return {
        status: await item.getAttribute('data-status'),
        sha: await item.getAttribute('data-sha256'),
        shown: (await item.getByTestId('file-sha256').textContent()).trim(),
        size: Number(await item.getAttribute('data-size')),
      };
    };
    const [atBob, atAlice] = await Promise.all([received(bob, files.alice), received(alice, files.bob)]);
    const seconds = (Date.now() - started) / 1000;
    const expected = { alice: sha256(files.alice.buffer), bob: sha256(files.bob.buffer) };
    log(`files crossed in ${seconds.toFixed(1)} s; Alice→Bob sha ${atBob.sha} (expected ${expected.alice}); Bob→Alice sha ${atAlice.sha} (expected ${expected.bob})`);
    assert.deepEqual(atBob, { status: 'done', sha: expected.alice, shown: expected.alice, size: files.alice.buffer.length });
    assert.deepEqual(atAlice, { status: 'done', sha: expected.bob, shown: expected.bob, size: files.bob.buffer.length });
    // Each sender hears back that the receiver verified the hash.
    for (const [page, file] of [[alice, files.alice], [bob, files.bob]]) {
      const item = page.locator('[data-testid=file-transfer][data-direction=out]', { hasText: file.name });
      await waitFor(`${file.name} acknowledged`, async () => (await item.getAttribute('data-status')) === 'delivered');
    }
    await screenshot(alice, 'call-alice-files');
    for (const page of [alice, bob]) await page.getByTestId('tab-chat').click();
    await screenshot(alice, 'call-alice');
    await screenshot(bob, 'call-bob');
  });

  it('a peer that leaves is removed from the other page', { timeout: 30000 }, async () => {
    assert.equal(await alice.locator('[data-testid=remote-tile]').count(), 1);
    await bob.getByTestId('leave-button').click();
    await bob.getByTestId('lobby').waitFor({ state: 'visible' });
    await alice.locator('[data-testid=remote-tile]').waitFor({ state: 'detached', timeout: 15000 });
    await alice.getByTestId('waiting').waitFor({ state: 'visible' });
    await waitFor('Alice has no peers left', async () => (await peerFacts(alice)).peers === 0);
    await screenshot(alice, 'call-alice-alone');
  });
});
