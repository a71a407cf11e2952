'use strict';
// requestMany(items, { type, batchSize, timeout, signal }): every item is a
// request of that type, with or without batches, and a forkwire::serve
// handler that switches on req.kind() sees it
// (crates/forkwire/examples/serve_worker.rs: 'add' sums a pair, 'count'
// counts to n in 10 ms steps, 'echo' echoes; untyped data is echoed).
const { WorkerError, WorkerPool } = require('..');
const { serveWorker, rustWorker, usePools } = require('./fixtures/pools');
const { fixture } = require('./fixtures/paths');
const { within, waitUntil, Tally } = require('./fixtures/bounded');

const range = (n) => Array.from({ length: n }, (_, i) => i);
const batchWorker = { script: fixture('batch-worker.js') };
const untypedBatchWorker = { script: fixture('batch-worker.js'), args: ['--untyped-batches'] };

/** Waits until the engine holds nothing for the pool and the JS side has let go of every request. */
async function settledAndReleased(pool) {
  await waitUntil(() => {
    const { inFlight, queued } = pool.stats();
    return inFlight === 0 && queued === 0;
  }, { what: 'every request settling' });
  // hasRef() after unref() is true while any request or requestMany group is pending in JS.
  pool.unref();
  await waitUntil(() => !pool.hasRef(), { what: 'the pool letting go of every request' });
  pool.ref();
}

