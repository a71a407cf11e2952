'use strict';
// A tinypool worker: the module's default export is the task function.
module.exports = function performTask(data) {
  return typeof data.n === 'number' ? data.n * 2 : data;
};
