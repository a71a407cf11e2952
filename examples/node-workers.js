'use strict';
// A pool of Node script workers: `script` instead of `command`. The worker
// (examples/workers/seed-worker.js) is an ordinary seed-style worker.js
// that only uses process.on('message') and process.send; forkwire starts it
// with the channel, as fork() would.
//
// Run: npm run build && node examples/node-workers.js
const path = require('path');
const { on } = require('events');
const { WorkerPool, WorkerError } = require('..'); // in your app: require('forkwire')

async function main() {
  const pool = new WorkerPool({ script: path.join(__dirname, 'workers', 'seed-worker.js'), size: 3 });
  await pool.ready();

  console.log('request({ n: 21 }) ->', await pool.request({ n: 21 }));
  console.log("request({ values: [1, 2, 3] }, { type: 'calculate' }) ->", await pool.request({ values: [1, 2, 3] }, { type: 'calculate' }));
  console.log("request('shout', { type: 'uppercase' }) ->", await pool.request('shout', { type: 'uppercase' }));

  try {
    await pool.request(null); // performTask throws in the worker
  } catch (err) {
    console.log(`request(null) rejected: ${err instanceof WorkerError ? 'WorkerError' : err.name} (${err.remoteName}) ${err.message}`);
  }

  const t0 = Date.now();
  const results = await Promise.all(Array.from({ length: 10000 }, (_, i) => pool.request({ n: i })));
  console.log(`10000 requests in ${Date.now() - t0} ms, all correct: ${results.every((r, i) => r === i * 2)}`);

  const answers = on(pool, 'message', { signal: AbortSignal.timeout(2000) });
  const sent = pool.broadcast({ type: 'ping' });
  const pids = [];
  for await (const [msg, workerId] of answers) {
    pids[workerId] = msg.pid;
    if (Object.keys(pids).length === sent) break;
  }
  console.log(`broadcast ping -> pongs from pids ${pids.join(', ')}`);

  const statuses = on(pool, 'message', { signal: AbortSignal.timeout(2000) });
  pool.send(0, { type: 'health-check' });
  for await (const [msg] of statuses) {
    if (msg.type !== 'health-status') continue;
    console.log(`worker 0 health: healthy=${msg.healthy} tasks=${msg.metrics.taskCount} errors=${msg.metrics.errors}`);
    break;
  }

  await pool.close();
  console.log('closed; worker processes still running:', pids.filter(isRunning).length);
}

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
