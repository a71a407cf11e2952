'use strict';
// Broadcasting (seed: "Broadcasting to Multiple Workers"): one message to
// every worker; their answers come back as 'message' events with the
// worker's id, like the seed's pool.onMessage((msg, workerIndex) => ...).
//
// Run: npm run build && npm run build:workers && node examples/broadcast.js
const path = require('path');
const { on } = require('events');
const { WorkerPool } = require('..'); // in your app: require('forkwire')

const worker = path.join(__dirname, '..', 'target', 'release', 'examples', 'seed_worker');

async function main() {
  const pool = new WorkerPool({ command: worker, size: 4 });
  await pool.ready();

  pool.on('message', (msg, workerId) => {
    console.log(`  worker ${workerId}:`, msg);
  });

  // A notification: the worker takes it silently.
  const configured = pool.broadcast({ type: 'config', data: { debug: true } });
  console.log(`broadcast({ type: 'config' }) sent to ${configured} workers (no answer expected)`);

  // A ping: every worker answers with its pid.
  const answers = on(pool, 'message', { signal: AbortSignal.timeout(2000) });
  const sent = pool.broadcast({ type: 'ping' });
  console.log(`broadcast({ type: 'ping' }) sent to ${sent} workers:`);
  const pongs = new Map();
  for await (const [msg, workerId] of answers) {
    if (msg.type === 'pong') pongs.set(workerId, msg.pid);
    if (pongs.size === sent) break;
  }
  console.log(`${pongs.size} pongs from ${new Set(pongs.values()).size} distinct pids`);

  await pool.close();
  console.log('closed');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
