'use strict';
// A jest-worker module: every exported function becomes a method of the pool.
exports.performTask = function performTask(data) {
  return typeof data.n === 'number' ? data.n * 2 : data;
};
