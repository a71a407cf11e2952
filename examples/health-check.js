'use strict';
// Health checks (seed: "Health Check Pattern", the HealthMonitor): ask a
// worker {type: 'health-check'}, wait (with a timeout) for its
// {type: 'health-status', healthy, metrics}. Here: every worker of a pool,
// before and after some work, and one that has stopped answering.
//
// Run: npm run build && npm run build:workers && node examples/health-check.js
const path = require('path');
const { on } = require('events');
const { WorkerPool } = require('..'); // in your app: require('forkwire')

const worker = path.join(__dirname, '..', 'target', 'release', 'examples', 'seed_worker');

/** The seed's checkHealth(), for worker `workerId` of `pool`. */
async function checkHealth(pool, workerId, timeout = 1000) {
  const status = nextStatus(pool, workerId, AbortSignal.timeout(timeout));
  pool.send(workerId, { type: 'health-check' });
  try {
    const msg = await status;
    return { healthy: msg.healthy, metrics: msg.metrics };
  } catch (err) {
    if (err.name === 'AbortError') return { healthy: false, reason: 'timeout' };
    throw err;
  }
}

/** The next health-status from `workerId`. */
async function nextStatus(pool, workerId, signal) {
  for await (const [msg, from] of on(pool, 'message', { signal })) {
    if (msg.type === 'health-status' && from === workerId) return msg;
  }
  return undefined;
}

function show(workerId, health) {
  if (!health.healthy) return console.log(`  worker ${workerId}: healthy=false (${health.reason})`);
  const { memory, taskCount, errors, uptime } = health.metrics;
  console.log(`  worker ${workerId}: healthy=${health.healthy} tasks=${taskCount} errors=${errors} rss=${(memory / 1048576).toFixed(1)} MiB uptime=${uptime.toFixed(2)} s`);
}

async function main() {
  const pool = new WorkerPool({ command: worker, size: 3 });
  await pool.ready();

  console.log('health at start:');
  for (let w = 0; w < pool.size; w++) show(w, await checkHealth(pool, w));

  // Some work, some of it failing, spread over the workers.
  await Promise.allSettled(
    Array.from({ length: 30 }, (_, i) => pool.request(i % 10 === 0 ? { fail: 'bad input' } : { n: i })),
  );
  console.log('health after 30 requests (3 of them failing):');
  for (let w = 0; w < pool.size; w++) show(w, await checkHealth(pool, w));

  // A worker that stopped answering: the check times out.
  pool.request({ hang: true }, { workerId: 2, timeout: 100 }).catch(() => {});
  console.log('worker 2 hangs; checking again with a 500 ms timeout:');
  show(2, await checkHealth(pool, 2, 500));

  await pool.close();
  console.log('closed');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
