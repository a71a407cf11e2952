'use strict';
// The seed's worker.js (ipc-patterns.md, "Request-Response Pattern"),
// written as its users write it: process.on('message') + process.send.
// Used by the fork()+WorkerClient baselines (json and advanced mode) and,
// unchanged, by forkwire's `new WorkerPool({ script })` rows.
process.on('message', (msg) => {
  const { id, data } = msg;

  try {
    const result = performTask(data);
    process.send({ id, result });
  } catch (error) {
    process.send({ id, error: error.message });
  }
});

function performTask(data) {
  // Do work: the tiny task doubles n; the 4 KB / 256 KB objects are echoed.
  return typeof data.n === 'number' ? data.n * 2 : data;
}
