// End to end: with "relay only" (?relay=1 → iceTransportPolicy 'relay') both browsers connect through the TURN
// server of `tandem serve`, the selected candidate pair is relay↔relay on both sides, and video still decodes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { demoUrl, launchBrowser, log, openDemo, peerFacts, screenshot, startServer, uniqueRoom, waitFor } from './harness.mjs';

describe('relay-only call through Tandem TURN', { timeout: 180000 }, () => {
  let server;
  const browsers = [];
  const pages = [];
  const room = uniqueRoom('relay');

  before(async () => {
    server = await startServer();
    browsers.push(await launchBrowser(), await launchBrowser());
    for (const [i, name] of ['Carol', 'Dave'].entries()) {
      const page = await openDemo(browsers[i], demoUrl(server, { room, name, relay: 1, autojoin: 1 }), `relay-${name.toLowerCase()}`);
      await page.getByTestId('call').waitFor({ state: 'visible' });
      pages.push(page);
    }
  });

  after(async () => {
    for (const browser of browsers) await browser.close();
    if (server) log('server stopped', await server.stop());
  });

  it('selects a relay candidate pair on both sides and decodes video over it', { timeout: 60000 }, async () => {
    const turnPort = Number(server.turn.split(':').pop());
    const facts = await Promise.all(
      pages.map((page) =>
        waitFor('connected over a relay pair with decoded video', async () => {
          const f = await peerFacts(page);
          return f.connectionState === 'connected' && f.pair && f.framesDecoded > 10 && f;
        }, { timeout: 40000 })));
    for (const [i, f] of facts.entries()) {
      log(`page ${i}: pair ${f.pair.local.type}/${f.pair.local.relayProtocol} ${f.pair.local.address}:${f.pair.local.port} (${f.pair.local.url}) ↔ ${f.pair.remote.type} ${f.pair.remote.address}:${f.pair.remote.port}; framesDecoded ${f.framesDecoded}`);
      assert.equal(f.pair.local.type, 'relay', 'local candidate of the selected pair');
      assert.equal(f.pair.remote.type, 'relay', 'remote candidate of the selected pair');
      // Allocated on our TURN server: the candidate's server URL names the port from the ready line.
      assert.match(f.pair.local.url ?? '', new RegExp(`^turns?:127\\.0\\.0\\.1:${turnPort}(\\?|$)`), 'relay candidate from Tandem TURN');
    }
    // The page says so too.
    for (const page of pages) {
      await page.getByTestId('tab-stats').click();
      await waitFor('stats badge shows relay', async () => (await page.getByTestId('stat-candidate-type').textContent()) === 'relay');
      assert.equal(await page.getByTestId('relay-toggle-call').isChecked(), true);
    }
    await screenshot(pages[0], 'relay-carol-stats');
  });
});
