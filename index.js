'use strict';
// forkwire's public JavaScript API. The native addon is loaded through the
// loader that `napi build` generates (binding.js).
const binding = require('./binding.js');
const { WorkerPool } = require('./lib/pool');
const { codes, ForkwireError, WorkerError } = require('./lib/errors');

/** The version of the loaded native addon. */
function nativeVersion() {
  return binding.nativeVersion();
}

module.exports = { WorkerPool, ForkwireError, WorkerError, codes, nativeVersion };
