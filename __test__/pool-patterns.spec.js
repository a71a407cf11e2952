'use strict';
// The seed's IPC patterns, each as a WorkerPool user writes it, against
// real workers: the Rust seed_worker and a Node script answering the same
// vocabulary (fixtures/seed-worker.js).
const { WorkerError, WorkerPool } = require('..');
const { seedWorkers, rustWorker, serveWorker, envelopeWorker, usePools } = require('./fixtures/pools');
const { within, collect, nextEvent, waitUntil, Tally } = require('./fixtures/bounded');

const range = (n) => Array.from({ length: n }, (_, i) => i);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const completedBy = (pool) => pool.stats().workers.map((w) => w.completed);

describe.each(seedWorkers)('%s in a WorkerPool', (_name, worker) => {
  const start = usePools();
  const open = (options) => start({ ...worker, ...options });

  describe('request/response', () => {
    test('10 000 pipelined requests each settle once, with their own result', async () => {
      const pool = open({ size: 2 });
      await pool.ready();
      const tally = new Tally();
      const n = 10000;
      const results = await within(
        Promise.all(range(n).map((i) => tally.track(pool.request({ n: i })))),
        20000,
        '10 000 replies',
      );
      expect(results).toEqual(range(n).map((i) => i * 2));
      expect(tally).toMatchObject({ tracked: n, resolved: n, rejected: 0 });
      expect(pool.stats()).toMatchObject({ completed: n, failed: 0, inFlight: 0, queued: 0, busy: 0, idle: 2 });
      expect(sum(completedBy(pool))).toBe(n);
    });

    test('replies that come back out of order settle the right requests', async () => {
      const pool = open({ size: 2, concurrency: 25 });
      const tally = new Tally();
      // Later requests sleep less, so replies overtake each other.
      const results = await within(
        Promise.all(range(200).map((i) => tally.track(pool.request({ n: i, sleep: 1 + ((200 - i) % 40) })))),
      );
      expect(results).toEqual(range(200).map((i) => i * 2));
      expect(tally.settled).toBe(200);
    });

    test('any JSON value goes out as data and comes back as result', async () => {
      const pool = open({ size: 1 });
      const values = ['hello', 42.5, true, false, 0, '', [1, 'two', { three: 3 }], { nested: { list: [1, 2], s: 'é😀' } }];
      for (const value of values) expect(await pool.request(value)).toEqual(value);
      expect(await pool.request({ n: 21 })).toBe(42);
    });

    test('a null result resolves null, not undefined', async () => {
      // The worker replies {"id":N,"result":null}.
      const pool = open({ size: 1 });
      expect(await pool.request(null)).toBe(null);
      // undefined leaves `data` out; the worker answers null.
      expect(await pool.request(undefined)).toBe(null);
    });

    test('a 4 MiB request and its reply round-trip equal', async () => {
      const pool = open({ size: 1 });
      const data = { blob: 'ab€\n'.repeat(1 << 20), list: range(1000).map((i) => i * 1.5) };
      const result = await within(pool.request(data), 10000);
      expect(result.blob.length).toBe(data.blob.length);
      expect(result).toEqual(data);
    });

    test('typed messages: the `type` option rides along with the data', async () => {
      const pool = open({ size: 1 });
      const MessageTypes = { CALCULATE: 'calculate', FETCH_DATA: 'fetch_data', PROCESS: 'process' };
      expect(await pool.request({ operation: 'add', values: [1, 2] }, { type: MessageTypes.CALCULATE }))
        .toEqual({ operation: 'add', values: [1, 2] });
      expect(await pool.request({ n: 5 }, { type: MessageTypes.PROCESS })).toBe(10);
    });
  });

  describe('one-way messages', () => {
    test('notification: send() delivers without a reply', async () => {
      const pool = open({ size: 2 });
      const messages = [];
      pool.on('message', (msg, workerId) => messages.push({ msg, workerId }));
      expect(pool.send(0, { type: 'notification', message: 'Server started' })).toBe(true);
      expect(pool.send(1, { type: 'notification', message: 'Server started' })).toBe(true);
      // A request behind the notification on the same channel proves it was read.
      expect(await pool.request({ n: 1 }, { workerId: 0 })).toBe(2);
      expect(await pool.request({ n: 2 }, { workerId: 1 })).toBe(4);
      expect(messages).toEqual([]);
    });

    test('command pattern: commands reach the worker in order, its answers are events', async () => {
      const pool = open({ size: 2 });
      const answers = collect(pool, 'message', 3);
      // The seed worker validates: a command without a `type` is answered
      // with the seed's validation error, once per command, by that worker.
      expect(pool.send(1, { command: 'start' })).toBe(true);
      expect(pool.send(1, { command: 'process', data: [1, 2, 3] })).toBe(true);
      expect(pool.send(1, { command: 'stop' })).toBe(true);
      expect(await answers).toEqual([
        [{ error: 'Missing message type' }, 1],
        [{ error: 'Missing message type' }, 1],
        [{ error: 'Missing message type' }, 1],
      ]);
      // The same commands as requests are answered by id.
      expect(await pool.request({ command: 'process', data: [1, 2, 3] })).toEqual({ command: 'process', data: [1, 2, 3] });
    });

    test('data streaming: 1000 chunks, an end marker, then a request on the same worker', async () => {
      const pool = open({ size: 2 });
      const messages = [];
      const protocolErrors = [];
      pool.on('message', (msg) => messages.push(msg));
      pool.on('protocolError', (e) => protocolErrors.push(e));
      const sent = range(1000).map((i) => pool.send(1, { type: 'data', chunk: i }));
      expect(sent.every((ok) => ok === true)).toBe(true);
      expect(pool.send(1, { type: 'end' })).toBe(true);
      expect(await within(pool.request({ n: 3 }, { workerId: 1 }))).toBe(6);
      expect(messages).toEqual([]);
      expect(protocolErrors).toEqual([]);
    });

    test("a worker's events sent before a reply are emitted before the request resolves", async () => {
      const pool = open({ size: 1 });
      const messages = [];
      pool.on('message', (msg, workerId) => messages.push([msg, workerId]));
      for (let i = 0; i < 500; i++) pool.send(0, { chunk: i });
      expect(await within(pool.request({ n: 1 }))).toBe(2);
      expect(messages).toHaveLength(500);
      expect(messages.every(([msg, w]) => msg.error === 'Missing message type' && w === 0)).toBe(true);
    });

    test('message validation: what is not a typed object is answered with an error event', async () => {
      const pool = open({ size: 1 });
      const answers = collect(pool, 'message', 5);
      for (const msg of [42, 'text', true, null, [1, 2]]) expect(pool.send(0, msg)).toBe(true);
      expect((await answers).map(([msg]) => msg)).toEqual([
        { error: 'Invalid message format', received: 'number' },
        { error: 'Invalid message format', received: 'string' },
        { error: 'Invalid message format', received: 'boolean' },
        { error: 'Invalid message format', received: 'object' },
        { error: 'Invalid message format', received: 'object' },
      ]);
    });

    test('send() to a slot that does not exist is a RangeError', () => {
      const pool = open({ size: 2 });
      expect(() => pool.send(2, { type: 'ping' })).toThrow(RangeError);
      expect(() => pool.send(-1, { type: 'ping' })).toThrow(RangeError);
    });
  });

  describe('broadcasting', () => {
    test('broadcast() returns how many workers got it; each answers once', async () => {
      const pool = open({ size: 3 });
      const pongs = collect(pool, 'message', 3, { filter: (msg) => msg.type === 'pong' });
      expect(pool.broadcast({ type: 'ping' })).toBe(3);
      const seen = await pongs;
      const byWorker = Object.fromEntries(seen.map(([msg, workerId]) => [workerId, msg.pid]));
      const { workers } = pool.stats();
      expect(byWorker).toEqual(Object.fromEntries(workers.map((w) => [w.id, w.pid])));
      expect(new Set(seen.map(([msg]) => msg.pid)).size).toBe(3);
    });

    test('heartbeat: broadcast a heartbeat-request, every worker beats', async () => {
      const pool = open({ size: 3 });
      const before = Date.now();
      const beats = collect(pool, 'message', 3, { filter: (msg) => msg.type === 'heartbeat' });
      expect(pool.broadcast({ type: 'heartbeat-request' })).toBe(3);
      const seen = await beats;
      expect(seen.map(([, w]) => w).sort()).toEqual([0, 1, 2]);
      for (const [msg] of seen) {
        expect(msg.timestamp).toBeGreaterThanOrEqual(before - 1000);
        expect(msg.timestamp).toBeLessThanOrEqual(Date.now() + 1000);
      }
    });

    test('health check: a worker reports its own task count', async () => {
      const pool = open({ size: 2 });
      for (let i = 0; i < 5; i++) await pool.request({ n: i }, { workerId: 1 });
      const status = nextEvent(pool, 'message', { filter: (msg) => msg.type === 'health-status' });
      expect(pool.send(1, { type: 'health-check' })).toBe(true);
      const [msg, workerId] = await status;
      expect(workerId).toBe(1);
      expect(msg).toMatchObject({ type: 'health-status', healthy: true, metrics: { taskCount: 5, errors: 0 } });
      expect(msg.metrics.memory).toBeGreaterThan(0);
      expect(typeof msg.metrics.uptime).toBe('number');
      expect(pool.stats().workers[1].completed).toBe(5);
    });

    test('a broadcast config notification is accepted silently by all', async () => {
      const pool = open({ size: 2 });
      const messages = [];
      pool.on('message', (msg) => messages.push(msg));
      expect(pool.broadcast({ type: 'config', data: { debug: true } })).toBe(2);
      await Promise.all([pool.request(1, { workerId: 0 }), pool.request(2, { workerId: 1 })]);
      expect(messages).toEqual([]);
    });
  });

  describe('roles', () => {
    test('broadcast and requests by role reach only the role holders', async () => {
      const pool = open({ size: 4 });
      expect(pool.assignRole(0, 'processor')).toBe(true);
      expect(pool.assignRole(1, 'processor')).toBe(true);
      expect(pool.assignRole(2, 'logger')).toBe(true);
      expect(pool.assignRole(3, 'logger')).toBe(true);
      expect(pool.stats().workers.map((w) => w.roles)).toEqual([['processor'], ['processor'], ['logger'], ['logger']]);

      const processorPongs = collect(pool, 'message', 2, { filter: (msg) => msg.type === 'pong' });
      expect(pool.broadcast({ type: 'ping' }, { role: 'processor' })).toBe(2);
      expect((await processorPongs).map(([, w]) => w).sort()).toEqual([0, 1]);
      const loggerPongs = collect(pool, 'message', 2, { filter: (msg) => msg.type === 'pong' });
      expect(pool.broadcast({ type: 'ping' }, { role: 'logger' })).toBe(2);
      expect((await loggerPongs).map(([, w]) => w).sort()).toEqual([2, 3]);
      expect(pool.broadcast({ type: 'ping' }, { role: 'nobody' })).toBe(0);

      const results = await Promise.all(range(20).map((i) => pool.request({ n: i, sleep: 2 }, { role: 'processor' })));
      expect(results).toEqual(range(20).map((i) => i * 2));
      const done = completedBy(pool);
      expect(done[0] + done[1]).toBe(20);
      expect(done[0]).toBeGreaterThan(0);
      expect(done[1]).toBeGreaterThan(0);
      expect([done[2], done[3]]).toEqual([0, 0]);
    });

    test('removeRole takes a worker out of the role', async () => {
      const pool = open({ size: 3 });
      pool.assignRole(0, 'processor');
      pool.assignRole(1, 'processor');
      expect(pool.removeRole(1, 'processor')).toBe(true);
      expect(pool.removeRole(1, 'processor')).toBe(false);
      await Promise.all(range(10).map((i) => pool.request({ n: i, sleep: 2 }, { role: 'processor' })));
      expect(completedBy(pool)).toEqual([10, 0, 0]);
      expect(pool.broadcast({ type: 'ping' }, { role: 'processor' })).toBe(1);
    });

    test('a request for a role nobody holds waits until a worker gets it', async () => {
      const pool = open({ size: 2 });
      const waiting = pool.request({ n: 4 }, { role: 'late' });
      await waitUntil(() => pool.stats().queued === 1, { what: 'the request queued' });
      expect(pool.stats()).toMatchObject({ queued: 1, inFlight: 0, idle: 2 });
      pool.assignRole(1, 'late');
      expect(await within(waiting)).toBe(8);
      expect(completedBy(pool)).toEqual([0, 1]);
    });
  });

  describe('task queue', () => {
    test('queue depth and active count, observed mid-run', async () => {
      const pool = open({ size: 3 });
      await pool.ready();
      const tally = new Tally();
      const tasks = range(12).map((i) => tally.track(pool.request({ n: i, sleep: 250 })));
      // Three tasks run (concurrency 1 per worker), nine wait.
      expect(pool.stats()).toMatchObject({ busy: 3, idle: 0, inFlight: 3, queued: 9 });
      expect(pool.stats().workers.map((w) => w.inFlight)).toEqual([1, 1, 1]);
      await waitUntil(() => tally.resolved === 3, { what: 'the first round finishing' });
      expect(pool.stats()).toMatchObject({ busy: 3, inFlight: 3, queued: 6, completed: 3 });
      expect(await within(Promise.all(tasks), 10000)).toEqual(range(12).map((i) => i * 2));
      expect(tally.settled).toBe(12);
      expect(pool.stats()).toMatchObject({ busy: 0, idle: 3, inFlight: 0, queued: 0, completed: 12 });
    });

    test('concurrency lets each worker run several requests at once', async () => {
      const pool = open({ size: 2, concurrency: 3 });
      const tasks = range(10).map((i) => pool.request({ n: i, sleep: 150 }));
      expect(pool.stats()).toMatchObject({ busy: 2, inFlight: 6, queued: 4 });
      expect(pool.stats().workers.map((w) => w.inFlight)).toEqual([3, 3]);
      const t0 = Date.now();
      expect(await within(Promise.all(tasks))).toEqual(range(10).map((i) => i * 2));
      // Two rounds of 150 ms, not ten.
      expect(Date.now() - t0).toBeLessThan(1200);
    });

    test('a slow request does not hold up the queue on other workers', async () => {
      const pool = open({ size: 2 });
      const slow = pool.request({ n: 1, sleep: 600 });
      const t0 = Date.now();
      const fast = await Promise.all(range(20).map((i) => pool.request({ n: i })));
      expect(Date.now() - t0).toBeLessThan(500);
      expect(fast).toEqual(range(20).map((i) => i * 2));
      expect(await slow).toBe(2);
    });
  });

  describe('sticky keys', () => {
    test('requests with the same key all run on the same worker', async () => {
      const pool = open({ size: 3 });
      await pool.ready();
      const homes = {};
      for (const key of ['user-1', 'user-2', 'user-3', 'user-1']) {
        const before = completedBy(pool);
        const results = await within(Promise.all(range(6).map((i) => pool.request({ n: i, sleep: 5 }, { key }))));
        expect(results).toEqual(range(6).map((i) => i * 2));
        const grew = completedBy(pool).map((c, w) => c - before[w]);
        const home = grew.findIndex((d) => d > 0);
        expect(grew[home]).toBe(6);
        expect(sum(grew)).toBe(6);
        const { pid } = pool.stats().workers[home];
        if (homes[key] !== undefined) expect(homes[key]).toEqual({ home, pid });
        homes[key] = { home, pid };
      }
    });

    test("a key whose worker exited moves to a live worker", async () => {
      const pool = open({ size: 2, restart: { backoffMs: 10 } });
      await pool.request({ n: 1 }, { key: 'session' });
      const home = pool.stats().workers.findIndex((w) => w.completed === 1);
      const err = await pool.request({ exit: 3 }, { key: 'session' }).catch((e) => e);
      expect(err.code).toBe('ERR_FORKWIRE_WORKER_EXITED');
      expect(pool.stats().workers[home].failed).toBe(1);
      expect(await within(pool.request({ n: 2 }, { key: 'session' }))).toBe(4);
    });
  });

  describe('requestMany', () => {
    test('one promise, results in order', async () => {
      const pool = open({ size: 2 });
      const items = range(1000).map((i) => (i % 3 === 0 ? { n: i } : `item-${i}`));
      const results = await within(pool.requestMany(items));
      expect(results).toEqual(items.map((item) => (typeof item === 'object' ? item.n * 2 : item)));
      expect(pool.stats()).toMatchObject({ completed: 1000, inFlight: 0, queued: 0 });
      expect(await pool.requestMany([])).toEqual([]);
    });

    test('rejects with the first failure; the pool goes on', async () => {
      const pool = open({ size: 2 });
      const err = await pool.requestMany([{ n: 1 }, { fail: 'item 1 is bad' }, { n: 3 }]).catch((e) => e);
      expect(err).toBeInstanceOf(WorkerError);
      expect(err.message).toBe('item 1 is bad');
      expect(await pool.requestMany([{ n: 4 }])).toEqual([8]);
    });
  });
});

