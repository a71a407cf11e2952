'use strict';
// pool.metrics(): the Prometheus text exposition format (0.0.4), checked by
// a small parser here, with counts that agree with pool.stats(); and the
// latency percentiles of stats() from the same histogram.
const { WorkerPool } = require('..');
const { rustWorker, serveWorker, usePools } = require('./fixtures/pools');
const { within, waitUntil } = require('./fixtures/bounded');

const range = (n) => Array.from({ length: n }, (_, i) => i);
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)/y;

/** Label text `a="1",b="x\"y"` as an object, or throws. */
function parseLabels(text) {
  const labels = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (!m) throw new Error(`bad labels at ${at}: ${text}`);
    if (m[1] in labels) throw new Error(`label ${m[1]} twice: ${text}`);
    labels[m[1]] = m[2].replace(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));
    if (m[3] === '' && LABEL.lastIndex < text.length) throw new Error(`bad labels: ${text}`);
  }
  return labels;
}

/**
 * Parses the text format strictly enough to catch what a scraper would
 * refuse: every line a comment (HELP, TYPE) or `name{labels} value`; a
 * family's HELP and TYPE once each, before its samples, its samples
 * together; counters named `_total`; histogram samples `_bucket` with
 * `le`, `_sum`, `_count`. Returns `{ families, samples }`.
 */
function parsePrometheus(text) {
  expect(text.endsWith('\n')).toBe(true);
  const families = new Map();
  const samples = [];
  let current = null;
  const seenDone = new Set();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) throw new Error(`bad comment: ${line}`);
      const [, what, name, rest] = m;
      expect(name).toMatch(NAME);
      if (seenDone.has(name)) throw new Error(`${name} declared again after its samples`);
      if (current && current.name !== name) seenDone.add(current.name);
      const family = families.get(name) ?? { name, help: null, type: null, samples: 0 };
      families.set(name, family);
      if (what === 'HELP') {
        if (family.help !== null) throw new Error(`two HELP lines for ${name}`);
        family.help = rest;
      } else {
        if (family.type !== null) throw new Error(`two TYPE lines for ${name}`);
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(rest);
        family.type = rest;
      }
      current = family;
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`bad sample line: ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = m;
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`bad value: ${line}`);
    const labels = labelText === undefined ? {} : parseLabels(labelText);
    if (!current) throw new Error(`sample before any TYPE: ${line}`);
    const base = current.type === 'histogram' ? name.replace(/_(bucket|sum|count)$/, '') : name;
    if (base !== current.name) throw new Error(`sample ${name} inside family ${current.name}`);
    if (current.help === null || current.type === null) throw new Error(`${current.name}: samples before HELP and TYPE`);
    if (current.type === 'histogram' && name.endsWith('_bucket')) expect(labels).toHaveProperty('le');
    current.samples++;
    samples.push({ name, labels, value });
  }
  for (const family of families.values()) {
    if (family.type === 'counter') expect(family.name).toMatch(/_total$/);
  }
  return { families, samples };
}

/** The value of the one sample `name` whose labels include `labels`. */
function value(parsed, name, labels = {}) {
  const found = parsed.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples ${name} ${JSON.stringify(labels)}`);
  return found[0].value;
}

const total = (parsed, name) => parsed.samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);

