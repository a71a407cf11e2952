'use strict';
// The seed's own code, unchanged, against forkwire's workers:
// - its parent classes (fixtures/seed-classes.js, quoted from the seed doc)
//   forking the Rust seed_worker, and the Node seed-worker.js for
//   comparison;
// - its worker scripts (fixtures/seed/*.js, quoted from the seed doc)
//   serving a forkwire WorkerPool.
//
// The classes' timers (a 5 s request timeout, a 2 s heartbeat interval,
// a 3 s health-check timeout) run on jest's fake clock, so a spec can
// move time on without waiting for it; the processes and their messages
// are real.
const childProcess = require('child_process');
const { once } = require('events');
const { seedClasses } = require('./fixtures/seed-classes');
const { rustWorker, nodeWorker, usePools } = require('./fixtures/pools');
const { fixture } = require('./fixtures/paths');
const { within, collect, nextEvent } = require('./fixtures/bounded');

const range = (n) => Array.from({ length: n }, (_, i) => i);

// How the seed's `fork(workerPath)` reaches each worker. The Rust worker
// takes the path as an argument it ignores: fork(anyPath, [], {execPath}).
const forks = [
  ['the Rust seed_worker', (workerPath) => childProcess.fork(workerPath, [], { execPath: rustWorker.command }), __filename],
  ['the Node seed-worker.js', (workerPath) => childProcess.fork(workerPath), nodeWorker.script],
];

describe.each(forks)("the seed's parent classes, unchanged, forking %s", (_name, fork, workerPath) => {
  let children;
  let classes;

  beforeEach(() => {
    children = [];
    classes = seedClasses((p) => {
      const child = fork(p);
      children.push(child);
      return child;
    });
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask', 'hrtime', 'performance'] });
  });

  afterEach(async () => {
    jest.clearAllTimers();
    jest.useRealTimers();
    jest.restoreAllMocks();
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await within(exited, 3000, `worker ${child.pid} exiting`);
      }),
    );
  });

  test('WorkerClient: request/response by id, errors, and its 5 s timeout', async () => {
    const { WorkerClient } = classes;
    const client = new WorkerClient(workerPath);
    expect(await within(client.request({ task: 'compute', n: 100 }))).toBe(200);
    await expect(within(client.request({ fail: 'no such task' }))).rejects.toThrow('no such task');
    const results = await within(Promise.all(range(1000).map((i) => client.request({ n: i }))));
    expect(results).toEqual(range(1000).map((i) => i * 2));
    expect(client.pending.size).toBe(0);

    const silent = client.request({ hang: true });
    jest.advanceTimersByTime(5000);
    await expect(silent).rejects.toThrow('Request timeout');
    expect(client.pending.size).toBe(0);
  });

  test('WorkerPool (broadcasting): every worker answers the broadcast', async () => {
    const { WorkerPool } = classes;
    const pool = new WorkerPool(workerPath, 4);
    const got = [];
    pool.onMessage((msg, workerIndex) => got.push([workerIndex, msg]));
    const pongs = Promise.all(pool.workers.map((w) => once(w, 'message')));
    pool.broadcast({ type: 'config', data: { debug: true } });
    pool.broadcast({ type: 'ping' });
    await within(pongs);
    // The config notification is accepted silently; each ping is answered.
    expect(got.sort((a, b) => a[0] - b[0])).toEqual(pool.workers.map((w, i) => [i, { type: 'pong', pid: w.pid }]));
  });

  test('SmartPool: broadcastToRole reaches only that role', async () => {
    const { SmartPool } = classes;
    const pool = new SmartPool(workerPath, 4);
    pool.assignRole(0, 'processor');
    pool.assignRole(1, 'processor');
    pool.assignRole(2, 'logger');
    pool.assignRole(3, 'logger');
    const got = [];
    for (const w of pool.workers) w.process.on('message', (msg) => got.push([w.id, msg]));

    const processors = Promise.all([0, 1].map((i) => once(pool.workers[i].process, 'message')));
    pool.broadcastToRole('processor', { task: 'process' });
    await within(processors);
    const loggers = Promise.all([2, 3].map((i) => once(pool.workers[i].process, 'message')));
    pool.broadcastToRole('logger', { log: 'event occurred' });
    await within(loggers);
    // The seed worker validates: untyped messages get its validation error.
    expect(got.sort((a, b) => a[0] - b[0])).toEqual([0, 1, 2, 3].map((i) => [i, { error: 'Missing message type' }]));
  });

  test('TaskQueue: queue depth and active count mid-run, every task resolved', async () => {
    const { TaskQueue } = classes;
    const queue = new TaskQueue(workerPath, 3);
    const done = range(30).map((i) => queue.enqueue({ id: i, data: i % 2 ? `task-${i}` : { n: i, sleep: 20 } }));
    expect(queue.getActiveCount()).toBe(3);
    expect(queue.getQueueDepth()).toBe(27);
    const results = await within(Promise.all(done), 10000);
    // The TaskQueue resolves with the worker's whole reply.
    expect(results).toEqual(range(30).map((i) => ({ id: i, result: i % 2 ? `task-${i}` : i * 2 })));
    expect(queue.getActiveCount()).toBe(0);
    expect(queue.getQueueDepth()).toBe(0);
  });

  test('MonitoredWorker: heartbeats keep it alive; once silent it is restarted (killed)', async () => {
    const { MonitoredWorker } = classes;
    const error = jest.spyOn(console, 'error').mockImplementation(() => {});
    const monitored = new MonitoredWorker(workerPath);
    const started = Date.now();
    for (let beat = 1; beat <= 3; beat++) {
      const heartbeat = nextEvent(monitored.worker, 'message', { filter: (msg) => msg.type === 'heartbeat' });
      jest.advanceTimersByTime(2000);
      await heartbeat;
      expect(monitored.lastHeartbeat).toBe(started + beat * 2000);
    }
    expect(error).not.toHaveBeenCalled();

    // The worker goes silent; three intervals later it is 6 s behind.
    monitored.worker.send({ id: 1, data: { hang: true } });
    const exited = once(monitored.worker, 'exit');
    jest.advanceTimersByTime(4000);
    expect(error).not.toHaveBeenCalled();
    jest.advanceTimersByTime(2000);
    expect(error).toHaveBeenCalledWith('Worker unresponsive!');
    expect(await within(exited)).toEqual([null, 'SIGTERM']);
  });

  test('HealthMonitor: a health check, then a timeout once the worker is silent', async () => {
    const { HealthMonitor } = classes;
    const worker = fork(workerPath);
    children.push(worker);
    const monitor = new HealthMonitor(worker);
    const health = await within(monitor.checkHealth());
    expect(health).toMatchObject({ healthy: true, metrics: { taskCount: 0, errors: 0 } });
    expect(health.metrics.memory).toBeGreaterThan(0);
    expect(monitor.metrics).toEqual(health.metrics);

    worker.send({ id: 1, data: { hang: true } });
    const check = monitor.checkHealth();
    jest.advanceTimersByTime(3000);
    expect(await within(check)).toEqual({ healthy: false, reason: 'timeout' });
  });

  test('safeSend and sendWithTimeout', async () => {
    const { safeSend, sendWithTimeout } = classes;
    const error = jest.spyOn(console, 'error').mockImplementation(() => {});
    const worker = fork(workerPath);
    children.push(worker);
    expect(await within(sendWithTimeout(worker, { id: 1, data: { n: 4 } }))).toEqual({ id: 1, result: 8 });
    expect(safeSend(worker, { type: 'ping' })).toBe(true);
    expect((await within(once(worker, 'message')))[0]).toEqual({ type: 'pong', pid: worker.pid });

    worker.send({ id: 2, data: { hang: true } });
    const silent = sendWithTimeout(worker, { id: 3, data: { n: 1 } });
    jest.advanceTimersByTime(5000);
    await expect(silent).rejects.toThrow('Timeout');

    const exited = once(worker, 'exit');
    worker.disconnect();
    expect(safeSend(worker, { type: 'ping' })).toBe(false);
    expect(error).toHaveBeenCalledWith('Worker not connected');
    // A worker that loses its channel exits 0, as a Node child does.
    expect(await within(exited)).toEqual([0, null]);
  });

  test('error handling: the exit code of a crashed worker', async () => {
    const worker = fork(workerPath);
    children.push(worker);
    const exited = once(worker, 'exit');
    worker.send({ id: 1, data: { exit: 3 } });
    expect(await within(exited)).toEqual([3, null]);
  });
});

