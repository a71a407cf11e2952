'use strict';
// A Rust worker built on the forkwire crate, started from plain Node with
// no forkwire code on the Node side, must behave as a Node child does.
const { fork, spawn } = require('child_process');
const { once } = require('events');
const { example } = require('./fixtures/paths');

const seedWorker = example('seed_worker');

/** Collects messages from a child; `next()` resolves with the next one. */
function inbox(child) {
  const queue = [];
  const waiters = [];
  child.on('message', (m) => (waiters.length ? waiters.shift()(m) : queue.push(m)));
  return {
    next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r))),
    async take(n) {
      const out = [];
      for (let i = 0; i < n; i++) out.push(await this.next());
      return out;
    },
  };
}

async function exited(child) {
  const [code, signal] = await once(child, 'exit');
  return { code, signal };
}

function forkSeed(options = {}) {
  return fork(__filename, [], { execPath: seedWorker, ...options });
}

describe('a Rust child forked from plain Node (json mode)', () => {
  test('fork() with execPath: request/response by id', async () => {
    const child = forkSeed();
    const box = inbox(child);
    child.send({ id: 1, data: { n: 21 } });
    child.send({ id: 2, data: 'echo me' });
    child.send({ id: 3, data: { fail: 'it broke' } });
    expect(await box.take(3)).toEqual([
      { id: 1, result: 42 },
      { id: 2, result: 'echo me' },
      { id: 3, error: 'it broke' },
    ]);
    child.disconnect();
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  });

  test("spawn() with an 'ipc' stdio entry works the same", async () => {
    const child = spawn(seedWorker, [], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
    const box = inbox(child);
    child.send({ type: 'ping' });
    expect(await box.next()).toEqual({ type: 'pong', pid: child.pid });
    expect(child.connected).toBe(true);
    child.disconnect();
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  });

  test('the seed vocabulary: heartbeat, health, validation, notifications', async () => {
    const child = forkSeed();
    const box = inbox(child);
    const before = Date.now();
    child.send({ type: 'heartbeat-request' });
    const beat = await box.next();
    expect(beat.type).toBe('heartbeat');
    expect(beat.timestamp).toBeGreaterThanOrEqual(before - 1000);
    expect(beat.timestamp).toBeLessThanOrEqual(Date.now() + 1000);

    child.send({ type: 'notification', message: 'Server started' });
    child.send({ command: 'start' });
    child.send(42);
    child.send('text');
    child.send(true);
    child.send(null);
    child.send([1, 2]);
    expect(await box.take(6)).toEqual([
      { error: 'Missing message type' },
      { error: 'Invalid message format', received: 'number' },
      { error: 'Invalid message format', received: 'string' },
      { error: 'Invalid message format', received: 'boolean' },
      { error: 'Invalid message format', received: 'object' },
      { error: 'Invalid message format', received: 'object' },
    ]);

    child.send({ id: 7, data: { n: 1 } });
    await box.next();
    child.send({ type: 'health-check' });
    const health = await box.next();
    expect(health).toMatchObject({ type: 'health-status', healthy: true });
    expect(health.metrics.taskCount).toBe(1);
    expect(health.metrics.memory).toBeGreaterThan(0);
    expect(typeof health.metrics.uptime).toBe('number');
    child.disconnect();
    await exited(child);
  });

  test('a slow request does not hold up a fast one', async () => {
    const child = forkSeed();
    const box = inbox(child);
    child.send({ id: 'slow', data: { sleep: 300, n: 1 } });
    child.send({ id: 'fast', data: { n: 2 } });
    expect(await box.take(2)).toEqual([
      { id: 'fast', result: 4 },
      { id: 'slow', result: 2 },
    ]);
    child.disconnect();
    await exited(child);
  });

  test('exit and hang requests', async () => {
    const child = forkSeed();
    child.send({ id: 1, data: { exit: 7 } });
    expect(await exited(child)).toEqual({ code: 7, signal: null });

    const hung = forkSeed();
    const box = inbox(hung);
    hung.send({ id: 1, data: { hang: true } });
    hung.send({ type: 'heartbeat-request' });
    hung.send({ type: 'ping' });
    const answer = await Promise.race([box.next(), new Promise((r) => setTimeout(() => r('silent'), 300))]);
    expect(answer).toBe('silent');
    expect(hung.exitCode).toBe(null);
    hung.kill('SIGKILL');
    expect(await exited(hung)).toEqual({ code: null, signal: 'SIGKILL' });
  });

  test('10 000 messages in one burst arrive complete and in order', async () => {
    const child = forkSeed();
    const box = inbox(child);
    const n = 10000;
    for (let i = 0; i < n; i++) child.send({ id: i, data: { n: i } });
    const replies = await box.take(n);
    expect(replies.map((r) => r.id)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(replies.every((r) => r.result === r.id * 2)).toBe(true);
    child.disconnect();
    await exited(child);
  });

  test.each([
    ['1 MiB', 1 << 20],
    ['16 MiB', 16 << 20],
  ])('a %s message round-trips equal', async (_name, size) => {
    const child = forkSeed();
    const box = inbox(child);
    const data = { blob: 'ab€\n'.repeat(size / 4).slice(0, size), list: Array.from({ length: 1000 }, (_, i) => i * 1.5) };
    child.send({ id: 'big', data });
    const reply = await box.next();
    expect(reply.id).toBe('big');
    expect(reply.result.blob.length).toBe(data.blob.length);
    expect(reply.result).toEqual(data);
    child.disconnect();
    await exited(child);
  });

  test('awkward strings and numbers arrive equal', async () => {
    const child = forkSeed();
    const box = inbox(child);
    const data = {
      newlines: 'a\nb\r\nc\n',
      separators: 'x\u2028y\u2029z',
      emoji: '😀👍🏽 family: 👨‍👩‍👧',
      controls: '\u0000\u0001\u001f\t"\\',
      numbers: [0, -1, 1.5, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, -(2 ** 53 - 1), 1e21, 1e-7, 5e-324,
        Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 0.1 + 0.2, 123456789.123456789],
      keys: { 'é': 1, '': 2, '1': 3, 'a b': 4 },
    };
    child.send({ id: 1, data });
    const reply = await box.next();
    expect(reply.result).toEqual(data);
    expect(Object.keys(reply.result.keys)).toEqual(Object.keys(data.keys));
    child.disconnect();
    await exited(child);
  });

  test('ids and data of every JSON type come back as sent', async () => {
    // The worker answers these without decoding `data` into values: what
    // returns must still be what JSON.parse of the request would give.
    const child = forkSeed();
    const box = inbox(child);
    const cases = [
      [{ id: 'text id', data: { n: 4 } }, 8],
      [{ id: 2.5, data: { n: '4' } }, { n: '4' }],
      [{ id: 3, data: { n: null, m: 1 } }, { n: null, m: 1 }],
      [{ id: 4, data: [1, { n: 2 }] }, [1, { n: 2 }]],
      [{ id: 5, data: 'plain' }, 'plain'],
      [{ id: 6 }, null],
      [{ id: 7, data: { n: -0.1, pad: 'x'.repeat(100) } }, -0.2],
      [{ id: 8, data: { n: 1e300 } }, 2e300],
      [{ id: 9, data: { n: 2 ** 53 } }, 2 ** 54],
      [{ id: 10, data: [5] }, [5]],
    ];
    for (const [msg] of cases) child.send(msg);
    for (const [msg, result] of cases) expect(await box.next()).toEqual({ id: msg.id, result });
    child.disconnect();
    await exited(child);
  });

  test('arrays are not requests; null control members still count', async () => {
    const child = forkSeed();
    const box = inbox(child);
    child.send([7]);
    expect(await box.next()).toEqual({ error: 'Invalid message format', received: 'object' });
    child.send({ id: 1, data: { fail: null, n: 3 } });
    expect(await box.next()).toEqual({ id: 1, error: 'null' });
    child.send({ id: 2, data: { n: 3 } });
    expect(await box.next()).toEqual({ id: 2, result: 6 });
    child.disconnect();
    await exited(child);
  });

  test('lone surrogates, as Node writes them, arrive as U+FFFD', async () => {
    const child = forkSeed();
    const box = inbox(child);
    child.send({ id: 1, data: { s: 'a\ud800b', t: '\udfff', pair: '\ud83d\ude00' } });
    expect((await box.next()).result).toEqual({ s: 'a\ufffdb', t: '\ufffd', pair: '😀' });
    child.disconnect();
    await exited(child);
  });

  test('the channel is not inherited by the worker\'s own children', async () => {
    // NODE_CHANNEL_FD must be gone from the child's environment: a Rust
    // child that reads it twice gets "no channel" the second time. Here we
    // check the observable effect from Node: the worker still answers after
    // start-up, i.e. it took the channel once, and /proc shows fd 3 as
    // close-on-exec.
    const child = forkSeed();
    const box = inbox(child);
    child.send({ type: 'ping' });
    await box.next();
    const fdinfo = require('fs').readFileSync(`/proc/${child.pid}/fdinfo/3`, 'utf8');
    const flags = parseInt(/flags:\s+(\d+)/.exec(fdinfo)[1], 8);
    expect(flags & 0o2000000).toBe(0o2000000); // O_CLOEXEC
    const environ = require('fs').readFileSync(`/proc/${child.pid}/environ`, 'utf8');
    // /proc/PID/environ shows the initial environment; the removal is
    // checked from Rust in crates/forkwire/tests/env.rs.
    expect(environ).toContain('NODE_CHANNEL_FD=3');
    child.disconnect();
    await exited(child);
  });
});

describe('misuse is a clear error, not a crash', () => {
  test('started without a channel', async () => {
    const child = spawn(seedWorker, [], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH } });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    expect(await exited(child)).toEqual({ code: 2, signal: null });
    expect(err).toMatch(/NODE_CHANNEL_FD is not set/);
  });

  test('NODE_CHANNEL_FD that is not a socket', async () => {
    const file = require('fs').openSync(__filename, 'r');
    const child = spawn(seedWorker, [], {
      stdio: ['ignore', 'ignore', 'pipe', file],
      env: { PATH: process.env.PATH, NODE_CHANNEL_FD: '3' },
    });
    require('fs').closeSync(file);
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    expect((await exited(child)).code).toBe(2);
    expect(err).toMatch(/NODE_CHANNEL_FD=3 is not a socket/);
  });

  test('an unknown serialization mode', async () => {
    const child = spawn(seedWorker, [], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { PATH: process.env.PATH, NODE_CHANNEL_SERIALIZATION_MODE: 'xml' },
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    expect((await exited(child)).code).toBe(2);
    expect(err).toMatch(/unknown NODE_CHANNEL_SERIALIZATION_MODE "xml"/);
  });
});