describe('pool.metrics()', () => {
  const start = usePools();

  test('parses as Prometheus text and agrees with stats()', async () => {
    const pool = start({ ...rustWorker, size: 2, concurrency: 4, maxQueue: 10 });
    for (let i = 0; i < 50; i += 10) await within(Promise.all(range(10).map((k) => pool.request({ n: i + k }))));
    // Remote errors, a timeout, an abort.
    await Promise.allSettled(range(3).map(() => pool.request({ fail: 'no' })));
    await pool.request({ sleep: 2000 }, { timeout: 20 }).catch(() => {});
    const controller = new AbortController();
    const aborted = pool.request({ sleep: 2000 }, { signal: controller.signal }).catch((e) => e);
    controller.abort();
    await aborted;
    // More than the queue takes: some are refused at once.
    const flood = await Promise.allSettled(range(30).map(() => pool.request({ sleep: 50 }, { timeout: 5000 })));
    const queueFull = flood.filter((r) => r.status === 'rejected' && r.reason.code === 'ERR_FORKWIRE_QUEUE_FULL').length;
    expect(queueFull).toBeGreaterThan(0);
    await waitUntil(() => pool.stats().inFlight === 0 && pool.stats().queued === 0);

    const text = pool.metrics();
    const stats = pool.stats();
    const parsed = parsePrometheus(text);
    expect(value(parsed, 'forkwire_requests_total', { outcome: 'completed' })).toBe(stats.completed);
    expect(value(parsed, 'forkwire_requests_total', { outcome: 'remote_error' })).toBe(3);
    expect(value(parsed, 'forkwire_requests_total', { outcome: 'timed_out' })).toBe(stats.timedOut);
    expect(value(parsed, 'forkwire_requests_total', { outcome: 'aborted' })).toBe(stats.aborted);
    expect(value(parsed, 'forkwire_requests_total', { outcome: 'queue_full' })).toBe(queueFull);
    expect(stats).toMatchObject({ timedOut: 1, aborted: 1, rejected: queueFull, failed: 5 });
    expect(total(parsed, 'forkwire_requests_total')).toBe(stats.completed + stats.failed + stats.rejected);
    expect(value(parsed, 'forkwire_requests_rejected_total')).toBe(stats.rejected);
    expect(value(parsed, 'forkwire_requests_in_flight')).toBe(stats.inFlight);
    expect(value(parsed, 'forkwire_queue_depth')).toBe(stats.queued);
    expect(value(parsed, 'forkwire_workers', { state: 'idle' })).toBe(stats.idle);
    expect(value(parsed, 'forkwire_workers', { state: 'busy' })).toBe(stats.busy);
    expect(total(parsed, 'forkwire_workers')).toBe(stats.size);
    expect(total(parsed, 'forkwire_worker_restarts_total')).toBe(stats.restarts);
    expect(value(parsed, 'forkwire_protocol_errors_total')).toBe(stats.protocolErrors);
    expect(value(parsed, 'forkwire_late_replies_total')).toBe(stats.lateReplies);
    for (const w of stats.workers) {
      expect(value(parsed, 'forkwire_worker_resident_memory_bytes', { worker: String(w.id) })).toBeGreaterThan(100 * 1024);
    }
    // The histogram: cumulative buckets ending in +Inf = _count =
    // completed + failed (rejected requests were never timed).
    const buckets = parsed.samples.filter((s) => s.name === 'forkwire_request_duration_seconds_bucket');
    const les = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
    expect(les).toEqual([...les].sort((a, b) => a - b));
    expect(les.at(-1)).toBe(Infinity);
    const counts = buckets.map((b) => b.value);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    const count = value(parsed, 'forkwire_request_duration_seconds_count');
    expect(counts.at(-1)).toBe(count);
    expect(count).toBe(stats.completed + stats.failed);
    // Base units: seconds. The 20 ms timeout and the sleeps are in the sum.
    const sum = value(parsed, 'forkwire_request_duration_seconds_sum');
    expect(sum).toBeGreaterThan(0.02);
    expect(sum).toBeLessThan(60);
    expect(parsed.families.get('forkwire_request_duration_seconds').type).toBe('histogram');
  });

  test('constant labels go on every sample; bad names are refused', () => {
    const pool = start({ ...rustWorker, size: 1 });
    const parsed = parsePrometheus(pool.metrics({ labels: { pool: 'images "big"\nset', shard: 3 } }));
    expect(parsed.samples.length).toBeGreaterThan(20);
    for (const s of parsed.samples) expect(s.labels).toMatchObject({ pool: 'images "big"\nset', shard: '3' });
    expect(() => pool.metrics({ labels: { 'bad-name': 'x' } })).toThrow(/labels/);
    expect(() => pool.metrics({ labels: { outcome: 'x' } })).toThrow(/labels/);
    expect(() => pool.metrics({ labels: { __name: 'x' } })).toThrow(/labels/);
    expect(() => pool.metrics({ labels: ['a'] })).toThrow(/labels/);
    expect(() => pool.metrics(null)).toThrow(TypeError);
    expect(WorkerPool.metricsContentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  test('a closed pool and a pool that could not start still answer', async () => {
    const pool = start({ ...rustWorker, size: 2 });
    await pool.request({ n: 1 });
    await pool.close();
    const closed = parsePrometheus(pool.metrics());
    expect(value(closed, 'forkwire_requests_total', { outcome: 'completed' })).toBe(1);
    expect(value(closed, 'forkwire_workers', { state: 'down' })).toBe(2);
    expect(closed.samples.filter((s) => s.name === 'forkwire_worker_resident_memory_bytes')).toEqual([]);

    const broken = new WorkerPool({ command: '/nonexistent/forkwire-worker', size: 3 });
    await expect(broken.ready()).rejects.toMatchObject({ code: 'ERR_FORKWIRE_SPAWN' });
    const parsed = parsePrometheus(broken.metrics({ labels: { pool: 'x' } }));
    expect(value(parsed, 'forkwire_workers', { state: 'down' })).toBe(3);
    expect(value(parsed, 'forkwire_request_duration_seconds_count')).toBe(0);
  });
});

describe('stats()', () => {
  const start = usePools();

  test('latency percentiles: null before the first request, then ordered numbers in ms', async () => {
    const pool = start({ ...serveWorker, size: 2, concurrency: 8 });
    expect(pool.stats().latencyMs).toEqual({ p50: null, p90: null, p99: null });
    // 90 quick requests and 10 of about 100 ms: p50 is small, p99 about 100 ms.
    await within(Promise.all([
      ...range(90).map((i) => pool.request([i, 1], { type: 'add' })),
      ...range(10).map(() => pool.request(10, { type: 'count' })),
    ]));
    const { latencyMs } = pool.stats();
    for (const p of ['p50', 'p90', 'p99']) expect(typeof latencyMs[p]).toBe('number');
    expect(latencyMs.p50).toBeGreaterThan(0);
    expect(latencyMs.p50).toBeLessThanOrEqual(latencyMs.p90);
    expect(latencyMs.p90).toBeLessThanOrEqual(latencyMs.p99);
    expect(latencyMs.p50).toBeLessThan(50);
    expect(latencyMs.p99).toBeGreaterThan(90);
    expect(latencyMs.p99).toBeLessThan(2000);
  });

  test('a pool that could not start has the same fields as one that runs', async () => {
    const live = start({ ...rustWorker, size: 1 });
    await live.request({ n: 1 });
    const broken = new WorkerPool({ command: '/nonexistent/forkwire-worker', size: 2 });
    const fallback = broken.stats();
    expect(Object.keys(fallback).sort()).toEqual(Object.keys(live.stats()).sort());
    expect(fallback).toMatchObject({ size: 2, completed: 0, rejected: 0, workers: [], latencyMs: { p50: null, p90: null, p99: null } });
  });
});
