'use strict';
// WorkerPool with options.nats: the same API over real nats-server
// processes and real forkwire-sidecar processes running real workers
// (Rust and Node). Every request settles exactly once, under faults too.
const { WorkerPool, ForkwireError, WorkerError, codes } = require('..');
const { useNats } = require('./fixtures/nats');
const { within, nextEvent, waitUntil, sleep, Tally } = require('./fixtures/bounded');
const { fixture } = require('./fixtures/paths');

const failure = (promise, ms) => within(promise.then(() => { throw new Error('expected a rejection'); }, (err) => err), ms);

const { server, sidecar } = useNats();
const open = new Set();
afterEach(async () => {
  const pools = [...open];
  open.clear();
  await Promise.all(pools.map((pool) => within(pool.close(), 5000, 'close()')));
});

function remote(url, service, options = {}) {
  const { nats, ...rest } = options;
  const pool = new WorkerPool({ nats: { servers: url, service, ...nats }, ...rest });
  open.add(pool);
  return pool;
}

describe('a remote pool', () => {
  test('answers as a local pool does: results, worker errors, types, requestMany, batches', async () => {
    const nats = await server();
    await sidecar(nats.url, 'basics', { args: ['--size', '2'] });
    const pool = remote(nats.url, 'basics');
    await pool.ready();
    expect(pool.size).toBe(0);
    expect(await pool.request({ a: [1, 'two', null] })).toEqual({ a: [1, 'two', null] });
    expect(await pool.request(5, { type: 'sleep' })).toBe(5);
    const err = await failure(pool.request(null, { type: 'fail' }));
    expect(err).toBeInstanceOf(WorkerError);
    expect(err.message).toBe('it failed');
    expect(err.code).toBe('E_FAILED');
    const items = Array.from({ length: 200 }, (_, i) => ({ n: i }));
    expect(await pool.requestMany(items)).toEqual(items);
    expect(await pool.requestMany([1, 2, 3], { type: 'sleep' })).toEqual([1, 2, 3]);
    // forkwire::serve answers batches: 200 items in 2 requests.
    expect(await pool.requestMany(items, { batchSize: 100 })).toEqual(items);
    // Plain requests made in one tick go to the engine together.
    expect(await Promise.all(items.map((item) => pool.request(item)))).toEqual(items);
    const stats = pool.stats();
    expect(stats).toMatchObject({ completed: 407, failed: 1, service: 'basics', connected: true, workers: [] });
    expect(stats.latencyMs.p50).toBeGreaterThan(0);
    expect(pool.metrics()).toMatch(/forkwire_requests_total\{outcome="remote_error"\} 1/);
  });

  test('runs Node script workers behind a sidecar, unchanged', async () => {
    const nats = await server();
    await sidecar(nats.url, 'scripts', { worker: fixture('seed-worker.js'), args: ['--size', '1'] });
    const pool = remote(nats.url, 'scripts');
    expect(await pool.request({ hello: 'node' })).toEqual({ hello: 'node' });
    expect(await pool.requestMany([1, 2, 3])).toEqual([1, 2, 3]);
  });

  test('spreads requests over three sidecars, and health() lists each with its workers', async () => {
    const nats = await server();
    for (const tag of ['a', 'b', 'c']) await sidecar(nats.url, 'spread', { tag, args: ['--size', '2'] });
    const pool = remote(nats.url, 'spread');
    const answers = await Promise.all(Array.from({ length: 300 }, () => pool.request(null, { type: 'whoami' })));
    const perTag = {};
    for (const { tag } of answers) perTag[tag] = (perTag[tag] ?? 0) + 1;
    expect(Object.keys(perTag).sort()).toEqual(['a', 'b', 'c']);
    const health = await pool.health();
    expect(health).toHaveLength(3);
    expect(health.reduce((n, s) => n + s.requests, 0)).toBe(300);
    for (const s of health) {
      expect(s).toMatchObject({ healthy: true, draining: false, errors: 0 });
      expect(s.requests).toBeGreaterThan(0);
      expect(s.pool.workers).toHaveLength(2);
      expect(s.pool.workers.every((w) => w.connected && w.pid > 0)).toBe(true);
    }
  });

  test('times out and aborts with the local codes, and the worker hears the cancel', async () => {
    const nats = await server();
    await sidecar(nats.url, 'cancel', { args: ['--size', '2'] });
    const pool = remote(nats.url, 'cancel');
    const timedOut = await failure(pool.request(5000, { type: 'sleep', timeout: 100 }));
    expect(timedOut).toBeInstanceOf(ForkwireError);
    expect(timedOut.code).toBe(codes.TIMEOUT);
    const controller = new AbortController();
    const aborted = failure(pool.request(5000, { type: 'sleep', signal: controller.signal }));
    await sleep(100);
    controller.abort(new Error('changed my mind'));
    const err = await aborted;
    expect(err.code).toBe(codes.ABORTED);
    expect(err.cause.message).toBe('changed my mind');
    const group = new AbortController();
    const many = failure(pool.requestMany([4000, 4000, 4000], { type: 'sleep', signal: group.signal }));
    await sleep(50);
    group.abort();
    expect((await many).code).toBe(codes.ABORTED);
    // The cancelled requests stop early, so the workers are free again.
    expect(await within(pool.request(1, { type: 'sleep' }), 2000)).toBe(1);
    expect(pool.stats()).toMatchObject({ timedOut: 1, aborted: 4 });
  });

  test('with no sidecar, requests fail with ERR_FORKWIRE_NO_WORKERS', async () => {
    const nats = await server();
    const pool = remote(nats.url, 'nobody');
    const err = await failure(pool.request(1));
    expect(err.code).toBe(codes.NO_WORKERS);
    expect(err.message).toMatch(/nobody/);
    expect(await pool.health({ timeout: 100 })).toEqual([]);
  });

  test.each([
    ['without retries, its requests fail once with ERR_FORKWIRE_WORKER_EXITED', 0],
    ['with retries, its requests succeed on another sidecar', 2],
  ])('a sidecar SIGKILLed under load: %s', async (_name, retries) => {
    const nats = await server();
    const doomed = await sidecar(nats.url, 'kill', { args: ['--size', '2', '--concurrency', '4'] });
    await sidecar(nats.url, 'kill', { args: ['--size', '2', '--concurrency', '4'] });
    const pool = remote(nats.url, 'kill', { retries, nats: { lostAfter: 1000 } });
    await pool.ready();
    const tally = new Tally();
    const outcomes = Array.from({ length: 40 }, () => tally.track(pool.request(300, { type: 'sleep' })).then((v) => v, (e) => e));
    await sleep(100);
    doomed.child.kill('SIGKILL');
    const settled = await within(Promise.all(outcomes), 10000, 'every request settling');
    expect(tally.settled).toBe(40);
    if (retries > 0) {
      expect(settled).toEqual(Array(40).fill(300));
      expect(pool.stats().retried).toBeGreaterThan(0);
    } else {
      const lost = settled.filter((o) => o instanceof ForkwireError);
      expect(lost.length).toBeGreaterThan(0);
      for (const e of lost) expect(e.code).toBe(codes.WORKER_EXITED);
      expect(settled.filter((o) => o === 300).length + lost.length).toBe(40);
    }
  });

  test('a sidecar SIGTERMed under load drains: nothing is lost', async () => {
    const nats = await server();
    const leaving = await sidecar(nats.url, 'drain', { args: ['--size', '2', '--concurrency', '4'] });
    await sidecar(nats.url, 'drain', { args: ['--size', '2', '--concurrency', '4'] });
    const pool = remote(nats.url, 'drain');
    await pool.ready();
    const results = [];
    const load = (async () => {
      for (let round = 0; round < 20; round++) {
        results.push(...(await Promise.all(Array.from({ length: 10 }, () => pool.request(40, { type: 'sleep' })))));
      }
    })();
    await sleep(200);
    leaving.child.kill('SIGTERM');
    expect(await within(leaving.exited, 10000)).toEqual({ code: 0, signal: null });
    await within(load, 15000, 'the load finishing');
    expect(results).toEqual(Array(200).fill(40));
    expect(leaving.log.some((l) => l.includes('stopped'))).toBe(true);
  });

  test('a server that goes and comes back: in-flight requests fail once, events tell, later requests succeed', async () => {
    const nats = await server();
    await sidecar(nats.url, 'restart', { args: ['--size', '1'] });
    const pool = remote(nats.url, 'restart');
    const [server1] = await nextEvent(pool, 'connect');
    expect(server1).toBe(nats.url);
    const inFlight = failure(pool.request(3000, { type: 'sleep' }), 10000);
    await sleep(100);
    const disconnected = nextEvent(pool, 'disconnect', { limit: 10000 });
    await nats.stop();
    expect((await inFlight).code).toBe(codes.CONNECTION);
    await disconnected;
    const reconnected = nextEvent(pool, 'reconnect', { limit: 10000 });
    const again = await server([], nats.port);
    await reconnected;
    // The sidecar reconnects on its own too.
    let answer;
    await within((async () => {
      for (;;) {
        answer = await pool.request('back').catch((e) => e);
        if (answer === 'back') return;
        await sleep(50);
      }
    })(), 10000, 'a request succeeding after the restart');
    expect(answer).toBe('back');
    expect(pool.stats().disconnects).toBe(1);
    await again.stop();
  });

  test('bad credentials reject ready() and every request with ERR_FORKWIRE_CONNECTION', async () => {
    const nats = await server(['--user', 'app', '--pass', 'right']);
    const pool = remote(nats.url, 'auth', { nats: { user: 'app', password: 'wrong' } });
    pool.on('error', () => {});
    const err = await failure(pool.ready());
    expect(err.code).toBe(codes.CONNECTION);
    expect(err.message).toMatch(/authorization/i);
    expect((await failure(pool.request(1))).code).toBe(codes.CONNECTION);
    // It closed itself: nothing keeps the process alive, close() returns.
    await waitUntil(() => !pool.hasRef(), { what: 'the failed pool letting go' });
    await within(pool.close());
    const good = remote(nats.url, 'auth', { nats: { user: 'app', password: 'right' } });
    await good.ready();
  });

  test('close() settles what is open with ERR_FORKWIRE_CLOSED; close({drain}) lets it finish', async () => {
    const nats = await server();
    await sidecar(nats.url, 'close', { args: ['--size', '2'] });
    const pool = remote(nats.url, 'close');
    const pending = failure(pool.request(3000, { type: 'sleep' }));
    await sleep(50);
    await within(pool.close());
    expect((await pending).code).toBe(codes.CLOSED);
    expect((await failure(pool.request(1))).code).toBe(codes.CLOSED);
    const draining = remote(nats.url, 'close');
    const finishing = draining.request(200, { type: 'sleep' });
    await sleep(50);
    await within(draining.close({ drain: true }));
    expect(await finishing).toBe(200);
  });

  test('closed before it connects: ready() and health() reject, close() returns, nothing is left open', async () => {
    // A server that accepts and never speaks: the connection stays pending.
    const silent = require('net').createServer(() => {});
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const pool = remote(`nats://127.0.0.1:${silent.address().port}`, 'pending', { nats: { connectTimeout: 5000 } });
      const ready = failure(pool.ready());
      const request = failure(pool.request(1));
      await sleep(50);
      await within(pool.close(), 2000);
      expect((await ready).code).toBe(codes.CLOSED);
      expect((await request).code).toBe(codes.CLOSED);
      expect((await failure(pool.health())).code).toBe(codes.CLOSED);
      expect(pool.hasRef()).toBe(false);
    } finally {
      silent.close();
    }
  });

  test('a drain that times out fails what was running once: it is not sent to another sidecar', async () => {
    const nats = await server();
    const slow = await sidecar(nats.url, 'slowdrain', { args: ['--size', '1', '--drain-timeout', '300'] });
    const pool = remote(nats.url, 'slowdrain', { timeout: Infinity });
    const running = failure(pool.request(3000, { type: 'sleep' }), 8000);
    await sleep(200);
    await sidecar(nats.url, 'slowdrain', { args: ['--size', '1'] });
    slow.child.kill('SIGTERM');
    const err = await running;
    expect(err.code).toBe(codes.CLOSED);
    const health = await pool.health();
    expect(health).toHaveLength(1);
    expect(health[0].requests).toBe(0);
    expect(pool.stats().busyResends).toBe(0);
  });

  test('refuses what only a local pool can do, with clear errors', async () => {
    const nats = await server();
    const pool = remote(nats.url, 'local');
    expect(() => pool.send(0, 'x')).toThrow(expect.objectContaining({ code: 'ERR_METHOD_NOT_IMPLEMENTED' }));
    expect(() => pool.broadcast('x')).toThrow(/remote pool/);
    expect(() => pool.assignRole(0, 'r')).toThrow(/remote pool/);
    expect((await failure(pool.request(1, { workerId: 0 }))).code).toBe('ERR_METHOD_NOT_IMPLEMENTED');
    expect(() => new WorkerPool({ nats: { service: 'a' }, command: '/bin/true' })).toThrow(/options.command/);
    expect(() => new WorkerPool({ nats: { service: 'a.b' } })).toThrow(/nats.service/);
    expect(() => new WorkerPool({ nats: { service: 'a' }, serialization: 'advanced' })).toThrow(/serialization/);
    expect(() => new WorkerPool({ nats: { service: 'a', user: 'u' } })).toThrow(/nats.password/);
    expect(() => new WorkerPool({ nats: { service: 'a', lostAfter: 10 } })).toThrow(/nats.lostAfter/);
  });
});
