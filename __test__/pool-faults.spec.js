'use strict';
// How WorkerPool requests fail, against real workers: remote errors,
// timeouts, aborts, a full queue, close, workers that die or never start,
// payloads that cannot be sent. Every request settles exactly once.
const { execFile } = require('child_process');
const path = require('path');
const { WorkerPool, ForkwireError, WorkerError, codes } = require('..');
const { seedWorkers, rustWorker, envelopeWorker, usePools, workerPids, isRunning } = require('./fixtures/pools');
const { within, collect, nextEvent, waitUntil, sleep, Tally } = require('./fixtures/bounded');
const { fixture } = require('./fixtures/paths');

const range = (n) => Array.from({ length: n }, (_, i) => i);
const failure = (promise) => within(promise.then(() => { throw new Error('expected a rejection'); }, (err) => err));

/** What stats() says about requests, without the per-worker part. */
function counters(pool) {
  const { workers, ...rest } = pool.stats();
  return rest;
}

/** Asks worker `workerId` how many requests it has received. */
async function taskCount(pool, workerId) {
  const status = nextEvent(pool, 'message', { filter: (msg, w) => msg.type === 'health-status' && w === workerId });
  pool.send(workerId, { type: 'health-check' });
  const [msg] = await status;
  return msg.metrics.taskCount;
}

