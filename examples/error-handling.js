'use strict';
// Error handling (seed: "Error Handling", "Validating Messages", "Implement
// Timeouts", "Handle Disconnection"): every way a request can fail, each
// with its stable `code`, and the events a pool emits when workers fail.
//
// Run: npm run build && npm run build:workers && node examples/error-handling.js
const path = require('path');
const { on } = require('events');
const { WorkerPool, WorkerError } = require('..'); // in your app: require('forkwire')

const worker = path.join(__dirname, '..', 'target', 'release', 'examples', 'seed_worker');

/** Runs `promise` and prints how it ended. */
async function attempt(label, promise) {
  try {
    console.log(`${label.padEnd(44)} -> resolved ${JSON.stringify(await promise)}`);
  } catch (err) {
    const message = err.message.split('\n')[0];
    const what = err instanceof WorkerError ? `WorkerError "${message}"` : `${err.code} (${message})`;
    console.log(`${label.padEnd(44)} -> rejected ${what}`);
  }
}

async function main() {
  const pool = new WorkerPool({ command: worker, size: 2, maxQueue: 4, restart: { backoffMs: 50 } });
  await pool.ready();

  // The seed's child.on('exit') / on('error'), pool-wide.
  pool.on('exit', (workerId, code, signal) => console.log(`  event 'exit': worker ${workerId} code=${code} signal=${signal}`));
  pool.on('spawn', (workerId, pid) => console.log(`  event 'spawn': worker ${workerId} pid=${pid}`));
  pool.on('error', (err) => console.log(`  event 'error': ${err.code} ${err.message}`));
  await new Promise((r) => setImmediate(r)); // let the first 'spawn' events pass

  await attempt('a remote error: { fail }', pool.request({ fail: 'bad input' }));
  await attempt('a timeout: { sleep: 500 }, timeout 50', pool.request({ n: 1, sleep: 500 }, { workerId: 0, timeout: 50 }));

  const controller = new AbortController();
  setTimeout(() => controller.abort(), 30);
  await attempt('an abort after 30 ms', pool.request({ n: 1, sleep: 500 }, { workerId: 0, signal: controller.signal }));

  await attempt('a worker that exits: { exit: 3 }', pool.request({ exit: 3 }, { workerId: 1 }));
  await new Promise((r) => setTimeout(r, 150)); // its replacement starts

  const busy = Array.from({ length: 2 + 4 }, () => pool.request({ n: 1, sleep: 100 }));
  await attempt('past maxQueue (4 waiting already)', pool.request({ n: 2 }));
  await Promise.all(busy);

  await attempt('a BigInt, which JSON cannot carry', pool.request({ n: 10n }));
  const cycle = {};
  cycle.self = cycle;
  await attempt('a circular object', pool.request(cycle));

  // Validation: messages the worker cannot use get its error events.
  const answers = on(pool, 'message', { signal: AbortSignal.timeout(2000) });
  pool.send(0, 42);
  pool.send(0, { command: 'start' });
  let seen = 0;
  for await (const [msg, workerId] of answers) {
    console.log(`  event 'message' from worker ${workerId}:`, msg);
    if (++seen === 2) break;
  }

  // The timed-out and the aborted request were answered after all, too late.
  console.log('late replies dropped:', (await settle(pool)).lateReplies);
  const pending = pool.request({ n: 1, sleep: 1000 });
  const closing = pool.close();
  await attempt('a request in flight when close() is called', pending);
  await attempt('a request after close()', pool.request({ n: 1 }));
  await closing;
  const { completed, failed, timedOut, aborted, lateReplies, restarts } = pool.stats();
  console.log('stats:', JSON.stringify({ completed, failed, timedOut, aborted, lateReplies, restarts }));
}

/** Stats once the late replies of the timeout and the abort above have come in. */
async function settle(pool) {
  await new Promise((r) => setTimeout(r, 500));
  return pool.stats();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
