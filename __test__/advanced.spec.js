'use strict';
// serialization: 'advanced' in both directions over real processes: a
// plain Node parent forking a Rust worker, and forkwire's pool. The Rust
// worker (advanced_echo) decodes every message to forkwire's lossless V8
// value and encodes it back; Node must see the same value.
const assert = require('assert');
const util = require('util');
const v8 = require('v8');
const { fork } = require('child_process');
const { once } = require('events');
const { WorkerPool } = require('..');
const { example } = require('./fixtures/paths');

const echo = example('advanced_echo');

/** The values Node's advanced channel carries that JSON cannot. */
function richValues() {
  const shared = { x: 1 };
  const cycle = { name: 'loop' };
  cycle.self = cycle;
  const sparse = [];
  sparse[3] = 'three';
  sparse[1000] = 'far';
  const err = new RangeError('out of range');
  err.stack = 'RangeError: out of range\n    at test';
  const withCause = new Error('outer', { cause: new TypeError('inner') });
  withCause.stack = 'S';
  withCause.cause.stack = 'T';
  return [
    ['undefined inside', { u: undefined, a: [undefined] }],
    ['NaN', NaN],
    ['-0', -0],
    ['Infinity', -Infinity],
    ['int and double', [0, -1, 2 ** 31, 2 ** 53 - 1, 1.5, 5e-324]],
    ['BigInt', { small: 0n, neg: -12345678901234567890n, big: 2n ** 200n }],
    ['Date', new Date(Date.UTC(2026, 10, 26, 12, 0, 0, 123))],
    ['invalid Date', new Date(NaN)],
    ['RegExp', /a+b?c$/gimsuy],
    ['Map', new Map([[1, 'one'], ['k', { v: [1] }], [true, null], [{ o: 1 }, 2n]])],
    ['Set', new Set([1, 'a', null, 3n, { s: true }])],
    ['Buffer', Buffer.from([0, 1, 2, 254, 255])],
    ['Uint8Array', new Uint8Array([1, 2, 3])],
    ['Int16Array', new Int16Array([-1, 32767])],
    ['Float64Array', new Float64Array([1.5, -0, NaN])],
    ['BigInt64Array', new BigInt64Array([-1n, 2n ** 62n])],
    ['DataView', new DataView(new Uint8Array([9, 8, 7]).buffer)],
    ['ArrayBuffer', new Uint8Array([4, 5]).buffer],
    ['sparse array', sparse],
    ['array with hole', [1, , 3]], // eslint-disable-line no-sparse-arrays
    ['strings', ['', 'latin1 é', 'two-byte €', 'emoji 😀', 'lone \ud800', 'x'.repeat(70000)]],
    ['boxed primitives', [new String('s'), new Number(3), new Boolean(false)]],
    ['Error', err],
    ['Error with cause', withCause],
    ['shared reference', { a: shared, b: shared }],
    ['cycle', cycle],
    ['nested', { a: { b: { c: [{ d: new Map([['e', new Set([1])]]) }] } } }],
  ];
}

/**
 * Equality as Node's channel promises it. Values arrive built in Node's
 * own realm while the test's live in jest's, so prototypes differ and
 * assert.deepStrictEqual cannot be used; V8's own serialization of both is
 * compared instead: it tells apart -0, NaN, undefined and holes, int and
 * double, every type, and shared references from copies. Both sides go
 * through one V8 round trip first, as a value received from a Node child
 * would (V8 itself writes `[undefined]` differently once it was read back).
 */
function canonical(value) {
  return v8.serialize(v8.deserialize(v8.serialize(value)));
}

function assertSame(name, got, want) {
  const same = canonical(got).equals(canonical(want));
  assert.ok(same, `${name}: got ${util.inspect(got, { depth: 5 })}, want ${util.inspect(want, { depth: 5 })}`);
  if (name === 'shared reference') assert.strictEqual(got.a, got.b, 'identity survives');
  if (name === 'cycle') assert.strictEqual(got.self, got, 'cycle survives');
  if (name === 'Error') assert.ok(got.name === 'RangeError' && got.stack === want.stack);
  if (name === 'Error with cause') assert.ok(got.cause.name === 'TypeError' && got.cause.message === 'inner');
  if (name === 'Buffer') assert.ok(Buffer.isBuffer(got) && got.equals(want));
  if (name === 'Float64Array') assert.ok(Object.is(got[1], -0) && Number.isNaN(got[2]));
  if (name === '-0') assert.ok(Object.is(got, -0));
}