describe.each([
  ['json', {}],
  ['advanced', { serialization: 'advanced' }],
])('a forkwire::serve worker, %s mode', (_mode, mode) => {
  const start = usePools();
  const open = (options) => start({ ...serveWorker, ...mode, ...options });

  test('without batchSize every item is a request of the type', async () => {
    const pool = open({ size: 2, concurrency: 8 });
    const pairs = range(100).map((i) => [i, i / 2]);
    const sums = await within(pool.requestMany(pairs, { type: 'add' }));
    expect(sums).toEqual(pairs.map(([a, b]) => a + b));
    expect(pool.stats()).toMatchObject({ completed: 100, failed: 0 });
    // The same items without a type are echoed: the type made the difference.
    expect(await within(pool.requestMany(pairs.slice(0, 3)))).toEqual(pairs.slice(0, 3));
    const err = await within(pool.requestMany([[1, 2]], { type: 'nope' }).catch((e) => e));
    expect(err).toBeInstanceOf(WorkerError);
    expect(err).toMatchObject({ code: 'E_UNKNOWN', message: 'unknown type nope' });
  });

  test('with batchSize each batched item reaches the handler with the type', async () => {
    const pool = open({ size: 2 });
    const pairs = range(1000).map((i) => [i, 1]);
    const sums = await within(pool.requestMany(pairs, { type: 'add', batchSize: 64 }));
    expect(sums).toEqual(pairs.map(([a]) => a + 1));
    // 1000 items, 64 to a request: 16 requests.
    expect(pool.stats()).toMatchObject({ completed: 16, failed: 0 });
    // Untyped batches keep the first form and still work.
    expect(await within(pool.requestMany(['a', 'b', 'c'], { batchSize: 2 }))).toEqual(['a', 'b', 'c']);
    // An item the handler refuses fails the whole batch with its error.
    const err = await within(pool.requestMany([[1, 2], 'x'], { type: 'add', batchSize: 2 }).catch((e) => e));
    expect(err).toBeInstanceOf(WorkerError);
    expect(err.message).toMatch(/^bad request data/);
  });

  test('timeout applies to each item, or to each batch', async () => {
    const pool = open({ size: 2, concurrency: 4 });
    const started = performance.now();
    // 'count' to 1000 takes 10 s; each item times out after 100 ms.
    const err = await within(pool.requestMany([1000, 1000, 1000], { type: 'count', timeout: 100 }).catch((e) => e));
    expect(err.code).toBe('ERR_FORKWIRE_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(3000);
    await settledAndReleased(pool);
    expect(pool.stats()).toMatchObject({ timedOut: 3, failed: 3, completed: 0 });
    const batched = await within(pool.requestMany([1000, 1000, 1000, 1000], { type: 'count', timeout: 100, batchSize: 2 }).catch((e) => e));
    expect(batched.code).toBe('ERR_FORKWIRE_TIMEOUT');
    await settledAndReleased(pool);
    // Two batch requests of two items: two timeouts.
    expect(pool.stats()).toMatchObject({ timedOut: 5, failed: 5 });
    // A timeout that is not reached changes nothing.
    expect(await within(pool.requestMany([1, 2], { type: 'count', timeout: 5000 }))).toEqual([1, 2]);
  });

  test('an abort rejects the call once and cancels what is still open', async () => {
    const pool = open({ size: 2, concurrency: 1 });
    const controller = new AbortController();
    const reason = new Error('enough');
    // Six 10 s items on two workers: two in flight, four queued.
    const many = pool.requestMany(range(6).map(() => 1000), { type: 'count', signal: controller.signal });
    const tally = new Tally();
    tally.track(many).catch(() => {});
    await waitUntil(() => pool.stats().inFlight === 2);
    controller.abort(reason);
    const err = await within(many.catch((e) => e), 2000);
    expect(err.code).toBe('ERR_FORKWIRE_ABORTED');
    expect(err.cause).toBe(reason);
    await settledAndReleased(pool);
    expect(tally).toMatchObject({ tracked: 1, resolved: 0, rejected: 1 });
    expect(pool.stats()).toMatchObject({ aborted: 6, failed: 6, completed: 0 });
    // The workers were told to cancel: they are free at once.
    expect(await within(pool.requestMany([[1, 1], [2, 2]], { type: 'add' }), 2000)).toEqual([2, 4]);
  });

  test('an abort with batchSize cancels the batch requests', async () => {
    const pool = open({ size: 2, concurrency: 1 });
    const controller = new AbortController();
    const many = pool.requestMany(range(8).map(() => 1000), { type: 'count', batchSize: 2, signal: controller.signal });
    await waitUntil(() => pool.stats().inFlight === 2);
    controller.abort();
    const err = await within(many.catch((e) => e), 2000);
    expect(err.code).toBe('ERR_FORKWIRE_ABORTED');
    await settledAndReleased(pool);
    // Four batch requests of two items each.
    expect(pool.stats()).toMatchObject({ aborted: 4, completed: 0 });
  });

  test('a signal already aborted sends nothing; one aborted after the results changes nothing', async () => {
    const pool = open({ size: 1 });
    const err = await within(pool.requestMany([[1, 2]], { type: 'add', signal: AbortSignal.abort('early') }).catch((e) => e));
    expect(err).toMatchObject({ code: 'ERR_FORKWIRE_ABORTED', cause: 'early' });
    expect(pool.stats()).toMatchObject({ completed: 0, failed: 0, rejected: 0 });
    const controller = new AbortController();
    expect(await within(pool.requestMany([[1, 2]], { type: 'add', signal: controller.signal }))).toEqual([3]);
    controller.abort();
    await settledAndReleased(pool);
    expect(pool.stats()).toMatchObject({ completed: 1, aborted: 0 });
  });
});

describe('the wire form of typed batches (fixtures/batch-worker.js)', () => {
  const start = usePools();

  test('items go {id, type, data}; typed batches carry {type, items}; untyped ones the array', async () => {
    const pool = start({ ...batchWorker, size: 2 });
    expect(await within(pool.requestMany(['a', 'b'], { type: 'resize' }))).toEqual([
      { type: 'resize', data: 'a' },
      { type: 'resize', data: 'b' },
    ]);
    expect(await within(pool.requestMany(['a', 'b', 'c'], { type: 'resize', batchSize: 2 }))).toEqual([
      { type: 'resize', data: 'a' },
      { type: 'resize', data: 'b' },
      { type: 'resize', data: 'c' },
    ]);
    expect(await within(pool.requestMany(['a', 'b'], { batchSize: 2 }))).toEqual([
      { type: null, data: 'a' },
      { type: null, data: 'b' },
    ]);
    // A non-string type goes as its string, as request() sends it.
    expect(await within(pool.requestMany([1], { type: 7, batchSize: 1 }))).toEqual([{ type: '7', data: 1 }]);
  });

  test('a worker that reads only untyped batches fails typed ones instead of running them untyped', async () => {
    const pool = start({ ...untypedBatchWorker, size: 1 });
    expect(await within(pool.requestMany([1, 2], { batchSize: 2 }))).toEqual([
      { type: null, data: 1 },
      { type: null, data: 2 },
    ]);
    const err = await within(pool.requestMany([1, 2], { batchSize: 2, type: 'resize' }).catch((e) => e));
    expect(err).toBeInstanceOf(WorkerError);
    expect(err.code).toBe('ERR_BAD_REQUEST');
  });

  test.each([
    ['json', {}],
    ['advanced', { serialization: 'advanced' }],
  ])('the seed worker answers typed batches too (%s)', async (_mode, mode) => {
    const pool = start({ ...rustWorker, ...mode, size: 1 });
    expect(await within(pool.requestMany([{ n: 1 }, { n: 2 }], { type: 'double', batchSize: 2 }))).toEqual([2, 4]);
    expect(await within(pool.requestMany([{ n: 1 }, { n: 2 }], { batchSize: 2 }))).toEqual([2, 4]);
    // Without batchSize the seed worker ignores the type and answers each item.
    expect(await within(pool.requestMany([{ n: 1 }, 'x'], { type: 'double' }))).toEqual([2, 'x']);
  });
});

describe('requestMany options are checked', () => {
  const start = usePools();

  test('bad options reject without sending anything', async () => {
    const pool = start({ ...serveWorker, size: 1 });
    await expect(pool.requestMany([1], { timeout: -1 })).rejects.toThrow(/options.timeout/);
    await expect(pool.requestMany([1], { timeout: 'soon' })).rejects.toThrow(/options.timeout/);
    await expect(pool.requestMany([1], { signal: {} })).rejects.toThrow(/options.signal/);
    await expect(pool.requestMany([1], { signal: null })).rejects.toThrow(/options.signal/);
    await expect(pool.requestMany([1], null)).rejects.toThrow(/options/);
    await expect(pool.requestMany([1], { batchSize: -1 })).rejects.toThrow(/batchSize/);
    await expect(pool.requestMany([], { type: 'add' })).resolves.toEqual([]);
    expect(pool.stats()).toMatchObject({ completed: 0, failed: 0, rejected: 0 });
  });

  test('a closed pool rejects typed calls as any other', async () => {
    const pool = new WorkerPool({ ...serveWorker, size: 1 });
    await pool.close();
    await expect(pool.requestMany([[1, 2]], { type: 'add' })).rejects.toMatchObject({ code: 'ERR_FORKWIRE_CLOSED' });
  });
});
