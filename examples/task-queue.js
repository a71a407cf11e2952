'use strict';
// Task queue (seed: "Queue-Based Task Distribution", the TaskQueue): more
// tasks than workers; each worker runs `concurrency` at a time (default 1,
// like the seed's busy flag) and the rest wait in a FIFO queue. The seed's
// getQueueDepth() and getActiveCount() are stats().queued and .busy.
//
// Run: npm run build && npm run build:workers && node examples/task-queue.js
const path = require('path');
const { WorkerPool } = require('..'); // in your app: require('forkwire')

const worker = path.join(__dirname, '..', 'target', 'release', 'examples', 'seed_worker');

async function main() {
  const pool = new WorkerPool({ command: worker, size: 3, maxQueue: 1000 });
  await pool.ready();

  const t0 = Date.now();
  const tasks = Array.from({ length: 30 }, (_, i) =>
    pool.request({ task: `task-${i}`, n: i, sleep: 50 + (i % 5) * 20 }).then((result) => {
      if (i % 10 === 9) console.log(`  task ${i} completed: ${result} (${Date.now() - t0} ms)`);
      return result;
    }),
  );

  // Monitor the queue, as the seed's setInterval does.
  const monitor = setInterval(() => {
    const { queued, busy, completed } = pool.stats();
    console.log(`Queue: ${queued}, Active: ${busy}, Completed: ${completed}`);
  }, 100);
  const { queued, busy } = pool.stats();
  console.log(`enqueued 30 tasks on 3 workers: Queue: ${queued}, Active: ${busy}`);

  const results = await Promise.all(tasks);
  clearInterval(monitor);
  console.log(`all 30 done in ${Date.now() - t0} ms; results ${results.slice(0, 5).join(', ')}, ...`);
  console.log('completed per worker:', pool.stats().workers.map((w) => `${w.id}:${w.completed}`).join(' '));

  await pool.close();
  console.log('closed');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
