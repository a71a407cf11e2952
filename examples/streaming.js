'use strict';
// Data streaming (seed: "Data Streaming Pattern"): many one-way messages to
// one worker, an end marker, then a request on the same worker. The
// channel keeps order, so the request's reply means every chunk before it
// was read. Messages the worker sends meanwhile arrive as 'message' events,
// all of them before the reply that followed them.
//
// Run: npm run build && npm run build:workers && node examples/streaming.js
const path = require('path');
const { WorkerPool } = require('..'); // in your app: require('forkwire')

const worker = path.join(__dirname, '..', 'target', 'release', 'examples', 'seed_worker');

async function main() {
  const pool = new WorkerPool({ command: worker, size: 2 });
  await pool.ready();

  // 1000 typed chunks and an end marker: the seed worker takes them silently.
  let t0 = Date.now();
  let accepted = 0;
  for (let i = 0; i < 1000; i++) if (pool.send(0, { type: 'data', chunk: i })) accepted++;
  pool.send(0, { type: 'end' });
  const after = await pool.request({ n: 1000 }, { workerId: 0 });
  console.log(`sent ${accepted} chunks + end to worker 0; a request behind them -> ${after} (${Date.now() - t0} ms)`);

  // Chunks the worker answers (it rejects untyped messages), counted on the
  // way back: all 5000 answers are in by the time the request resolves.
  let answers = 0;
  pool.on('message', (msg, workerId) => {
    if (workerId === 1 && msg.error === 'Missing message type') answers++;
  });
  t0 = Date.now();
  for (let i = 0; i < 5000; i++) pool.send(1, { chunk: i });
  await pool.request('flush', { workerId: 1 });
  console.log(`sent 5000 untyped chunks to worker 1; ${answers} answers had arrived when its next reply did (${Date.now() - t0} ms)`);

  // A big chunk in one message.
  const blob = 'x'.repeat(4 << 20);
  t0 = Date.now();
  const echoed = await pool.request({ blob });
  console.log(`a 4 MiB message round-tripped intact: ${echoed.blob === blob} (${Date.now() - t0} ms)`);

  await pool.close();
  console.log('closed');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