describe.each(seedWorkers)('%s: failures', (_name, worker) => {
  const start = usePools();
  const open = (options) => start({ ...worker, ...options });

  describe('remote errors', () => {
    test('{id, error} rejects with a WorkerError carrying the message', async () => {
      const pool = open({ size: 1 });
      const err = await failure(pool.request({ fail: 'it broke' }));
      expect(err).toBeInstanceOf(WorkerError);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(ForkwireError);
      expect(err.message).toBe('it broke');
      expect(err.code).toBeUndefined();
      expect(counters(pool)).toMatchObject({ completed: 0, failed: 1 });
      expect(await pool.request({ n: 1 })).toBe(2);
    });

    test('a remote error names the worker it came from (err.workerId)', async () => {
      const pool = open({ size: 2 });
      const err = await failure(pool.request({ fail: 'on one' }, { workerId: 1 }));
      expect(err).toBeInstanceOf(WorkerError);
      expect(err.workerId).toBe(1);
    });
  });

  describe('timeouts', () => {
    test('a request past its timeout rejects; its late reply is dropped and counted', async () => {
      const pool = open({ size: 1 });
      const t0 = Date.now();
      const err = await failure(pool.request({ n: 1, sleep: 700 }, { timeout: 50 }));
      expect(Date.now() - t0).toBeLessThan(600);
      expect(err).toBeInstanceOf(ForkwireError);
      expect(err.code).toBe(codes.TIMEOUT);
      expect(err.code).toBe('ERR_FORKWIRE_TIMEOUT');
      expect(err.workerId).toBe(0);
      expect(counters(pool)).toMatchObject({ timedOut: 1, failed: 1, completed: 0, lateReplies: 0, inFlight: 0 });
      await waitUntil(() => pool.stats().lateReplies === 1, { what: 'the late reply' });
      expect(counters(pool)).toMatchObject({ timedOut: 1, completed: 0 });
      expect(await pool.request({ n: 2 })).toBe(4);
    });

    test('the pool-wide timeout applies unless a request sets its own (0 = none)', async () => {
      const pool = open({ size: 1, timeout: 60 });
      const err = await failure(pool.request({ n: 1, sleep: 500 }));
      expect(err.code).toBe(codes.TIMEOUT);
      expect(await within(pool.request({ n: 2, sleep: 150 }, { timeout: 0 }))).toBe(4);
      expect(await within(pool.request({ n: 3, sleep: 150 }, { timeout: 2000 }))).toBe(6);
    });

    test('a request can time out while still queued: nothing is sent, no late reply', async () => {
      const pool = open({ size: 1 });
      const blocker = pool.request({ n: 1, sleep: 400 });
      const err = await failure(pool.request({ n: 2 }, { timeout: 50 }));
      expect(err.code).toBe(codes.TIMEOUT);
      expect(counters(pool)).toMatchObject({ queued: 0, inFlight: 1, timedOut: 1 });
      expect(await within(blocker)).toBe(2);
      expect(await taskCount(pool, 0)).toBe(1);
      expect(counters(pool)).toMatchObject({ lateReplies: 0, completed: 1, timedOut: 1 });
    });

    test('400 requests, half timing out: each settles once, every late reply counted', async () => {
      const pool = open({ size: 2, concurrency: 200 });
      const tally = new Tally();
      const outcomes = await within(
        Promise.allSettled(
          range(400).map((i) =>
            tally.track(i % 2 ? pool.request({ n: i, sleep: 400 }, { timeout: 30 }) : pool.request({ n: i }, { timeout: 5000 })),
          ),
        ),
        10000,
      );
      expect(tally).toMatchObject({ tracked: 400, resolved: 200, rejected: 200 });
      outcomes.forEach((o, i) => {
        if (i % 2) expect(o.reason.code).toBe(codes.TIMEOUT);
        else expect(o.value).toBe(i * 2);
      });
      await waitUntil(() => pool.stats().lateReplies === 200, { what: '200 late replies' });
      expect(counters(pool)).toMatchObject({ completed: 200, failed: 200, timedOut: 200, inFlight: 0 });
    });
  });

  describe('abort', () => {
    test('a signal aborted before the call: rejects, nothing is sent', async () => {
      const pool = open({ size: 1 });
      await pool.request({ n: 0 });
      const before = counters(pool);
      const controller = new AbortController();
      const reason = new Error('changed my mind');
      controller.abort(reason);
      const err = await failure(pool.request({ n: 1 }, { signal: controller.signal }));
      expect(err).toBeInstanceOf(ForkwireError);
      expect(err.code).toBe(codes.ABORTED);
      expect(err.cause).toBe(reason);
      expect(counters(pool)).toEqual(before);
      expect(await taskCount(pool, 0)).toBe(1);
    });

    test('an abort while in flight rejects at once; the late reply is dropped', async () => {
      const pool = open({ size: 1 });
      const controller = new AbortController();
      const pending = pool.request({ n: 1, sleep: 700 }, { signal: controller.signal });
      expect(counters(pool)).toMatchObject({ inFlight: 1 });
      await sleep(30);
      const t0 = Date.now();
      controller.abort();
      const err = await failure(pending);
      expect(Date.now() - t0).toBeLessThan(500);
      expect(err.code).toBe(codes.ABORTED);
      expect(err.workerId).toBe(0);
      expect(counters(pool)).toMatchObject({ aborted: 1, failed: 1, inFlight: 0 });
      await waitUntil(() => pool.stats().lateReplies === 1, { what: 'the late reply' });
      expect(counters(pool)).toMatchObject({ completed: 0 });
    });

    test('an abort while in flight carries the signal reason as cause, like one before the call', async () => {
      const pool = open({ size: 1 });
      const controller = new AbortController();
      const reason = new Error('user left');
      const pending = pool.request({ n: 1, sleep: 300 }, { signal: controller.signal });
      controller.abort(reason);
      const err = await failure(pending);
      expect(err.code).toBe(codes.ABORTED);
      expect(err.cause).toBe(reason);
    });

    test('an abort while queued takes the request out of the queue', async () => {
      const pool = open({ size: 1 });
      const blocker = pool.request({ n: 1, sleep: 300 });
      const controller = new AbortController();
      const queued = pool.request({ n: 2 }, { signal: controller.signal });
      expect(counters(pool)).toMatchObject({ queued: 1, inFlight: 1 });
      controller.abort();
      expect((await failure(queued)).code).toBe(codes.ABORTED);
      expect(counters(pool)).toMatchObject({ queued: 0, aborted: 1 });
      expect(await within(blocker)).toBe(2);
      expect(await taskCount(pool, 0)).toBe(1);
      expect(counters(pool).lateReplies).toBe(0);
    });

    test('an abort after the request settled changes nothing', async () => {
      const pool = open({ size: 1 });
      const controller = new AbortController();
      expect(await pool.request({ n: 5 }, { signal: controller.signal })).toBe(10);
      expect(() => controller.abort()).not.toThrow();
      await sleep(20);
      expect(counters(pool)).toMatchObject({ completed: 1, aborted: 0, failed: 0 });
    });

    test('one signal aborting 50 of 100 requests: each settles once', async () => {
      const pool = open({ size: 2, concurrency: 100 });
      const controller = new AbortController();
      const tally = new Tally();
      const all = range(100).map((i) =>
        tally.track(i % 2 ? pool.request({ n: i, sleep: 500 }, { signal: controller.signal }) : pool.request({ n: i })),
      );
      await waitUntil(() => tally.resolved === 50, { what: 'the fast half' });
      controller.abort();
      const outcomes = await within(Promise.allSettled(all));
      expect(tally).toMatchObject({ tracked: 100, resolved: 50, rejected: 50 });
      expect(outcomes.filter((o) => o.status === 'rejected').every((o) => o.reason.code === codes.ABORTED)).toBe(true);
      expect(counters(pool)).toMatchObject({ aborted: 50, completed: 50 });
    });
  });

  describe('queue full', () => {
    test('past maxQueue waiting requests, a request rejects with ERR_FORKWIRE_QUEUE_FULL', async () => {
      const pool = open({ size: 1, maxQueue: 2 });
      const tally = new Tally();
      const running = tally.track(pool.request({ n: 1, sleep: 200 }));
      const waiting = [tally.track(pool.request({ n: 2 })), tally.track(pool.request({ n: 3 }))];
      const err = await failure(tally.track(pool.request({ n: 4 })));
      expect(err).toBeInstanceOf(ForkwireError);
      expect(err.code).toBe(codes.QUEUE_FULL);
      expect(counters(pool)).toMatchObject({ queued: 2, inFlight: 1 });
      expect(await within(Promise.all([running, ...waiting]))).toEqual([2, 4, 6]);
      expect(tally).toMatchObject({ tracked: 4, resolved: 3, rejected: 1 });
      // Room again.
      expect(await pool.request({ n: 5 })).toBe(10);
    });

    test('maxQueue: 0 still runs a request that an idle worker can take at once', async () => {
      const pool = open({ size: 1, maxQueue: 0 });
      expect(await pool.request({ n: 21 })).toBe(42);
      const running = pool.request({ n: 1, sleep: 100 });
      expect((await failure(pool.request({ n: 2 }))).code).toBe(codes.QUEUE_FULL);
      expect(await running).toBe(2);
    });
  });

  describe('close', () => {
    test('close() rejects pending work with ERR_FORKWIRE_CLOSED and leaves no process', async () => {
      const pool = open({ size: 2 });
      const pids = workerPids(pool);
      expect(pids).toHaveLength(2);
      const tally = new Tally();
      const pending = range(6).map((i) => tally.track(pool.request({ n: i, sleep: 1500 })));
      expect(counters(pool)).toMatchObject({ inFlight: 2, queued: 4 });
      const t0 = Date.now();
      await within(pool.close(), 4000, 'close()');
      expect(Date.now() - t0).toBeLessThan(2500);
      const outcomes = await within(Promise.allSettled(pending));
      expect(tally).toMatchObject({ tracked: 6, resolved: 0, rejected: 6 });
      for (const o of outcomes) {
        expect(o.reason).toBeInstanceOf(ForkwireError);
        expect(o.reason.code).toBe(codes.CLOSED);
      }
      for (const pid of pids) expect(isRunning(pid)).toBe(false);
      // Closed is closed.
      expect((await failure(pool.request({ n: 1 }))).code).toBe(codes.CLOSED);
      expect((await failure(pool.requestMany([1]))).code).toBe(codes.CLOSED);
      expect(pool.send(0, { type: 'ping' })).toBe(false);
      expect(pool.broadcast({ type: 'ping' })).toBe(0);
      await within(pool.close(), 1000, 'a second close()');
    });

    test('close({drain: true}) finishes queued and in-flight work first', async () => {
      const pool = open({ size: 2 });
      const pids = workerPids(pool);
      const tally = new Tally();
      const pending = range(6).map((i) => tally.track(pool.request({ n: i, sleep: 100 })));
      const closing = pool.close({ drain: true });
      expect((await failure(pool.request({ n: 99 }))).code).toBe(codes.CLOSED);
      expect(await within(Promise.all(pending))).toEqual(range(6).map((i) => i * 2));
      await within(closing, 4000, 'close({drain: true})');
      expect(tally).toMatchObject({ tracked: 6, resolved: 6 });
      for (const pid of pids) expect(isRunning(pid)).toBe(false);
    });

    test('close({drain: true, timeout}) gives up on work that takes too long', async () => {
      const pool = open({ size: 1 });
      const slow = failure(pool.request({ n: 1, sleep: 3000 }));
      const t0 = Date.now();
      await within(pool.close({ drain: true, timeout: 150 }), 4000, 'close()');
      expect(Date.now() - t0).toBeLessThan(2500);
      expect((await slow).code).toBe(codes.CLOSED);
    });

    test('close() ends a worker that has stopped answering', async () => {
      const pool = open({ size: 1 });
      const [pid] = workerPids(pool);
      const hung = failure(pool.request({ hang: true }));
      await within(pool.close({ timeout: 1000 }), 4000, 'close()');
      expect((await hung).code).toBe(codes.CLOSED);
      expect(isRunning(pid)).toBe(false);
    });
  });

  describe('worker exit', () => {
    test('a worker that exits mid-request: ERR_FORKWIRE_WORKER_EXITED, then exit and spawn events', async () => {
      const pool = open({ size: 2, restart: { backoffMs: 20 } });
      await collect(pool, 'spawn', 2); // the first start of each worker
      const [, oldPid] = workerPids(pool);
      const events = [];
      pool.on('exit', (workerId, code, signal) => events.push(['exit', workerId, code, signal]));
      pool.on('spawn', (workerId, pid) => events.push(['spawn', workerId, pid]));
      const spawned = nextEvent(pool, 'spawn');
      const err = await failure(pool.request({ exit: 3 }, { workerId: 1 }));
      expect(err).toBeInstanceOf(ForkwireError);
      expect(err.code).toBe(codes.WORKER_EXITED);
      expect(err.exitCode).toBe(3);
      expect(err.signal == null).toBe(true);
      expect(err.workerId).toBe(1);
      const [, newPid] = await spawned;
      expect(events).toEqual([['exit', 1, 3, null], ['spawn', 1, newPid]]);
      expect(newPid).not.toBe(oldPid);
      expect(isRunning(oldPid)).toBe(false);
      expect(pool.stats()).toMatchObject({ restarts: 1 });
      expect(pool.stats().workers[1]).toMatchObject({ pid: newPid, restarts: 1, failed: 1, connected: true });
      expect(await pool.request({ n: 4 }, { workerId: 1 })).toBe(8);
    });

    test("every request in flight on the dead worker fails; queued ones run on its replacement", async () => {
      const pool = open({ size: 1, concurrency: 2, restart: { backoffMs: 20 } });
      const tally = new Tally();
      const sleeping = tally.track(pool.request({ n: 1, sleep: 2000 }));
      const exiting = tally.track(pool.request({ exit: 5 }));
      const queued = tally.track(pool.request({ n: 3 }));
      expect(counters(pool)).toMatchObject({ inFlight: 2, queued: 1 });
      for (const err of [await failure(sleeping), await failure(exiting)]) {
        expect(err.code).toBe(codes.WORKER_EXITED);
        expect(err.exitCode).toBe(5);
      }
      expect(await within(queued)).toBe(6);
      expect(tally).toMatchObject({ tracked: 3, resolved: 1, rejected: 2 });
    });

    test('a worker killed by a signal: the error says which', async () => {
      const pool = open({ size: 1, restart: { backoffMs: 20 } });
      const [pid] = workerPids(pool);
      const pending = pool.request({ n: 1, sleep: 3000 });
      // The kill must find the request on the worker: a plain request waits
      // for the end of the tick to reach the engine.
      await waitUntil(() => pool.stats().inFlight === 1);
      const exited = nextEvent(pool, 'exit');
      process.kill(pid, 'SIGKILL');
      const err = await failure(pending);
      expect(err.code).toBe(codes.WORKER_EXITED);
      expect(err.signal).toBe('SIGKILL');
      expect(err.exitCode == null).toBe(true);
      expect(await exited).toEqual([0, null, 'SIGKILL']);
    });

    test('restart: false leaves the slot empty; other workers go on', async () => {
      const pool = open({ size: 2, restart: false });
      await collect(pool, 'spawn', 2); // the first start of each worker
      const spawns = [];
      pool.on('spawn', (w) => spawns.push(w));
      const err = await failure(pool.request({ exit: 0 }, { workerId: 0 }));
      expect(err.code).toBe(codes.WORKER_EXITED);
      expect(err.exitCode).toBe(0);
      await sleep(200);
      expect(spawns).toEqual([]);
      expect(pool.stats().workers[0]).toMatchObject({ pid: null, connected: false });
      expect(await Promise.all(range(5).map((i) => pool.request({ n: i })))).toEqual([0, 2, 4, 6, 8]);
      expect(pool.stats().workers[1].completed).toBe(5);
      expect(pool.broadcast({ type: 'ping' })).toBe(1);
    });

    test('a worker that keeps dying is given up on, with an error event', async () => {
      const pool = open({ size: 1, restart: { maxRestarts: 1, windowMs: 10000, backoffMs: 10 } });
      await nextEvent(pool, 'spawn'); // the first start
      const gaveUp = nextEvent(pool, 'error');
      expect((await failure(pool.request({ exit: 1 }))).code).toBe(codes.WORKER_EXITED);
      await nextEvent(pool, 'spawn');
      expect((await failure(pool.request({ exit: 1 }))).code).toBe(codes.WORKER_EXITED);
      const [err] = await gaveUp;
      expect(err).toBeInstanceOf(ForkwireError);
      expect(err.code).toBe(codes.SPAWN);
      expect(pool.stats()).toMatchObject({ restarts: 1 });
    });

    test('a request with no worker left to run it rejects instead of waiting forever', async () => {
      const pool = open({ size: 1, restart: false });
      expect((await failure(pool.request({ exit: 4 }))).code).toBe(codes.WORKER_EXITED);
      const tally = new Tally();
      const orphan = tally.track(pool.request({ n: 1 }));
      await sleep(1000);
      expect(tally.settled).toBe(1);
      const err = await failure(orphan);
      expect([codes.WORKER_EXITED, codes.SPAWN]).toContain(err.code);
    });
  });

  describe('payloads that cannot be sent', () => {
    test('BigInt, a cycle, a function, a symbol: ERR_FORKWIRE_SERIALIZE, nothing sent', async () => {
      const pool = open({ size: 1 });
      await pool.request({ n: 0 });
      const before = pool.stats();
      const cycle = { name: 'loop' };
      cycle.self = cycle;
      const bad = [10n, { big: 1n }, cycle, [cycle], () => 1, Symbol('s')];
      for (const data of bad) {
        const err = await failure(pool.request(data));
        expect(err).toBeInstanceOf(ForkwireError);
        expect(err.code).toBe(codes.SERIALIZE);
      }
      expect((await failure(pool.request(1n, { type: 'typed', workerId: 0 }))).code).toBe(codes.SERIALIZE);
      expect((await failure(pool.requestMany([{ n: 1 }, { n: 2n }]))).code).toBe(codes.SERIALIZE);
      expect(() => pool.send(0, { big: 1n })).toThrow(expect.objectContaining({ code: codes.SERIALIZE }));
      expect(() => pool.send(0, cycle)).toThrow(expect.objectContaining({ code: codes.SERIALIZE }));
      expect(() => pool.broadcast({ big: 1n })).toThrow(expect.objectContaining({ code: codes.SERIALIZE }));
      expect(pool.stats()).toEqual(before);
      // The worker saw the first request, nothing else.
      expect(await taskCount(pool, 0)).toBe(1);
    });
  });
});