// The seed worker doubles `n`; the serve worker echoes every untyped item.
const doubled = (item) => (typeof item === 'object' && item !== null && typeof item.n === 'number' ? item.n * 2 : item);
describe.each([
  ['the Rust seed_worker', rustWorker, doubled],
  ['a forkwire::serve worker', serveWorker, (item) => item],
])('requestMany with batchSize, against %s', (_name, worker, expected) => {
  const start = usePools();

  test('items go batchSize to a request; results come back in order', async () => {
    const pool = start({ ...worker, size: 2, concurrency: 4 });
    const items = range(1000).map((i) => (i % 3 === 0 ? { n: i } : i % 3 === 1 ? `item-${i}` : [i, null]));
    expect(await within(pool.requestMany(items, { batchSize: 64 }))).toEqual(items.map(expected));
    // 1000 items in requests of 64: 16 requests, not 1000.
    expect(pool.stats()).toMatchObject({ completed: 16, failed: 0, inFlight: 0, queued: 0 });
    // A list shorter than workers x batchSize is split over both workers.
    const before = completedBy(pool);
    expect(await within(pool.requestMany(range(10).map((i) => `s${i}`), { batchSize: 256 }))).toEqual(range(10).map((i) => `s${i}`));
    expect(completedBy(pool).map((n, w) => n - before[w])).toEqual([1, 1]);
    expect(await pool.requestMany([undefined, 'x'], { batchSize: 5 })).toEqual([null, 'x']);
    expect(await pool.requestMany([], { batchSize: 5 })).toEqual([]);
  });

  test('the first failing item rejects the call; the pool goes on', async () => {
    const pool = start({ ...worker, size: 1 });
    const items = [{ n: 1 }, { fail: 'item 1 is bad' }, { fail: 'item 2 is bad' }, 'x'];
    const err = await within(pool.requestMany(items, { batchSize: 10 }).catch((e) => e));
    expect(err).toBeInstanceOf(WorkerError);
    expect(err.message).toBe('item 1 is bad');
    expect(await within(pool.requestMany(['a', 'b', 'c'], { batchSize: 2 }))).toEqual(['a', 'b', 'c']);
  });

  test("the pool's batchSize is the default; 0 per call sends one request per item", async () => {
    const pool = start({ ...worker, size: 1, batchSize: 100 });
    await within(pool.requestMany(range(250)));
    expect(pool.stats().completed).toBe(3);
    await within(pool.requestMany(range(5), { batchSize: 0 }));
    expect(pool.stats().completed).toBe(8);
    await expect(pool.requestMany([1], { batchSize: -1 })).rejects.toThrow(/batchSize/);
    await expect(pool.requestMany([1], { batchSize: 1.5 })).rejects.toThrow(/batchSize/);
    expect(() => start({ ...worker, batchSize: 'many' })).toThrow(/batchSize/);
  });
});

