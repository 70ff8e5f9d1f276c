// Captures real SDP from headless Chromium for the SDP codec tests (src/sdp/sdp_test.cc). Not part of the build.
// Run from the repository root inside a loopback-only namespace (see /work/shared/TESTING.md):
//   unshare --net sh -c 'ip link set lo up && exec node src/sdp/testdata/capture_chromium_sdp.mjs OUT_DIR'
// With `--verify FILE...` instead, it hands each file to setRemoteDescription (an offer to a fresh peer, which then
// answers; an answer, named *answer*, to a peer that first offered the same m= lines) and prints ok/failed per
// file: the check that SDP we serialize is accepted by Chromium.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';

const args = process.argv.slice(2);
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-sdp-'));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', ignoreDefaultArgs: true, timeout: 30000,
  args: ['--remote-debugging-pipe', `--user-data-dir=${userDataDir}`, '--headless', '--no-sandbox',
    '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', 'about:blank'] });
// getUserMedia needs a secure context: about:blank is not one, http://127.0.0.1 is.
const server = http.createServer((req, res) => res.end('<!doctype html><title>sdp</title>'));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const page = await browser.newPage();
await page.goto(`http://127.0.0.1:${server.address().port}/`);

// Runs in the page: helpers shared by the capture and the verification.
await page.evaluate(() => {
  window.gathered = (pc) => new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
  });
  window.mediaOffer = async () => {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    const pc = new RTCPeerConnection();
    for (const t of stream.getTracks()) pc.addTrack(t, stream);
    pc.createDataChannel('chat');
    await pc.setLocalDescription(await pc.createOffer());
    await window.gathered(pc);
    return { pc, stream };
  };
});

if (args[0] === '--verify') {
  let failures = 0;
  for (const file of args.slice(1)) {
    const sdp = fs.readFileSync(file, 'utf8');
    const type = /answer/.test(path.basename(file)) ? 'answer' : 'offer';
    const error = await page.evaluate(async ({ sdp, type }) => {
      try {
        if (type === 'answer') {
          // A local offer with the answer's m= lines, in order (Chromium numbers the mids 0, 1, ...).
          const pc = new RTCPeerConnection();
          for (const [, kind] of sdp.matchAll(/^m=(\w+) /gm)) {
            if (kind === 'application') pc.createDataChannel('verify');
            else pc.addTransceiver(kind, { direction: 'sendrecv' });
          }
          await pc.setLocalDescription(await pc.createOffer());
          await pc.setRemoteDescription({ type, sdp });
        } else {
          const pc = new RTCPeerConnection();
          await pc.setRemoteDescription({ type, sdp });
          await pc.setLocalDescription(await pc.createAnswer());
        }
        return '';
      } catch (e) {
        return String(e);
      }
    }, { sdp, type });
    console.log(`${error ? 'failed' : 'ok'} ${type} ${file}${error ? ': ' + error : ''}`);
    if (error) ++failures;
  }
  await browser.close();
  server.close();
  process.exit(failures ? 1 : 0);
}

const outDir = args[0] ?? 'src/sdp/testdata';
fs.mkdirSync(outDir, { recursive: true });
const captured = await page.evaluate(async () => {
  const out = {};
  // 1. Audio + video + data channel offer, fully gathered, and the answer of a second peer with its own tracks.
  const { pc: offerer } = await window.mediaOffer();
  out.chromium_offer_av_data = offerer.localDescription.sdp;
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const answerer = new RTCPeerConnection();
  await answerer.setRemoteDescription(offerer.localDescription);
  for (const t of stream.getTracks()) answerer.addTrack(t, stream);
  await answerer.setLocalDescription(await answerer.createAnswer());
  await window.gathered(answerer);
  out.chromium_answer_av_data = answerer.localDescription.sdp;

  // 2. Data-channel-only offer with candidates, and its answer.
  const dcOfferer = new RTCPeerConnection();
  dcOfferer.createDataChannel('data');
  await dcOfferer.setLocalDescription(await dcOfferer.createOffer());
  await window.gathered(dcOfferer);
  out.chromium_offer_data = dcOfferer.localDescription.sdp;
  const dcAnswerer = new RTCPeerConnection();
  await dcAnswerer.setRemoteDescription(dcOfferer.localDescription);
  await dcAnswerer.setLocalDescription(await dcAnswerer.createAnswer());
  await window.gathered(dcAnswerer);
  out.chromium_answer_data = dcAnswerer.localDescription.sdp;

  // 3. Simulcast video (three rids) and a recvonly audio transceiver: rid, simulcast, directions.
  const video = (await navigator.mediaDevices.getUserMedia({ video: true })).getVideoTracks()[0];
  const simulcast = new RTCPeerConnection();
  simulcast.addTransceiver(video, {
    direction: 'sendonly',
    sendEncodings: [{ rid: 'q', scaleResolutionDownBy: 4 }, { rid: 'h', scaleResolutionDownBy: 2 }, { rid: 'f' }],
  });
  simulcast.addTransceiver('audio', { direction: 'recvonly' });
  await simulcast.setLocalDescription(await simulcast.createOffer());
  out.chromium_offer_simulcast = simulcast.localDescription.sdp;
  return out;
});
for (const [name, sdp] of Object.entries(captured)) {
  fs.writeFileSync(path.join(outDir, `${name}.sdp`), sdp);
  console.log(`${name}: ${sdp.split('\r\n').length - 1} lines`);
}
await browser.close();
server.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