describe('a pool that cannot start', () => {
  test("command: '/nonexistent' — ready() rejects with ERR_FORKWIRE_SPAWN", async () => {
    const pool = new WorkerPool({ command: '/nonexistent', size: 2 });
    const err = await failure(pool.ready());
    expect(err).toBeInstanceOf(ForkwireError);
    expect(err.code).toBe(codes.SPAWN);
    expect(err.message).toMatch(/nonexistent|No such file/);
    expect((await failure(pool.request({ n: 1 }))).code).toBe(codes.SPAWN);
    expect(pool.stats().workers).toEqual([]);
    await within(pool.close(), 1000, 'close()');
  });

  test('a cwd that does not exist — ready() rejects with ERR_FORKWIRE_SPAWN', async () => {
    const pool = new WorkerPool({ ...rustWorker, cwd: '/nonexistent/dir', size: 1 });
    expect((await failure(pool.ready())).code).toBe(codes.SPAWN);
    await within(pool.close(), 1000, 'close()');
  });

  test('a Node script that fails to load: its worker exits with code 1', async () => {
    const pool = new WorkerPool({ script: path.join(__dirname, 'fixtures', 'no-such-worker.js'), size: 1, stdio: 'ignore', restart: false });
    try {
      const [workerId, code] = await nextEvent(pool, 'exit');
      expect([workerId, code]).toEqual([0, 1]);
    } finally {
      await within(pool.close(), 3000, 'close()');
    }
  });
});