test('a worker that echoes data cannot pass for one that answers batches', async () => {
  // The seed's Node worker answers any {id, data} with data (or data.n * 2):
  // a batch comes back as the array it went as, not {results}.
  const pool = new WorkerPool({ ...seedWorkers[1][1], size: 1 });
  try {
    const err = await within(pool.requestMany([{ n: 1 }, 'b'], { batchSize: 2 }).catch((e) => e));
    expect(err.code).toBe('ERR_FORKWIRE_PROTOCOL');
    expect(err.message).toMatch(/with an array, not \{results/);
  } finally {
    await pool.close();
  }
});

test('more than 1024 plain requests in one tick, with option requests and sends among them', async () => {
  const pool = new WorkerPool({ ...rustWorker, size: 2, concurrency: 64 });
  try {
    const plain = (from, to) => range(to - from).map((i) => pool.request({ n: from + i }));
    const first = plain(0, 1500);
    const typed = pool.request({ n: -1 }, { timeout: 5000 });
    const sent = pool.send(0, { type: 'notification' });
    const rest = plain(1500, 3000);
    const results = await within(Promise.all([...first, typed, ...rest]), 20000);
    expect(sent).toBe(true);
    expect(results).toEqual([...range(1500).map((i) => i * 2), -2, ...range(1500).map((i) => (1500 + i) * 2)]);
    expect(pool.stats()).toMatchObject({ completed: 3001, failed: 0, inFlight: 0, queued: 0 });
  } finally {
    await pool.close();
  }
});

test('a worker that does not answer batches as batches: ERR_FORKWIRE_PROTOCOL', async () => {
  const pool = new WorkerPool({ ...envelopeWorker, size: 1 });
  try {
    // The envelope worker answers every request with {envelope}: not an array of results.
    const err = await within(pool.requestMany([1, 2, 3], { batchSize: 2 }).catch((e) => e));
    expect(err.code).toBe('ERR_FORKWIRE_PROTOCOL');
    expect(err.message).toMatch(/forkwire:batch request of 2 items/);
  } finally {
    await pool.close();
  }
});

describe('the envelope as a Node worker sees it (fixtures/envelope-worker.js)', () => {
  const start = usePools();

  test('a request is {id, type?, data}, ids are distinct', async () => {
    const pool = start({ ...envelopeWorker, size: 2 });
    const plain = await pool.request({ a: 1 });
    const typed = await pool.request({ b: 2 }, { type: 'calculate' });
    expect(plain.envelope).toEqual({ id: expect.any(Number), data: { a: 1 } });
    expect(typed.envelope).toEqual({ id: expect.any(Number), type: 'calculate', data: { b: 2 } });
    expect(typed.envelope.id).not.toBe(plain.envelope.id);
    const many = await pool.requestMany(range(50).map((i) => ({ i })));
    expect(new Set(many.map((r) => r.envelope.id)).size).toBe(50);
    expect(many.map((r) => r.envelope.data.i)).toEqual(range(50));
  });

  test('unsolicited events from workers arrive as message events with the worker id', async () => {
    const pool = start({ ...envelopeWorker, size: 2 });
    // Listening right after the constructor catches what workers say at start.
    const started = collect(pool, 'message', 2, { filter: (msg) => msg.type === 'started' });
    const seen = await started;
    const pids = Object.fromEntries(pool.stats().workers.map((w) => [w.id, w.pid]));
    expect(Object.fromEntries(seen.map(([msg, w]) => [w, msg.pid]))).toEqual(pids);
  });

  test('sticky key: the same key answers from the same pid', async () => {
    const pool = start({ ...envelopeWorker, size: 3 });
    const pidsA = await Promise.all(range(6).map(() => pool.request({ sleep: 5 }, { key: 'a' }).then((r) => r.pid)));
    const pidsB = await Promise.all(range(6).map(() => pool.request({ sleep: 5 }, { key: 'b' }).then((r) => r.pid)));
    expect(new Set(pidsA).size).toBe(1);
    expect(new Set(pidsB).size).toBe(1);
    const homeA = pool.stats().workers.find((w) => w.pid === pidsA[0]);
    expect(homeA.completed).toBeGreaterThanOrEqual(6);
  });

  test('progress replies reach onProgress before the result', async () => {
    const pool = start({ ...envelopeWorker, size: 1 });
    const progress = [];
    const result = await pool.request({ progress: 4 }, { onProgress: (p) => progress.push(p) });
    expect(progress).toEqual([0.25, 0.5, 0.75, 1]);
    expect(result.envelope.data).toEqual({ progress: 4 });
  });
});
