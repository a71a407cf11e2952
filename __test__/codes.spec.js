'use strict';
// Error codes come from the engine, and errors thrown by the addon carry
// them in `code` (not folded into the message).
const { WorkerPool, ForkwireError, codes } = require('..');
const binding = require('../binding.js');

test('codes are the engine codes plus the two about loading the addon', () => {
  const engine = binding.errorCodes();
  expect(engine).toContain('ERR_FORKWIRE_TIMEOUT');
  expect(engine).not.toContain('ERR_FORKWIRE_REMOTE');
  expect(Object.values(codes).sort()).toEqual([...engine, 'ERR_FORKWIRE_NATIVE_MISSING', 'ERR_FORKWIRE_NATIVE_LOAD'].sort());
  expect(Object.keys(codes).sort()).toEqual([
    'ABORTED', 'CLOSED', 'CONNECTION', 'HANDLE_REFUSED', 'NATIVE_LOAD', 'NATIVE_MISSING', 'NO_WORKERS',
    'PROTOCOL', 'QUEUE_FULL', 'SERIALIZE', 'SPAWN', 'TIMEOUT', 'VERSION', 'WORKER_EXITED',
  ]);
  for (const [key, code] of Object.entries(codes)) expect(code).toBe(`ERR_FORKWIRE_${key}`);
  expect(Object.isFrozen(codes)).toBe(true);
});

test('a failure thrown by the addon has its code in `code` and a plain message', async () => {
  const pool = new WorkerPool({ command: '/nonexistent/forkwire-worker' });
  const err = await pool.ready().catch((e) => e);
  expect(err).toBeInstanceOf(ForkwireError);
  expect(err.code).toBe(codes.SPAWN);
  expect(err.message).toMatch(/^worker 0 could not be started: cannot start \/nonexistent\/forkwire-worker/);
  expect(err.message).not.toMatch(/ERR_FORKWIRE/);
  // What the addon threw: a JS error with the code set by the engine.
  expect(require('util').types.isNativeError(err.cause)).toBe(true);
  expect(err.cause.code).toBe(codes.SPAWN);
  await pool.close();
});
