'use strict';
// A Node HTTP front end that hands every accepted connection to a pool of
// Rust workers, as cluster-style servers do with child.send(msg, socket):
// the front end only accepts; each worker
// (crates/forkwire/examples/http_worker.rs) owns the connections it is
// given and answers every request on them itself, with no hop back
// through Node.
//
// Run:   npm run build && npm run build:workers && node examples/http-frontend.js
//        then: curl http://127.0.0.1:8080/
// Bench: node examples/http-frontend.js --bench [--seconds 5] [--connections 50] [--workers 2]
//        measures this server and the same server handled in Node alone,
//        with a keep-alive load loop in a separate process, on loopback.
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { fork } = require('child_process');
const { once } = require('events');
const { WorkerPool } = require('..'); // in your app: require('forkwire')

const worker = path.join(__dirname, '..', 'target', 'release', 'examples', 'http_worker');
const BODY = 'hello world\n';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** The front end: an http.Server whose connections go to the pool. */
async function startFrontend(workers, port) {
  const pool = new WorkerPool({ command: worker, size: workers });
  await pool.ready();
  const server = http.createServer((req, res) => {
    // Never reached: connections leave before their first request is read.
    res.writeHead(500).end();
  });
  server.on('connection', (socket) => {
    // The pool takes its own copy of the connection and closes this one,
    // as child.send() does; the least busy worker gets it.
    pool.request(null, { handle: socket, type: 'connection' }).catch((err) => {
      console.error(`a connection was not handed over: ${err.message}`);
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    pool,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await pool.close();
    },
  };
}

/** The same server handled in Node alone, for comparison. */
async function startNodeOnly(port) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': BODY.length });
    res.end(BODY);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { server, close: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * The load loop (run in its own process): `connections` keep-alive
 * connections, each sending one GET at a time and waiting for its whole
 * response, for `seconds`. Reports responses and latency percentiles.
 */
async function load({ port, seconds, connections }) {
  const request = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  const deadline = performance.now() + seconds * 1000;
  const latencies = [];
  let errors = 0;
  async function one() {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await once(socket, 'connect');
    let buf = Buffer.alloc(0);
    let sent = 0;
    const next = () => {
      if (performance.now() >= deadline) {
        socket.end();
        return;
      }
      sent = performance.now();
      socket.write(request);
    };
    const done = new Promise((resolve) => {
      socket.on('close', resolve);
      socket.on('error', () => {
        errors++;
        resolve();
      });
    });
    socket.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        const head = buf.indexOf('\r\n\r\n');
        if (head < 0) return;
        const match = /content-length: *(\d+)/i.exec(buf.toString('latin1', 0, head));
        const whole = head + 4 + (match ? Number(match[1]) : 0);
        if (buf.length < whole) return;
        buf = buf.subarray(whole);
        latencies.push(performance.now() - sent);
        next();
      }
    });
    next();
    await done;
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, one));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { responses: latencies.length, errors, seconds: elapsed, rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}

/** CPU time (ms) used so far by this process and the given worker pids. */
function serverCpuMs(pids) {
  const own = process.cpuUsage();
  let ms = (own.user + own.system) / 1000;
  for (const pid of pids) {
    // utime and stime, in clock ticks (100 per second on Linux).
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    ms += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  }
  return ms;
}

/** Runs the load loop in a child process against `port`; adds the servers' CPU time per 1000 responses. */
async function measure(port, seconds, connections, pids = []) {
  const child = fork(__filename, ['--load', String(port), String(seconds), String(connections)]);
  const cpuBefore = serverCpuMs(pids);
  const [result] = await once(child, 'message');
  result.cpuPer1k = ((serverCpuMs(pids) - cpuBefore) / result.responses) * 1000;
  await once(child, 'exit');
  return result;
}

async function bench() {
  const seconds = option('seconds', 5);
  const connections = option('connections', 50);
  const workers = option('workers', 2);
  const rows = [];
  const nodeOnly = await startNodeOnly(0);
  rows.push(['Node http alone (1 process)', await measure(nodeOnly.server.address().port, seconds, connections)]);
  await nodeOnly.close();
  const frontend = await startFrontend(workers, 0);
  const pids = frontend.pool.stats().workers.map((w) => w.pid);
  rows.push([`Node front end + ${workers} Rust http_worker`, await measure(frontend.server.address().port, seconds, connections, pids)]);
  await frontend.close();
  console.log(`${connections} keep-alive connections, one request in flight on each, ${seconds} s, loopback:`);
  console.log('| server | requests/s | p50 ms | p99 ms | server CPU ms / 1000 req | errors |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, r] of rows) {
    console.log(`| ${name} | ${Math.round(r.rps)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuPer1k.toFixed(1)} | ${r.errors} |`);
  }
  console.log('(the load loop is one Node process on the same 2 cores: it, not the server, may be the limit)');
}

async function main() {
  const loadAt = process.argv.indexOf('--load');
  if (loadAt >= 0) {
    const [port, seconds, connections] = process.argv.slice(loadAt + 1, loadAt + 4).map(Number);
    process.send(await load({ port, seconds, connections }));
    process.disconnect();
    return;
  }
  if (process.argv.includes('--bench')) {
    await bench();
    return;
  }
  const frontend = await startFrontend(option('workers', 2), option('port', 8080));
  const { port } = frontend.server.address();
  console.log(`listening on http://127.0.0.1:${port}/ (connections go to ${frontend.pool.size} Rust workers); Ctrl-C to stop`);
  process.once('SIGINT', () => frontend.close());
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
