'use strict';
// Heartbeats (seed: "Basic Heartbeat", the MonitoredWorker): the parent
// asks every worker for a heartbeat on an interval and watches the time
// since each one's last beat. A worker that stops answering is killed; the
// pool's restart policy replaces it ('exit', then 'spawn'), and the new
// process beats again.
//
// Here the heartbeat is plain pool.broadcast() + 'message' events.
//
// Run: npm run build && npm run build:workers && node examples/heartbeat.js
const path = require('path');
const { once } = require('events');
const { WorkerPool } = require('..'); // in your app: require('forkwire')

const worker = path.join(__dirname, '..', 'target', 'release', 'examples', 'seed_worker');
const INTERVAL = 250; // ms between heartbeat requests
const UNRESPONSIVE = 1000; // ms without a beat before a worker is replaced

async function main() {
  const pool = new WorkerPool({ command: worker, size: 3, restart: { backoffMs: 50 } });
  await pool.ready();
  const t0 = Date.now();
  const at = () => `${String(Date.now() - t0).padStart(5)} ms`;

  const lastBeat = new Map(pool.stats().workers.map((w) => [w.id, Date.now()]));
  const beats = new Map();
  pool.on('message', (msg, workerId) => {
    if (msg.type !== 'heartbeat') return;
    lastBeat.set(workerId, Date.now());
    beats.set(workerId, (beats.get(workerId) ?? 0) + 1);
  });
  pool.on('exit', (workerId, code, signal) => console.log(`${at()}  worker ${workerId} exited (code ${code}, signal ${signal})`));
  pool.on('spawn', (workerId, pid) => {
    lastBeat.set(workerId, Date.now());
    console.log(`${at()}  worker ${workerId} started, pid ${pid}`);
  });

  const monitor = setInterval(() => {
    pool.broadcast({ type: 'heartbeat-request' });
    for (const w of pool.stats().workers) {
      const silentFor = Date.now() - lastBeat.get(w.id);
      if (w.pid !== null && silentFor > UNRESPONSIVE) {
        console.log(`${at()}  worker ${w.id} unresponsive for ${silentFor} ms: killing pid ${w.pid}`);
        lastBeat.set(w.id, Date.now());
        process.kill(w.pid, 'SIGKILL');
      }
    }
  }, INTERVAL);

  await new Promise((r) => setTimeout(r, 600));
  console.log(`${at()}  beats so far:`, Object.fromEntries(beats));

  // Worker 1 goes silent (it stops answering anything).
  console.log(`${at()}  worker 1 hangs`);
  pool.request({ hang: true }, { workerId: 1, timeout: 100 }).catch((err) => console.log(`${at()}  the hang request: ${err.code}`));

  // Wait for the replacement, then for its first beats.
  const [, pid] = await once(pool, 'spawn', { signal: AbortSignal.timeout(5000) });
  const before = beats.get(1);
  await new Promise((r) => setTimeout(r, 600));
  console.log(`${at()}  the new worker 1 (pid ${pid}) beat ${beats.get(1) - before} times since it started`);

  clearInterval(monitor);
  console.log('restarts:', pool.stats().restarts);
  await pool.close();
  console.log('closed');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
