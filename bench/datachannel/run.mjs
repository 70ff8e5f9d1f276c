// bench/datachannel: data channel throughput and connection setup time, libtandem native ↔ native (dc_bench) against
// Chromium ↔ Chromium (Debian's chromium via playwright-core), in the same run, on loopback, same workload:
//   throughput  one reliable ordered channel, N MiB in 64 KiB messages, bufferedAmount kept ≤ 4 MiB (refilled at
//               bufferedamountlow 1 MiB), timed from the first send to the last byte received
//   setup       createOffer → the offerer's channel "open", both connections in one process (one page for Chromium),
//               signaling handed over directly; median of several runs
// Rounds alternate the stacks; the best throughput and the median setup of each are compared.
//
// Run it through run.sh (it isolates itself in a network namespace). Options:
//   --dc-bench PATH   the dc_bench binary (default build/release/bench/datachannel/dc_bench)
//   --megabytes N     per throughput run (default 64)      --rounds N  (default 3)      --setups N  (default 10)
//   --json FILE       also write the results as JSON
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const dcBench = path.resolve(args['dc-bench'] ?? path.join(repo, 'build/release/bench/datachannel/dc_bench'));
const megabytes = Number(args.megabytes ?? 64);
const rounds = Number(args.rounds ?? 3);
const setups = Number(args.setups ?? 10);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const { chromium } = await import('playwright-core');

function runDcBench() {
  return new Promise((resolve, reject) => {
    const child = spawn(dcBench, ['--megabytes', String(megabytes), '--setups', String(setups)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`dc_bench exited with ${code}: ${err}`));
      const lines = out.trim().split('\n').map((l) => JSON.parse(l));
      resolve({ setup: lines.find((l) => l.kind === 'setup'), throughput: lines.find((l) => l.kind === 'throughput') });
    });
  });
}

async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-dcbench-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM, ignoreDefaultArgs: true, timeout: 30000,
    args: ['--remote-debugging-pipe', `--user-data-dir=${profile}`, '--headless', '--no-sandbox', '--disable-gpu',
      '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
      '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns', 'about:blank'],
  });
  return { browser, profile };
}

// A blank page on localhost (a secure context).
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end('<!doctype html><title>dc bench</title>');
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const pageUrl = `http://127.0.0.1:${server.address().port}/`;

async function chromiumSetup(browser) {
  const page = await browser.newPage();
  await page.goto(pageUrl);
  const times = await page.evaluate(async (n) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const a = new RTCPeerConnection();
      const b = new RTCPeerConnection();
      a.onicecandidate = (e) => b.addIceCandidate(e.candidate ?? undefined).catch(() => {});
      b.onicecandidate = (e) => a.addIceCandidate(e.candidate ?? undefined).catch(() => {});
      const start = performance.now();
      const channel = a.createDataChannel('bench');
      const open = new Promise((resolve) => (channel.onopen = resolve));
      await a.setLocalDescription(await a.createOffer());
      await b.setRemoteDescription(a.localDescription);
      await b.setLocalDescription(await b.createAnswer());
      await a.setRemoteDescription(b.localDescription);
      await open;
      out.push(performance.now() - start);
      a.close();
      b.close();
    }
    return out;
  }, setups);
  await page.close();
  times.sort((x, y) => x - y);
  return { median_ms: times[Math.floor(times.length / 2)], min_ms: times[0], max_ms: times[times.length - 1] };
}

