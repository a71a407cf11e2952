'use strict';
// forkwire's public JavaScript API. The native addon is loaded through the
// generated loader in ./binding.js (written by `napi build`).
const binding = require('./binding.js');

/** The version of the loaded native addon. */
function nativeVersion() {
  return binding.nativeVersion();
}

module.exports = { nativeVersion };
