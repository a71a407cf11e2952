'use strict';
// Inputs Rust workers used to lose, over real processes: a message sent
// with a handle to a worker that takes no handles (a Node child answers
// it, and so must seed_worker), advanced-mode values JSON cannot hold
// (seed_worker echoes them as they went), and requests a worker cannot
// decode or answer (an `{id, error}` reply, never silence), from a plain
// fork() parent and through the pool.
const assert = require('assert');
const util = require('util');
const v8 = require('v8');
const net = require('net');
const { fork } = require('child_process');
const { once } = require('events');
const { example } = require('./fixtures/paths');
const { rustWorker, serveWorker, usePools } = require('./fixtures/pools');
const { within, nextEvent } = require('./fixtures/bounded');

const seedWorker = example('seed_worker');

const LIMIT = 10000;

/**
 * This process's real `process`: jest gives tests a copy whose listeners
 * never hear Node's own warnings (such as a handle the receiver refused).
 */
const realProcess = util.inspect.constructor('return process')();

/** Process warnings during a test. */
function watchWarnings() {
  const seen = [];
  const listener = (w) => seen.push(w);
  realProcess.on('warning', listener);
  return { seen, stop: () => realProcess.off('warning', listener) };
}

/** `{m: Map with a number key, u: undefined, d: Date, b: Buffer, big: BigInt}`. */
function richValue() {
  return { m: new Map([[1, 'a']]), u: undefined, d: new Date(0), b: Buffer.from('hi'), big: 10n };
}

/**
 * Equality as the advanced channel promises it, across realms (values from
 * a child are built in Node's realm, the test's in jest's): V8's own
 * serialization of both after one round trip (see advanced.spec.js).
 */
function canonical(value) {
  return v8.serialize(v8.deserialize(v8.serialize(value)));
}

function assertSame(got, want) {
  assert.ok(canonical(got).equals(canonical(want)), `got ${util.inspect(got)}, want ${util.inspect(want)}`);
}

/** What richValue() must come back as, type by type. */
function assertRich(got) {
  assertSame(got, richValue());
  assert.ok(util.types.isMap(got.m) && got.m.get(1) === 'a');
  assert.ok('u' in got && got.u === undefined);
  assert.ok(util.types.isDate(got.d) && got.d.getTime() === 0);
  assert.ok(Buffer.isBuffer(got.b) && got.b.toString() === 'hi');
  assert.strictEqual(got.big, 10n);
}

function cyclicValue() {
  const cycle = { name: 'loop', list: [1] };
  cycle.self = cycle;
  cycle.list.push(cycle);
  return cycle;
}

function assertCyclic(got) {
  assert.strictEqual(got.name, 'loop');
  assert.strictEqual(got.self, got, 'the cycle survives');
  assert.strictEqual(got.list[1], got, 'the cycle through an array survives');
}

