'use strict';
// A workerpool worker (workerType: 'process'), as its docs write one.
const workerpool = require('workerpool');

function performTask(data) {
  return typeof data.n === 'number' ? data.n * 2 : data;
}

workerpool.worker({ performTask });