describe("the seed's worker scripts, unchanged, in a forkwire WorkerPool", () => {
  const start = usePools();

  test('worker.js (request/response): results by id, thrown errors as WorkerError', async () => {
    const pool = start({ script: fixture('seed/worker.js'), size: 2 });
    expect(await pool.request({ task: 'compute', n: 100 })).toBe(200);
    const results = await within(Promise.all(range(1000).map((i) => pool.request({ n: i }))));
    expect(results).toEqual(range(1000).map((i) => i * 2));
    // performTask(null) throws in the worker; it answers {id, error: error.message}.
    await expect(pool.request(null)).rejects.toMatchObject({
      name: 'WorkerError',
      message: "Cannot read properties of null (reading 'n')",
    });
    expect(pool.stats()).toMatchObject({ completed: 1001, failed: 1 });
  });

  test('the heartbeat worker answers a broadcast heartbeat-request', async () => {
    const pool = start({ script: fixture('seed/heartbeat-worker.js'), size: 2 });
    const beats = collect(pool, 'message', 2, { filter: (msg) => msg.type === 'heartbeat' });
    expect(pool.broadcast({ type: 'heartbeat-request' })).toBe(2);
    const seen = await beats;
    expect(seen.map(([, w]) => w).sort()).toEqual([0, 1]);
    for (const [msg] of seen) expect(Math.abs(msg.timestamp - Date.now())).toBeLessThan(5000);
  });

  test('the health worker answers a health check', async () => {
    const pool = start({ script: fixture('seed/health-worker.js'), size: 1 });
    const status = nextEvent(pool, 'message');
    expect(pool.send(0, { type: 'health-check' })).toBe(true);
    const [msg, workerId] = await status;
    expect(workerId).toBe(0);
    expect(msg).toMatchObject({ type: 'health-status', healthy: true, metrics: { taskCount: 0, errors: 0 } });
  });
});
