// End to end: the SDK's recovery paths in a live call between two browsers — an ICE restart started by both sides
// at once (perfect-negotiation glare), the "relay only" switch flipped during the call, the signaling socket
// dropping (automatic reconnect and re-join), mute state reaching the other side, and a third peer (mesh).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { demoUrl, launchBrowser, log, openDemo, peerFacts, screenshot, startServer, uniqueRoom, waitFor } from './harness.mjs';

describe('call recovery', { timeout: 240000 }, () => {
  let server;
  const browsers = [];
  let alice;
  let bob;
  const room = uniqueRoom('resilience');

  /** Keeps every WebSocket the page opens, so the test can drop the signaling socket like a network would. */
  const recordSockets = () => {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.__sockets.push(this);
      }
    };
  };

  before(async () => {
    server = await startServer();
    browsers.push(await launchBrowser(), await launchBrowser());
    for (const [i, name] of ['Alice', 'Bob'].entries()) {
      const context = await browsers[i].newContext({ viewport: { width: 1280, height: 800 } });
      await context.addInitScript(recordSockets);
      const page = await context.newPage();
      page.setDefaultTimeout(20000);
      await page.goto(demoUrl(server, { room, name, autojoin: 1 }));
      await page.getByTestId('call').waitFor();
      if (i === 0) alice = page;
      else bob = page;
    }
  });

  after(async () => {
    for (const browser of browsers) await browser.close();
    if (server) log('server stopped', await server.stop());
  });

  /** Waits until the page's first peer is connected and has decoded more than `frames` video frames. */
  const flowing = (page, frames, what) =>
    waitFor(what, async () => {
      const f = await peerFacts(page);
      return f.connectionState === 'connected' && f.framesDecoded > frames && f;
    }, { timeout: 30000 });
  const signalingState = (page) => page.evaluate(() => [...window.tandemDemo.room.peers.values()][0].pc.signalingState);

  it('connects', { timeout: 40000 }, async () => {
    await Promise.all([flowing(alice, 10, 'Alice decodes'), flowing(bob, 10, 'Bob decodes')]);
  });

  it('recovers from an ICE restart started by both sides at once', { timeout: 40000 }, async () => {
    const ufrag = (page) => page.evaluate(() => [...window.tandemDemo.room.peers.values()][0].pc.localDescription.sdp.match(/a=ice-ufrag:(\S+)/)[1]);
    const before = { alice: await ufrag(alice), bob: await ufrag(bob), frames: (await peerFacts(alice)).framesDecoded };
    await Promise.all([alice, bob].map((page) => page.evaluate(() => [...window.tandemDemo.room.peers.values()][0].restartIce())));
    await waitFor('both restarted (new ufrags) and stable', async () =>
      (await ufrag(alice)) !== before.alice && (await ufrag(bob)) !== before.bob &&
      (await signalingState(alice)) === 'stable' && (await signalingState(bob)) === 'stable');
    const f = await flowing(alice, before.frames + 30, 'video keeps flowing after the restart');
    log(`ICE restart glare: frames ${before.frames} → ${f.framesDecoded}, both stable`);
  });

  it('the relay switch during the call moves media onto TURN', { timeout: 40000 }, async () => {
    await alice.getByTestId('relay-toggle-call').check({ force: true }); // the input is visually hidden in its label
    const f = await waitFor('Alice on a relay pair', async () => {
      const facts = await peerFacts(alice);
      return facts.connectionState === 'connected' && facts.pair?.local.type === 'relay' && facts;
    }, { timeout: 30000 });
    assert.equal(f.pair.local.type, 'relay');
    const g = await flowing(alice, 10, 'video over the relay');
    log(`relay switch: Alice's pair ${g.pair.local.type} ↔ ${g.pair.remote.type}, framesDecoded ${g.framesDecoded}`);
  });

  it('reconnects the signaling socket after it drops, and the call comes back', { timeout: 45000 }, async () => {
    const oldId = await bob.evaluate(() => window.tandemDemo.room.peerId);
    await bob.evaluate(() => window.__sockets.at(-1).close(4000, 'test: drop'));
    const newId = await waitFor('Bob rejoined under a new peer id', async () => {
      const s = await bob.evaluate(() => ({ state: window.tandemDemo.room.state, id: window.tandemDemo.room.peerId }));
      return s.state === 'connected' && s.id !== oldId && s.id;
    }, { timeout: 20000 });
    await waitFor('one remote tile on each page', async () =>
      (await alice.locator('[data-testid=remote-tile]').count()) === 1 && (await bob.locator('[data-testid=remote-tile]').count()) === 1);
    const [fa, fb] = await Promise.all([flowing(alice, 5, 'Alice decodes again'), flowing(bob, 5, 'Bob decodes again')]);
    log(`signaling reconnect: Bob ${oldId} → ${newId}; frames decoded since: Alice ${fa.framesDecoded}, Bob ${fb.framesDecoded}`);
    await alice.getByTestId('chat-input').fill('still there?');
    await alice.getByTestId('chat-send').click();
    await bob.locator('[data-testid=chat-text]', { hasText: 'still there?' }).waitFor();
  });

  it('mute and camera-off reach the other side', { timeout: 20000 }, async () => {
    await alice.getByTestId('mic-toggle').click();
    await alice.getByTestId('camera-toggle').click();
    const tile = bob.locator('[data-testid=remote-tile]');
    await waitFor('Bob sees Alice muted with camera off', async () =>
      (await tile.getAttribute('data-audio-muted')) === 'true' && (await tile.getAttribute('data-video-muted')) === 'true');
    assert.equal(await tile.locator('.mic-muted').isVisible(), true, 'muted badge on the remote tile');
    const enabled = await alice.evaluate(() => window.tandemDemo.localStream.getTracks().map((t) => t.enabled));
    assert.deepEqual(enabled, [false, false]);
    await screenshot(bob, 'resilience-bob-sees-alice-muted');
    await alice.getByTestId('mic-toggle').click();
    await waitFor('Bob sees Alice unmuted', async () => (await tile.getAttribute('data-audio-muted')) === 'false');
  });

  it('a third participant connects to both (mesh)', { timeout: 40000 }, async () => {
    const carol = await openDemo(browsers[0], demoUrl(server, { room, name: 'Carol', autojoin: 1 }), 'resilience-carol');
    await carol.getByTestId('call').waitFor();
    for (const [page, name] of [[carol, 'Carol'], [alice, 'Alice'], [bob, 'Bob']]) {
      await waitFor(`${name} connected to two peers`, async () =>
        (await page.locator('[data-testid=remote-tile][data-state=connected]').count()) === 2, { timeout: 30000 });
    }
    await screenshot(carol, 'resilience-carol-three-way');
  });
});
