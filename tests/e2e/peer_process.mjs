// Runs `tandem peer ...` as a child process for the end-to-end tests: output to an artifact log, an `exited`
// promise with the exit code and the whole output, and stop() (SIGTERM, then SIGKILL).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { artifactsDir, log } from './harness.mjs';

/**
 * @param {string[]} args arguments after `tandem peer`
 * @param {string} label log name
 */
export function runPeer(args, label) {
  const bin = process.env.TANDEM_BIN;
  if (!bin) throw new Error('TANDEM_BIN is not set (the path of the tandem binary)');
  log('starting tandem peer', args.join(' '));
  const child = spawn(bin, ['peer', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const logFile = fs.createWriteStream(path.join(artifactsDir, `${label}.log`));
  let output = '';
  const onData = (chunk) => {
    output += chunk.toString();
    logFile.write(chunk);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      logFile.end();
      log(`tandem peer ${args[0]} exited with ${code ?? signal}`);
      resolve({ code, signal, output });
    });
  });
  return {
    child,
    exited,
    get output() {
      return output;
    },
    /** Writes a line to the peer's stdin (chat). */
    write(line) {
      child.stdin.write(`${line}\n`);
    },
    /** SIGTERM (the peer leaves the room and exits), SIGKILL after 5 s. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}