describe("a Rust worker forked from plain Node with serialization: 'advanced'", () => {
  const children = [];
  const forkEcho = () => {
    const child = fork(__filename, [], { execPath: echo, serialization: 'advanced' });
    children.push(child);
    return child;
  };
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  test('every value comes back equal', async () => {
    const child = forkEcho();
    const values = richValues();
    const replies = [];
    child.on('message', (m) => replies.push(m));
    for (const [, value] of values) child.send({ id: replies.length, data: value });
    while (replies.length < values.length) await once(child, 'message');
    values.forEach(([name, value], i) => assertSame(name, replies[i].result, value));
    child.disconnect();
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });

  test('a top-level message that is not an envelope echoes as is', async () => {
    const child = forkEcho();
    const want = new Map([[1n, new Set([new Date(0)])]]);
    child.send(want);
    const [got] = await once(child, 'message');
    assertSame('Map of Set of Date', got, want);
    child.disconnect();
    await once(child, 'exit');
  });
});

describe("WorkerPool with serialization: 'advanced'", () => {
  let pool;
  afterEach(() => pool?.close());

  test('requests carry every value to a Rust worker and back', async () => {
    pool = new WorkerPool({ command: echo, size: 2, serialization: 'advanced', concurrency: 8 });
    await pool.ready();
    const values = richValues();
    const results = await Promise.all(values.map(([, value]) => pool.request(value)));
    values.forEach(([name, value], i) => assertSame(name, results[i], value));
  });

  test('requests of one tick share one engine call and still settle one by one', async () => {
    pool = new WorkerPool({ command: echo, size: 2, serialization: 'advanced', concurrency: 4 });
    await pool.ready();
    const shared = { text: 'dvě slova 🙂', bytes: Buffer.from([1, 2, 3]) };
    const sent = [shared, shared, Symbol('refused'), 'ünïcode'.repeat(50), shared];
    const settled = await Promise.allSettled(sent.map((v) => pool.request(v)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(settled[2].reason.code).toBe('ERR_FORKWIRE_SERIALIZE');
    for (const i of [0, 1, 4]) assertSame(`shared #${i}`, settled[i].value, shared);
    expect(settled[3].value).toBe('ünïcode'.repeat(50));
    // 200 requests in one tick, more than the workers take at once.
    const many = Array.from({ length: 200 }, (_, i) => ({ i, s: 'x'.repeat(i) }));
    expect(await Promise.all(many.map((v) => pool.request(v)))).toEqual(many);
    expect(pool.stats()).toMatchObject({ completed: 204, inFlight: 0, queued: 0 });
  });

  test('a Node script worker in advanced mode gets and returns the same values', async () => {
    pool = new WorkerPool({ script: require.resolve('./fixtures/seed-worker.js'), size: 1, serialization: 'advanced' });
    const value = { when: new Date(5), big: 10n ** 30n, tags: new Set(['a']) };
    // The seed worker echoes data that has no numeric `n`.
    assertSame('object of Date, BigInt, Set', await pool.request(value), value);
  });

  test('what advanced mode cannot send rejects with ERR_FORKWIRE_SERIALIZE', async () => {
    pool = new WorkerPool({ command: echo, size: 1, serialization: 'advanced' });
    await expect(pool.request({ f() {} })).rejects.toMatchObject({ code: 'ERR_FORKWIRE_SERIALIZE' });
    await expect(pool.request(Symbol('s'))).rejects.toMatchObject({ code: 'ERR_FORKWIRE_SERIALIZE' });
    expect(pool.stats().completed).toBe(0);
    expect(await pool.request(1n)).toBe(1n);
  });
});
