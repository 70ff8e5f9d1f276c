// coturn (Debian's `turnserver`) as an independent TURN server for the end-to-end tests: foreground, loopback only,
// TURN REST (shared secret) credentials, relaying to loopback allowed, touching no system file.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { artifactsDir, log, waitFor } from './harness.mjs';

/** A port free for both UDP and TCP on 127.0.0.1. */
async function freePort() {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = dgram.createSocket('udp4');
    const port = await new Promise((resolve) => udp.bind(0, '127.0.0.1', () => resolve(udp.address().port)));
    const tcpFree = await new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    udp.close();
    if (tcpFree) return port;
  }
  throw new Error('no free port for coturn');
}

/** One STUN Binding request (RFC 8489 §5): resolves true when a success response comes back. */
function stunPing(port) {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0);
    request.writeUInt32BE(0x2112a442, 4);
    crypto.randomBytes(12).copy(request, 8);
    const timer = setTimeout(() => {
      socket.close();
      resolve(false);
    }, 500);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg.length >= 20 && msg.readUInt16BE(0) === 0x0101);
    });
    socket.send(request, port, '127.0.0.1');
  });
}

/** Starts coturn with `secret` for TURN REST credentials; returns {port, url, stop()}. */
export async function startCoturn(secret) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-coturn-'));
  const args = ['-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    '--alt-listening-port=0', '--realm=coturn.test', '--fingerprint', '--use-auth-secret',
    `--static-auth-secret=${secret}`, '--allow-loopback-peers', '--no-tls', '--no-dtls', '--no-cli',
    '--cli-password=x', '--min-port=49152', '--max-port=65535', `--userdb=${path.join(dir, 'turndb')}`,
    `--pidfile=${path.join(dir, 'turn.pid')}`, '--log-file=stdout', '--simple-log', '--no-multicast-peers'];
  log('starting turnserver', args.join(' '));
  const child = spawn('turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const logFile = fs.createWriteStream(path.join(artifactsDir, `coturn-${port}.log`));
  child.stdout.pipe(logFile);
  child.stderr.pipe(logFile);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await waitFor('coturn answers STUN', async () => {
    if (child.exitCode !== null) throw new Error(`turnserver exited with ${child.exitCode}`);
    return stunPing(port);
  }, { timeout: 15000 });
  return {
    port,
    url: `turn:127.0.0.1:${port}?transport=udp`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
