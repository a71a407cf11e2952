'use strict';
// Runs the worker in a forkwire WorkerPool, as your application will.
// `npm test` builds it first (pretest: cargo build --release).
const path = require('path');
const { WorkerPool, WorkerError } = require('forkwire');

// Where cargo put the binary: target/release, or $CARGO_TARGET_DIR/release.
const targetDir = path.resolve(__dirname, '..', process.env.CARGO_TARGET_DIR || 'target');
const command = path.join(targetDir, 'release', '{{name}}');

let pool;

beforeAll(async () => {
  pool = new WorkerPool({ command, size: 2, timeout: 5000 });
  await pool.ready();
});

afterAll(() => pool.close());

test('a typed request gets a typed reply', async () => {
  await expect(pool.request({ a: 7, b: 2 }, { type: 'divide' })).resolves.toEqual({ quotient: 3.5 });
  await expect(pool.request({ text: 'to be or not' }, { type: 'words' })).resolves.toEqual({ count: 4, longest: 'not' });
});

test("the worker's errors reject with their code", async () => {
  const divide = pool.request({ a: 1, b: 0 }, { type: 'divide' });
  await expect(divide).rejects.toBeInstanceOf(WorkerError);
  await expect(divide).rejects.toMatchObject({ code: 'E_DIVIDE_BY_ZERO', message: 'division by zero' });
  await expect(pool.request({ a: 'one' }, { type: 'divide' })).rejects.toMatchObject({ code: 'E_BAD_DATA' });
  await expect(pool.request({}, { type: 'nope' })).rejects.toMatchObject({ code: 'E_UNKNOWN_TYPE' });
});

test('many requests at once spread over the workers', async () => {
  const replies = await Promise.all(
    Array.from({ length: 100 }, (_, i) => pool.request({ a: i, b: 4 }, { type: 'divide' })),
  );
  expect(replies.map((r) => r.quotient)).toEqual(Array.from({ length: 100 }, (_, i) => i / 4));
});
