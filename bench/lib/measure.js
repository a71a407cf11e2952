'use strict';
// One run of each kind of measurement. Every reply of a warm-up run is
// checked; measured runs check every 64th reply (and all of the last one),
// so that a wrong answer can never pass as a fast one.
const fs = require('fs');
const { check } = require('./payloads');
const { percentile } = require('./stats');

const now = () => process.hrtime.bigint();
const micros = (ns) => Number(ns) / 1e3;

function gc() {
  if (typeof global.gc === 'function') global.gc();
}

function verify(size, payload, results, all) {
  const step = all ? 1 : 64;
  for (let i = 0; i < results.length; i += step) check(size, payload(i), results[i]);
  check(size, payload(results.length - 1), results[results.length - 1]);
}

/** One request in flight at a time: `{p50, p99}` round trip in µs. */
async function sequential(sys, size, payload, n, { warm = false } = {}) {
  gc();
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const data = payload(i);
    const t0 = now();
    const result = await sys.request(data);
    lat[i] = micros(now() - t0);
    if (warm || i % 64 === 0) check(size, data, result);
  }
  lat.sort();
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99) };
}

/**
 * `n` requests sent at once with `request()` (all in flight, as far as the
 * system lets them be): requests per second and the parent's CPU time
 * (user + system, all threads of this process) per 100 000 requests, in ms.
 */
async function pipelined(sys, size, payload, n, { warm = false } = {}) {
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const promises = new Array(n);
  for (let i = 0; i < n; i++) promises[i] = sys.request(payload(i));
  const results = await Promise.all(promises);
  const elapsed = Number(now() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  verify(size, payload, results, warm);
  return { rps: n / elapsed, cpuPer100k: ((cpu.user + cpu.system) / 1e3) * (100000 / n) };
}

/** `n` requests in one `requestMany(items)` call: as `pipelined`. */
async function many(sys, size, payload, n, { warm = false } = {}) {
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const items = new Array(n);
  for (let i = 0; i < n; i++) items[i] = payload(i);
  const results = await sys.requestMany(items);
  const elapsed = Number(now() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  verify(size, payload, results, warm);
  return { rps: n / elapsed, cpuPer100k: ((cpu.user + cpu.system) / 1e3) * (100000 / n) };
}

let sink = 0;

/**
 * The JS-thread floor: what every request costs the parent's JS thread
 * before any I/O: a promise, a Map entry, JSON.stringify of the request
 * envelope, and resolving it. No worker, no I/O.
 */
async function floor(size, payload, n) {
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const pending = new Map();
  let nextId = 1;
  const promises = new Array(n);
  for (let i = 0; i < n; i++) {
    const data = payload(i);
    const id = nextId++;
    promises[i] = new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
    });
    const text = JSON.stringify({ id, data });
    sink += text.length;
    const entry = pending.get(id);
    pending.delete(id);
    entry.resolve(typeof data.n === 'number' ? data.n * 2 : data);
  }
  const results = await Promise.all(promises);
  const elapsed = Number(now() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  if (results.length !== n) throw new Error('floor lost a promise');
  return { rps: n / elapsed, cpuPer100k: ((cpu.user + cpu.system) / 1e3) * (100000 / n) };
}

/** VmRSS of a process from /proc/PID/status, in KiB (null if unavailable). */
function vmRssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Start-up: ms from creating a one-worker pool (`new WorkerPool()`,
 * `fork()`, `workerpool.pool()`, ...) to its first reply; then, after
 * `idleMs` of idling, the worker's RSS.
 */
async function startup(def, payload, { concurrency, idleMs }) {
  const t0 = now();
  const sys = await def.create({ workers: 1, concurrency });
  try {
    const data = payload(1);
    check('tiny', data, await sys.request(data));
    const ms = Number(now() - t0) / 1e6;
    await sleep(idleMs);
    const pid = sys.pids()[0];
    return { ms, rssKiB: pid ? vmRssKiB(pid) : null };
  } finally {
    await sys.close();
  }
}

module.exports = { sequential, pipelined, many, floor, startup, vmRssKiB, sleep };