describe('close() against a worker that will not go (fixtures/stubborn-worker.js)', () => {
  test('close({timeout}) kills it once the timeout has passed', async () => {
    const pool = new WorkerPool({ script: fixture('stubborn-worker.js'), size: 2 });
    const pids = await Promise.all([pool.request(null, { workerId: 0 }), pool.request(null, { workerId: 1 })]);
    expect(pids).toEqual(workerPids(pool));
    const exits = collect(pool, 'exit', 2);
    const t0 = Date.now();
    await within(pool.close({ timeout: 300 }), 4000, 'close()');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(2500);
    expect((await exits).map(([, code, signal]) => [code, signal])).toEqual([[null, 'SIGKILL'], [null, 'SIGKILL']]);
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
  });
});

describe('worker replies the pool does not expect (fixtures/envelope-worker.js)', () => {
  const start = usePools();

  test('object errors keep name, code and stack', async () => {
    const pool = start({ ...envelopeWorker, size: 1 });
    const err = await failure(pool.request({ throw: 'index 7 is out of range' }));
    expect(err).toBeInstanceOf(WorkerError);
    expect(err.message).toBe('index 7 is out of range');
    expect(err.remoteName).toBe('RangeError');
    expect(err.code).toBe('E_OUT_OF_RANGE');
    expect(err.remoteStack).toMatch(/^RangeError: index 7 is out of range\n\s+at /);
  });

  test('a reply to an id nobody waits for is dropped and counted, not emitted', async () => {
    const pool = start({ ...envelopeWorker, size: 1 });
    await nextEvent(pool, 'message', { filter: (msg) => msg.type === 'started' });
    const messages = [];
    pool.on('message', (msg) => messages.push(msg));
    await pool.request({ before: { id: 987654, result: 'stray' } });
    expect(messages).toEqual([]);
    expect(pool.stats().lateReplies).toBe(1);
  });

  test('a timed-out request is cancelled on the worker by id', async () => {
    const pool = start({ ...envelopeWorker, size: 1 });
    const received = nextEvent(pool, 'message', { filter: (msg) => msg.type === 'received' });
    const cancelled = nextEvent(pool, 'message', { filter: (msg) => msg.type === 'cancelled' });
    const err = await failure(pool.request({ sleep: 300, announce: true }, { timeout: 50 }));
    expect(err.code).toBe(codes.TIMEOUT);
    const [[got], [cancel]] = await Promise.all([received, cancelled]);
    expect(cancel.requestId).toBe(got.requestId);
    await waitUntil(() => pool.stats().lateReplies === 1, { what: 'the late reply' });
  });

  test('a line that is not JSON: protocolError names the worker; the channel goes on', async () => {
    const pool = start({ ...envelopeWorker, size: 2 });
    const bad = collect(pool, 'protocolError', 2);
    const r1 = await pool.request({ garbage: 'not json\n' }, { workerId: 1 });
    const r2 = await pool.request({ garbage: '{"id": 1, "result": \n' }, { workerId: 1 });
    expect(r1.envelope.data.garbage).toBe('not json\n');
    expect(r2.envelope.data.garbage).toBe('{"id": 1, "result": \n');
    const errors = (await bad).map(([e]) => e);
    expect(errors.map((e) => e.workerId)).toEqual([1, 1]);
    expect(errors[0].message).toMatch(/not json/);
    expect(await pool.request({ a: 1 }, { workerId: 1 })).toMatchObject({ envelope: { data: { a: 1 } } });
  });
});

