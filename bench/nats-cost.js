#!/usr/bin/env node
'use strict';
// `npm run bench:nats`: where the CPU of a remote-pool request goes. One
// real nats-server on loopback, one forkwire-sidecar with 2 seed workers,
// and this process's WorkerPool({ nats }); pipelined tiny requests in
// rounds, and the CPU time each process spent per request (from
// /proc/PID/stat for the server, the sidecar and its workers, and
// process.cpuUsage() for this one). What bounds throughput as hosts are
// added is read off these: each sidecar host pays its own share, the
// server pays per message (two per request), one client pays per request
// on its own connection.
//
//   npm run bench:nats [-- --requests N --rounds N]
const fs = require('fs');
const os = require('os');
const path = require('path');
const paths = require('./lib/paths');
const { startNatsServer, startSidecar } = require('../tools/nats/server');
const { WorkerPool } = require(paths.root);

const TICK = 100; // clock ticks per second of /proc/PID/stat on Linux

function args() {
  const out = { requests: 100000, rounds: 5 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in out)) throw new Error(`unknown option ${argv[i]}`);
    out[key] = Number(argv[i + 1]);
  }
  return out;
}

/** CPU seconds (user + system) of a process, from /proc/PID/stat. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}

function workerPids(sidecarPid) {
  const children = `/proc/${sidecarPid}/task/${sidecarPid}/children`;
  return fs.readFileSync(children, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const { requests, rounds } = args();
  const server = await startNatsServer();
  const sidecar = await startSidecar(paths.root, server.url, 'cost', {
    args: ['--size', '2', '--concurrency', '1024'],
    worker: paths.seedWorker,
  });
  const pool = new WorkerPool({ nats: { servers: server.url, service: 'cost' } });
  await pool.ready();
  const workers = workerPids(sidecar.child.pid);
  const data = (i) => ({ task: 'compute', n: i, tag: 'bench' });
  // Warm up.
  await Promise.all(Array.from({ length: 2000 }, (_, i) => pool.request(data(i))));
  const samples = { rps: [], client: [], server: [], sidecar: [], workers: [] };
  for (let r = 0; r < rounds; r++) {
    const before = { server: cpuSeconds(server.child.pid), sidecar: cpuSeconds(sidecar.child.pid), workers: workers.map(cpuSeconds), client: process.cpuUsage() };
    const t0 = process.hrtime.bigint();
    const results = await Promise.all(Array.from({ length: requests }, (_, i) => pool.request(data(i))));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (results[requests - 1] !== (requests - 1) * 2) throw new Error('a wrong answer');
    const client = process.cpuUsage(before.client);
    const per = (s) => (s * 1e6) / requests;
    samples.rps.push(requests / seconds);
    samples.client.push(per((client.user + client.system) / 1e6));
    samples.server.push(per(cpuSeconds(server.child.pid) - before.server));
    samples.sidecar.push(per(cpuSeconds(sidecar.child.pid) - before.sidecar));
    samples.workers.push(per(workers.map(cpuSeconds).reduce((a, b) => a + b, 0) - before.workers.reduce((a, b) => a + b, 0)));
  }
  await pool.close();
  sidecar.child.kill('SIGTERM');
  await sidecar.exited;
  await server.stop();
  const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  const lines = [
    `forkwire remote pool, CPU per request (${new Date().toISOString()}, ${os.cpus().length} CPUs, ${rounds} rounds of ${requests} pipelined tiny requests; medians)`,
    '',
    '| process | CPU µs per request |',
    '| --- | ---: |',
    `| client (Node + the addon's NATS client) | ${m.client.toFixed(1)} |`,
    `| nats-server (2 messages per request) | ${m.server.toFixed(1)} |`,
    `| forkwire-sidecar (NATS + its pool) | ${m.sidecar.toFixed(1)} |`,
    `| the sidecar's 2 seed workers | ${m.workers.toFixed(1)} |`,
    '',
    `Throughput: ${Math.round(m.rps).toLocaleString('en-US')} requests/s, all processes on one ${os.cpus().length}-CPU machine.`,
    `One client connection can drive at most ~${Math.round(1e6 / m.client).toLocaleString('en-US')} requests/s (a CPU of its own); one server core ~${Math.round(1e6 / m.server).toLocaleString('en-US')}; one sidecar host per CPU given to its sidecar process ~${Math.round(1e6 / m.sidecar).toLocaleString('en-US')} (plus its workers' CPU).`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench:nats: ${err.stack || err}\n`);
  process.exitCode = 1;
});
