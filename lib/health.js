'use strict';
// What the parent can see of a worker process without asking it.
const fs = require('fs');

/** Resident set size of `pid` in bytes (from /proc), or null if it cannot be read. */
function readRss(pid) {
  try {
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) * 1024 : null;
  } catch {
    return null;
  }
}

module.exports = { readRss };