describe('the host process', () => {
  /** Runs `code` in a fresh Node process; resolves with how it ended. */
  function runNode(code, limit = 10000) {
    return new Promise((resolve) => {
      execFile(process.execPath, ['-e', code], { timeout: limit, cwd: path.join(__dirname, '..') }, (err, stdout, stderr) => {
        resolve({ code: err ? err.code ?? null : 0, signal: err ? err.signal ?? null : null, stdout: stdout.trim(), stderr });
      });
    });
  }
  const prelude = `const { WorkerPool } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const pool = new WorkerPool({ command: ${JSON.stringify(rustWorker.command)}, size: 1 });`;

  test('an unref()ed idle pool lets the process exit, and its workers go too', async () => {
    const run = await runNode(`${prelude}
      pool.request({ n: 21 }).then((r) => { pool.unref(); console.log(r, pool.stats().workers[0].pid); });`);
    expect(run).toMatchObject({ code: 0, signal: null });
    const [result, pid] = run.stdout.split(' ').map(Number);
    expect(result).toBe(42);
    await waitUntil(() => !isRunning(pid), { limit: 3000, what: 'the orphaned worker exiting' });
  });

  test('an unref()ed pool still waits for a pending request', async () => {
    const run = await runNode(`${prelude}
      pool.unref();
      pool.request({ n: 21, sleep: 300 }).then(console.log);`);
    expect(run).toMatchObject({ code: 0, signal: null, stdout: '42' });
  });

  test("a 'message' listener that throws does not lose the replies that came with the event", async () => {
    // Node's own child.on('message') emits each message on its own tick: a
    // throwing listener is an uncaught exception, and the next message is
    // still delivered. Here each of 100 requests is preceded by an event
    // whose listener throws; every request must still settle.
    const run = await runNode(`const { WorkerPool } = require(${JSON.stringify(path.join(__dirname, '..'))});
      let uncaught = 0;
      process.on('uncaughtException', () => uncaught++);
      const pool = new WorkerPool({ script: ${JSON.stringify(envelopeWorker.script)}, size: 1 });
      pool.on('message', (msg) => { if (msg.type === 'received') throw new Error('listener bug'); });
      let settled = 0;
      for (let i = 0; i < 100; i++) pool.request({ announce: true }).finally(() => settled++);
      setTimeout(() => { console.log(settled, uncaught, pool.stats().completed); pool.close(); }, 2000);`);
    expect(run).toMatchObject({ code: 0, signal: null });
    const [settled, uncaught, completed] = run.stdout.split(' ').map(Number);
    expect({ settled, uncaught, completed }).toEqual({ settled: 100, uncaught: 100, completed: 100 });
  });

  test.each([
    ['a request with timeout: Infinity', `pool.request({ n: 21 }, { timeout: Infinity }).then(console.log, (e) => console.log(e.code)).then(() => pool.close());`],
    ['close({timeout: Infinity})', `pool.request({ n: 21 }).then(async (r) => { await pool.close({ timeout: Infinity }); console.log(r); });`],
  ])('%s does not abort the process', async (_name, code) => {
    const run = await runNode(`${prelude}\n${code}`);
    expect(run.stderr).not.toMatch(/panicked/);
    expect(run).toMatchObject({ code: 0, signal: null });
    expect(run.stdout).toMatch(/^(42|ERR_INVALID_ARG_VALUE)$/);
  });

  test('a pool with timeout: Infinity does not abort the process', async () => {
    const run = await runNode(`const { WorkerPool } = require(${JSON.stringify(path.join(__dirname, '..'))});
      let pool;
      try { pool = new WorkerPool({ command: ${JSON.stringify(rustWorker.command)}, size: 1, timeout: Infinity }); }
      catch (e) { console.log(e.code); process.exit(0); }
      pool.request({ n: 21 }).then(console.log).then(() => pool.close());`);
    expect(run.stderr).not.toMatch(/panicked/);
    expect(run).toMatchObject({ code: 0, signal: null });
    expect(run.stdout).toMatch(/^(42|ERR_INVALID_ARG_VALUE)$/);
  });
});