/** Arrays nested `depth` deep around 1. */
function nested(depth) {
  let value = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe('seed_worker forked from plain Node', () => {
  const children = [];
  let warnings;
  beforeEach(() => {
    warnings = watchWarnings();
  });
  afterEach(async () => {
    warnings.stop();
    for (const child of children.splice(0)) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = once(child, 'exit');
      if (child.connected) child.disconnect();
      await within(exited, LIMIT, 'the worker exiting');
    }
  });

  function forkSeed(serialization) {
    const child = fork(__filename, [], { execPath: seedWorker, serialization });
    children.push(child);
    return child;
  }

  /** The child's next message with this id; listen before sending. */
  function reply(child, id) {
    return nextEvent(child, 'message', { filter: (m) => m?.id === id, limit: LIMIT }).then(([m]) => m);
  }

  test.each(['json', 'advanced'])('child.send(msg, server) is answered, and the worker closes the server it got (%s)', async (serialization) => {
    const child = forkSeed(serialization);
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address();
    const answered = reply(child, 2);
    const after = reply(child, 3);
    child.send({ id: 2, data: { n: 21 } }, server);
    child.send({ id: 3, data: 'after' });
    expect(await answered).toEqual({ id: 2, result: 42 });
    // Later messages are not held back behind the handle.
    expect(await after).toEqual({ id: 3, result: 'after' });
    // The worker closed its copy before answering: once ours is closed,
    // nothing listens.
    await within(new Promise((resolve) => server.close(resolve)), LIMIT, 'server.close()');
    const probe = net.connect(port, '127.0.0.1');
    const [err] = await within(once(probe, 'error'), LIMIT, 'the refused connection');
    expect(err.code).toBe('ECONNREFUSED');
    // Node retransmits and warns only for a refused handle.
    expect(warnings.seen).toEqual([]);
  });

  test('advanced mode: Map, undefined, Date, Buffer and BigInt come back as they went', async () => {
    const child = forkSeed('advanced');
    const answered = reply(child, 1);
    child.send({ id: 1, data: richValue() });
    const got = await answered;
    expect(Object.keys(got)).toEqual(['id', 'result']);
    assertRich(got.result);
    // Data with a numeric n is still doubled.
    const doubled = reply(child, 2);
    child.send({ id: 2, data: { n: 21, m: new Map([[1, 2]]) } });
    expect(await doubled).toEqual({ id: 2, result: 42 });
  });

  test('advanced mode: a cyclic value comes back cyclic', async () => {
    const child = forkSeed('advanced');
    const answered = reply(child, 1);
    child.send({ id: 1, data: cyclicValue() });
    assertCyclic((await answered).result);
  });

  test('advanced mode: what the worker cannot answer gets an error reply, not silence', async () => {
    const child = forkSeed('advanced');
    // A result that refers back to the request around it.
    const request = { id: 1 };
    request.data = { back: request };
    const noResult = reply(child, 1);
    child.send(request);
    const { error } = await noResult;
    expect(error).toMatchObject({ code: 'ERR_BAD_RESULT' });
    expect(error.message).toMatch(/^the result cannot be sent/);
    // Deeper than forkwire's decoder goes (Node writes it).
    const tooDeep = reply(child, 2);
    child.send({ id: 2, data: nested(1500) });
    const { error: decodeError } = await tooDeep;
    expect(decodeError).toMatchObject({ code: 'ERR_BAD_REQUEST' });
    expect(decodeError.message).toMatch(/^the request cannot be decoded/);
    // And the worker goes on.
    const next = reply(child, 3);
    child.send({ id: 3, data: { n: 1 } });
    expect(await next).toEqual({ id: 3, result: 2 });
  });
});

describe('WorkerPool of Rust workers', () => {
  const start = usePools();

  test('seed_worker returns Map, undefined, Date, Buffer, BigInt and cycles as they went', async () => {
    const pool = start({ ...rustWorker, size: 1, serialization: 'advanced' });
    assertRich(await within(pool.request(richValue()), LIMIT));
    assertCyclic(await within(pool.request(cyclicValue()), LIMIT));
    expect(await within(pool.request({ n: 21 }), LIMIT)).toBe(42);
    const batch = await within(pool.requestMany([{ n: 1 }, richValue()], { batchSize: 2 }), LIMIT);
    expect(batch[0]).toBe(2);
    assertRich(batch[1]);
  });

  test.each(['json', 'advanced'])('seed_worker answers a request sent with a connection (%s)', async (serialization) => {
    const pool = start({ ...rustWorker, size: 1, serialization });
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection');
    const client = net.connect(server.address().port, '127.0.0.1');
    const [conn] = await within(accepted, LIMIT, 'the connection');
    const ended = once(client, 'end');
    client.resume();
    expect(await within(pool.request({ n: 21 }, { handle: conn }), LIMIT)).toBe(42);
    // Neither the pool nor the worker kept the connection.
    await within(ended, LIMIT, 'the connection ending');
    client.destroy();
    await within(new Promise((resolve) => server.close(resolve)), LIMIT, 'server.close()');
  });

  test('forkwire::serve answers a request it cannot decode with ERR_BAD_REQUEST', async () => {
    const pool = start({ ...serveWorker, size: 1, serialization: 'advanced' });
    for (const data of [new Map([[1, 'a']]), cyclicValue()]) {
      const err = await within(
        pool.request(data, { type: 'echo' }).then(
          (result) => ({ result }),
          (e) => e,
        ),
        LIMIT,
      );
      expect(err).toMatchObject({ name: 'WorkerError', code: 'ERR_BAD_REQUEST', remoteName: 'TypeError' });
      expect(err.message).toMatch(/^the request cannot be decoded: /);
    }
    expect(await within(pool.request({ fine: [1] }, { type: 'echo' }), LIMIT)).toEqual({ fine: [1] });
  });
});
