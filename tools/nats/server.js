'use strict';
// A real nats-server on a free loopback port, for the specs, the bench and
// the examples: started here, stopped by `stop()`.
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');

/** The nats-server binary (`/usr/sbin`, where Debian puts it, is not on every PATH). */
function natsServerBin() {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/bin'];
  const found = dirs.filter(Boolean).map((d) => path.join(d, 'nats-server')).find((p) => fs.existsSync(p));
  if (!found) throw new Error('nats-server is not installed (apt-get install -y nats-server; see the README)');
  return found;
}

/** A loopback port nobody listens on now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts nats-server on `port` (a free one if absent) with `args`; resolves
 * once it listens, with `{ child, port, url, exited, stop() }`.
 */
async function startNatsServer(args = [], port) {
  const p = port ?? (await freePort());
  const child = spawn(natsServerBin(), ['-a', '127.0.0.1', '-p', String(p), ...args], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + 10000;
  while (!(await canConnect(p))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nats-server did not listen on 127.0.0.1:${p}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, port: p, url: `nats://127.0.0.1:${p}`, exited, stop };
}

/** The forkwire-sidecar binary that `npm run build:workers` builds. */
function sidecarBin(root) {
  const bin = path.join(root, 'target', 'release', 'forkwire-sidecar');
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build:workers\``);
  return bin;
}

/**
 * Starts `forkwire-sidecar --nats url --service service ...args -- worker`;
 * resolves once it serves, with `{ child, exited, log, stop() }` (`log`:
 * its stderr lines so far).
 */
async function startSidecar(root, url, service, { args = [], worker, env = {} }) {
  const child = spawn(sidecarBin(root), ['--nats', url, '--service', service, ...args, '--', worker], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const log = [];
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    log.push(...lines);
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + 10000;
  while (!log.some((l) => l.includes('serving'))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the sidecar did not start: ${log.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { child, exited, log, stop };
}

module.exports = { startNatsServer, startSidecar, freePort };
