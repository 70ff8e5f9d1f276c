// End to end: the demo page given a bad or an expired token (?token=...) shows the SDK's typed error in its error
// banner and stays in the lobby; the same page given a good token joins (so the failures are about the token).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { demoUrl, launchBrowser, log, makeJwt, mintToken, openDemo, screenshot, startServer, uniqueRoom, waitFor } from './harness.mjs';

// A server that takes its token secret on the command line lets the test sign an already-expired token; otherwise
// the test mints the shortest token the API allows (ttl 1 s) and waits out the server's 30 s clock-skew leeway.
const help = (() => {
  try {
    return execFileSync(process.env.TANDEM_BIN ?? 'false', ['serve', '--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  } catch (err) {
    return `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
})();
const SECRET_FLAG = help.includes('--token-secret') ? '--token-secret' : null;
const SKEW_SECONDS = 30;

describe('token errors on the demo page', { timeout: 180000 }, () => {
  let server;
  let browser;
  const secret = crypto.randomBytes(24).toString('hex');
  const room = uniqueRoom('auth');

  before(async () => {
    server = await startServer(SECRET_FLAG ? [SECRET_FLAG, secret] : []);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (server) log('server stopped', await server.stop());
  });

  /** Opens the page with `token`, returns the error banner's code once it shows (and checks the page stayed out). */
  async function expectBanner(token, label, code) {
    const page = await openDemo(browser, demoUrl(server, { room, name: label, token, autojoin: 1 }), `auth-${label}`);
    const banner = page.getByTestId('error-banner');
    await banner.waitFor({ state: 'visible', timeout: 15000 });
    assert.equal(await banner.getAttribute('data-code'), code);
    const title = await page.getByTestId('error-title').textContent();
    const message = await page.getByTestId('error-message').textContent();
    log(`${label}: banner "${title}" — ${message}`);
    assert.match(title, code === 'token_expired' ? /expired/i : /invalid/i);
    assert.equal(await page.getByTestId('lobby').isVisible(), true, 'stays in the lobby');
    assert.equal(await page.getByTestId('call').isVisible(), false, 'does not enter the call');
    assert.equal(await page.getByTestId('connection-status').getAttribute('data-state'), 'closed');
    await screenshot(page, `auth-${label}`);
    await page.context().close();
  }

  it('a bad token (forged signature, and not a JWT at all) shows bad_token', { timeout: 45000 }, async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = makeJwt({ iss: 'tandem', sub: 'Mallory', room, perms: ['join', 'send'], iat: now, exp: now + 3600, jti: 'x' },
      crypto.randomBytes(32));
    await expectBanner(forged, 'bad-token', 'bad_token');
    await expectBanner('not-a-token', 'garbage-token', 'bad_token');
  });

  it('an expired token shows token_expired', { timeout: 59000 }, async () => {
    let token;
    if (SECRET_FLAG) {
      const now = Math.floor(Date.now() / 1000);
      token = makeJwt({ iss: 'tandem', sub: 'Eve', room, perms: ['join', 'send'], iat: now - 7200, exp: now - 3600, jti: 'y' }, secret);
      // Sanity: the server accepts tokens signed this way (fresh one) and refuses this one as expired.
      const fresh = makeJwt({ iss: 'tandem', sub: 'Eve', room, perms: ['join', 'send'], iat: now, exp: now + 600, jti: 'z' }, secret);
      const ok = await fetch(`${server.url}/api/rooms/${room}`, { headers: { Authorization: `Bearer ${fresh}` } });
      assert.equal(ok.status, 200, `${SECRET_FLAG} did not take: a token signed with it was refused`);
    } else {
      const minted = await mintToken(server, { room, identity: 'Eve', ttl: 1 });
      token = minted.token;
      const waitMs = (minted.expiresAt + SKEW_SECONDS + 1) * 1000 - Date.now();
      log(`no --token-secret: waiting ${(waitMs / 1000).toFixed(0)} s for a minted 1 s token to expire past the skew`);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, waitMs)));
    }
    const check = await fetch(`${server.url}/api/rooms/${room}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(check.status, 401);
    await expectBanner(token, 'expired-token', 'token_expired');
  });

  it('a good token given in the URL joins', { timeout: 30000 }, async () => {
    const { token } = await mintToken(server, { room, identity: 'Grace' });
    const page = await openDemo(browser, demoUrl(server, { token, autojoin: 1 }), 'auth-good-token');
    await page.getByTestId('call').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('room-name').textContent(), room);
    assert.equal(await page.getByTestId('error-banner').isVisible(), false);
    await waitFor('connected', async () => (await page.getByTestId('connection-status').getAttribute('data-state')) === 'connected');
    await page.context().close();
  });
});
