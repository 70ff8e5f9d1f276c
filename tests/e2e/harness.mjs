// Shared pieces of the end-to-end tests: start `tandem serve --dev` on ephemeral loopback ports, launch Debian's
// Chromium through playwright-core with the flags docs in shared TESTING.md call for, open demo pages, poll.
//
// Run each test file inside a private network namespace (tests/interop/isolated.sh), e.g.
//   TANDEM_BIN=build/release/apps/tandem/tandem tests/interop/isolated.sh node --test tests/e2e/call.test.mjs
// Environment:
//   TANDEM_BIN            the tandem binary (CTest passes $<TARGET_FILE:tandem>)      — required
//   TANDEM_E2E_ARTIFACTS  where screenshots and browser logs go (default build/e2e-artifacts)
//   CHROMIUM              the browser (default /usr/bin/chromium; never downloaded)
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const artifactsDir = path.resolve(process.env.TANDEM_E2E_ARTIFACTS ?? path.join(repoRoot, 'build/e2e-artifacts'));
fs.mkdirSync(artifactsDir, { recursive: true });

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

let playwright;
try {
  playwright = await import('playwright-core');
} catch (err) {
  throw new Error(`playwright-core is not installed: run 'npm ci' at the repository root (make deps). ${err.message}`);
}

/** Milliseconds since the harness loaded, for log lines. */
const t0 = Date.now();
export const log = (...args) => console.log(`[e2e +${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...args);

/**
 * Polls `probe` until it returns a truthy value; returns it. Fails with `what` and the last value/error after
 * `timeout` ms.
 * @template T
 * @param {string} what
 * @param {() => Promise<T>|T} probe
 * @param {{timeout?: number, interval?: number}} [options]
 * @returns {Promise<T>}
 */
export async function waitFor(what, probe, { timeout = 20000, interval = 250 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/**
 * Starts `tandem serve --dev` on ephemeral loopback ports and waits for its ready line
 * `tandem serve ready: http=127.0.0.1:PORT turn=127.0.0.1:PORT`.
 * @param {string[]} [extraArgs]
 */
export async function startServer(extraArgs = []) {
  const bin = process.env.TANDEM_BIN;
  if (!bin) throw new Error('TANDEM_BIN is not set (the path of the tandem binary)');
  if (!fs.existsSync(bin)) throw new Error(`TANDEM_BIN=${bin} does not exist`);
  const args = ['serve', '--dev', '--http-listen', '127.0.0.1:0', '--turn-listen', '127.0.0.1:0', ...extraArgs];
  log('starting', bin, args.join(' '));
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  const logFile = fs.createWriteStream(path.join(artifactsDir, `server-${path.basename(process.argv[1] ?? 'e2e', '.test.mjs')}.log`));
  const ready = new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`no ready line from tandem serve within 15 s:\n${output.join('')}`)), 15000);
    const onData = (chunk) => {
      const text = chunk.toString();
      output.push(text);
      logFile.write(text);
      buffer += text;
      const match = buffer.match(/tandem serve ready: http=(\S+) turn=(\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve({ http: match[1], turn: match[2] });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => {
      output.push(chunk.toString());
      logFile.write(chunk);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`tandem serve exited (code ${code}, signal ${signal}) before it was ready:\n${output.join('')}`));
    });
  });
  let addresses;
  try {
    addresses = await ready;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  log('server ready', addresses);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    url: `http://${addresses.http}`,
    http: addresses.http,
    turn: addresses.turn,
    output,
    /** Stops the server with SIGTERM (SIGKILL after 5 s); resolves with its exit status. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const status = await exited;
      clearTimeout(timer);
      logFile.end();
      return status;
    },
  };
}

/** One Chromium process (a fresh profile each). Flags: shared TESTING.md, "Headless Chromium as a WebRTC peer". */
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (make deps)`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-e2e-'));
  const browser = await playwright.chromium.launch({
    executablePath: CHROMIUM,
    ignoreDefaultArgs: true,
    timeout: 30000,
    args: [
      '--remote-debugging-pipe', `--user-data-dir=${profile}`, '--headless', '--no-sandbox',
      '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--autoplay-policy=no-user-gesture-required', 'about:blank',
    ],
  });
  const close = browser.close.bind(browser);
  browser.close = async () => {
    await close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return browser;
}

/**
 * Opens the demo page in a new context of `browser`; browser console lines go to an artifact log.
 * @param {import('playwright-core').Browser} browser
 * @param {string} url
 * @param {string} label used in log and screenshot names
 */
export async function openDemo(browser, url, label) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const logFile = fs.createWriteStream(path.join(artifactsDir, `${label}.console.log`));
  page.on('console', (msg) => logFile.write(`[${msg.type()}] ${msg.text()}\n`));
  page.on('pageerror', (err) => logFile.write(`[pageerror] ${err.stack ?? err}\n`));
  page.setDefaultTimeout(20000);
  await page.goto(url);
  return page;
}

/** Saves a full-page screenshot under the artifacts directory; returns its path. */
export async function screenshot(page, name) {
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, animations: 'disabled' });
  log('screenshot', file);
  return file;
}

/** A demo URL: `/` with the given query parameters. */
export function demoUrl(server, query) {
  const url = new URL('/', server.url);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, String(value));
  return url.toString();
}

/** A room name no other test uses. */
export const uniqueRoom = (prefix) => `${prefix}-${crypto.randomBytes(3).toString('hex')}`;

export const sha256 = (buffer) => crypto.createHash('sha256').update(buffer).digest('hex');

/**
 * Raw WebRTC facts of the page's first remote peer, straight from RTCPeerConnection.getStats() (not through the
 * SDK's helper, so the test checks the browser's own numbers).
 * @param {import('playwright-core').Page} page
 */
export function peerFacts(page) {
  return page.evaluate(async () => {
    const room = window.tandemDemo?.room;
    const peers = room ? [...room.peers.values()] : [];
    if (peers.length === 0) return { peers: 0 };
    const pc = peers[0].pc;
    const report = await pc.getStats();
    const stats = new Map();
    report.forEach((s) => stats.set(s.id, s));
    const facts = { peers: peers.length, connectionState: pc.connectionState, framesDecoded: 0, audioPackets: 0 };
    let pair = null;
    for (const s of stats.values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video') facts.framesDecoded += s.framesDecoded ?? 0;
      if (s.type === 'inbound-rtp' && s.kind === 'audio') facts.audioPackets += s.packetsReceived ?? 0;
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    }
    if (pair) {
      const local = stats.get(pair.localCandidateId);
      const remote = stats.get(pair.remoteCandidateId);
      facts.pair = {
        state: pair.state,
        local: { type: local?.candidateType, protocol: local?.protocol, address: local?.address, port: local?.port, url: local?.url, relayProtocol: local?.relayProtocol },
        remote: { type: remote?.candidateType, protocol: remote?.protocol, address: remote?.address, port: remote?.port },
      };
    }
    return facts;
  });
}

/**
 * Makes an HS256 JWT (RFC 7519) with `secret`: lets the tests present expired or forged tokens.
 * @param {object} claims
 * @param {string|Buffer} secret
 */
export function makeJwt(claims, secret) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const head = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${head}.${crypto.createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** POST /api/token (open in --dev). */
export async function mintToken(server, body) {
  const response = await fetch(`${server.url}/api/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST /api/token: ${response.status} ${text}`);
  return JSON.parse(text);
}
