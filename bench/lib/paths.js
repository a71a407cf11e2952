'use strict';
// Where the bench finds the package, the Rust binaries and the worker scripts.
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const examples = path.join(root, 'target', 'release', 'examples');
const workers = path.join(root, 'bench', 'workers');

module.exports = {
  root,
  results: path.join(root, 'bench', 'results'),
  seedWorker: path.join(examples, 'seed_worker'),
  benchNative: path.join(examples, 'bench_native'),
  ipcWorker: path.join(workers, 'ipc-worker.js'),
  workerpoolWorker: path.join(workers, 'workerpool-worker.js'),
  tinypoolWorker: path.join(workers, 'tinypool-worker.js'),
  jestWorker: path.join(workers, 'jest-worker.js'),
};