async function chromiumThroughput(sendBrowser, recvBrowser) {
  const [sender, receiver] = await Promise.all([sendBrowser.newPage(), recvBrowser.newPage()]);
  for (const [name, page] of [['sender', sender], ['receiver', receiver]]) {
    page.on('crash', () => console.error(`${name} page crashed`));
    page.on('pageerror', (e) => console.error(`${name}: ${e}`));
  }
  await Promise.all([sender.goto(pageUrl), receiver.goto(pageUrl)]);
  // Signaling through this script: each page pushes its candidates, the script hands them to the other.
  await sender.exposeFunction('toReceiver', (c) => receiver.evaluate((x) => window.pc.addIceCandidate(x ?? undefined).catch(() => {}), c));
  await receiver.exposeFunction('toSender', (c) => sender.evaluate((x) => window.pc.addIceCandidate(x ?? undefined).catch(() => {}), c));
  const total = megabytes * 1024 * 1024;
  await receiver.evaluate((bytes) => {
    window.pc = new RTCPeerConnection();
    window.pc.onicecandidate = (e) => window.toSender(e.candidate ? e.candidate.toJSON() : null);
    window.done = new Promise((resolve) => {
      window.pc.ondatachannel = ({ channel }) => {
        channel.binaryType = 'arraybuffer';
        let received = 0;
        channel.onmessage = (e) => {
          received += e.data.byteLength;
          if (received >= bytes) resolve(Date.now());
        };
      };
    });
  }, total);
  const offer = await sender.evaluate(async () => {
    window.pc = new RTCPeerConnection();
    window.pc.onicecandidate = (e) => window.toReceiver(e.candidate ? e.candidate.toJSON() : null);
    window.channel = window.pc.createDataChannel('bench');
    window.channel.binaryType = 'arraybuffer';
    window.opened = new Promise((resolve) => (window.channel.onopen = resolve));
    await window.pc.setLocalDescription(await window.pc.createOffer());
    return window.pc.localDescription.toJSON();
  });
  const answer = await receiver.evaluate(async (o) => {
    await window.pc.setRemoteDescription(o);
    await window.pc.setLocalDescription(await window.pc.createAnswer());
    return window.pc.localDescription.toJSON();
  }, offer);
  await sender.evaluate((a) => window.pc.setRemoteDescription(a), answer);
  const started = await sender.evaluate(async (bytes) => {
    await window.opened;
    const channel = window.channel;
    const message = new Uint8Array(64 * 1024).fill(0xab);
    channel.bufferedAmountLowThreshold = 1024 * 1024;
    const start = Date.now();
    let sent = 0;
    const pump = () => {
      while (sent < bytes && channel.bufferedAmount <= 4 * 1024 * 1024) {
        channel.send(message);
        sent += message.byteLength;
      }
    };
    channel.onbufferedamountlow = pump;
    pump();
    return start;
  }, total);
  const finished = await receiver.evaluate(() => window.done);
  await Promise.all([sender.close(), receiver.close()]);
  const seconds = (finished - started) / 1000;
  return { bytes: total, seconds, mb_per_s: total / seconds / 1e6 };
}

const results = { megabytes, rounds, tandem: { throughput: [], setup: [] }, chromium: { throughput: [], setup: [] } };
const a = await launch();
const b = await launch();
try {
  for (let round = 0; round < rounds; round++) {
    const native = await runDcBench();
    results.tandem.throughput.push(native.throughput.mb_per_s);
    results.tandem.setup.push(native.setup.median_ms);
    console.error(`round ${round + 1}: tandem ${native.throughput.mb_per_s.toFixed(1)} MB/s (${native.throughput.cpu_seconds.toFixed(2)} CPU-s), setup ${native.setup.median_ms.toFixed(1)} ms`);
    const chromeThroughput = await chromiumThroughput(a.browser, b.browser);
    const chromeSetup = await chromiumSetup(a.browser);
    results.chromium.throughput.push(chromeThroughput.mb_per_s);
    results.chromium.setup.push(chromeSetup.median_ms);
    console.error(`round ${round + 1}: chromium ${chromeThroughput.mb_per_s.toFixed(1)} MB/s, setup ${chromeSetup.median_ms.toFixed(1)} ms`);
  }
} finally {
  for (const x of [a, b]) {
    await x.browser.close().catch(() => {});
    fs.rmSync(x.profile, { recursive: true, force: true });
  }
  server.close();
}

const best = (xs) => Math.max(...xs);
const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
const summary = {
  tandem_mb_per_s: best(results.tandem.throughput),
  chromium_mb_per_s: best(results.chromium.throughput),
  tandem_setup_ms: median(results.tandem.setup),
  chromium_setup_ms: median(results.chromium.setup),
};
summary.throughput_ratio = summary.tandem_mb_per_s / summary.chromium_mb_per_s;
summary.setup_ratio = summary.chromium_setup_ms / summary.tandem_setup_ms;
results.summary = summary;
console.log(`data channel, one reliable ordered channel, ${megabytes} MiB in 64 KiB messages, loopback (best of ${rounds}):`);
console.log(`  throughput  tandem ${summary.tandem_mb_per_s.toFixed(1)} MB/s   chromium ${summary.chromium_mb_per_s.toFixed(1)} MB/s   ratio ${summary.throughput_ratio.toFixed(2)}x`);
console.log(`  setup       tandem ${summary.tandem_setup_ms.toFixed(1)} ms     chromium ${summary.chromium_setup_ms.toFixed(1)} ms     (chromium/tandem ${summary.setup_ratio.toFixed(2)}x)`);
if (args.json) fs.writeFileSync(args.json, JSON.stringify(results, null, 2));
