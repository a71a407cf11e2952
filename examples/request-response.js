'use strict';
// Request/response with ids (seed: "Request-Response Pattern"): each
// request goes out as {id, type?, data}; the worker's {id, result} or
// {id, error} settles the promise with that id. The pool does the ids,
// the pending map and the timeouts the seed's WorkerClient does by hand.
//
// Run: npm run build && npm run build:workers && node examples/request-response.js
const path = require('path');
const { WorkerPool, WorkerError } = require('..'); // in your app: require('forkwire')

const worker = path.join(__dirname, '..', 'target', 'release', 'examples', 'seed_worker');

async function main() {
  const pool = new WorkerPool({ command: worker, size: 2 });
  await pool.ready();

  // The seed's usage: client.request({ task: 'compute', n: 100 })
  console.log("request({ task: 'compute', n: 100 }) ->", await pool.request({ task: 'compute', n: 100 }));
  console.log("request('hello')                     ->", await pool.request('hello'));

  // Typed messages: the `type` option becomes the envelope's `type`.
  const typed = await pool.request({ operation: 'add', values: [2, 3] }, { type: 'calculate' });
  console.log("request({...}, { type: 'calculate' }) ->", typed);

  // A failure in the worker rejects with a WorkerError.
  try {
    await pool.request({ fail: 'no such task' });
  } catch (err) {
    console.log(`request({ fail }) rejected: ${err instanceof WorkerError ? 'WorkerError' : err.name}: ${err.message}`);
  }

  // Many requests in flight at once; each reply finds its own promise.
  const t0 = Date.now();
  const results = await Promise.all(Array.from({ length: 10000 }, (_, i) => pool.request({ n: i })));
  const correct = results.every((r, i) => r === i * 2);
  console.log(`10000 pipelined requests in ${Date.now() - t0} ms, all correlated: ${correct}`);

  // A timeout per request (or `timeout` for the whole pool).
  try {
    await pool.request({ n: 1, sleep: 500 }, { timeout: 100 });
  } catch (err) {
    console.log(`request({ sleep: 500 }, { timeout: 100 }) rejected: ${err.code}`);
  }

  const { completed, failed, timedOut } = pool.stats();
  console.log('stats:', { completed, failed, timedOut });
  await pool.close();
  console.log('closed');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
