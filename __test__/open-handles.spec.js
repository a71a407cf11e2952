'use strict';
// `jest --detectOpenHandles` on test files that use pools: after close(),
// and for an idle pool after unref(), nothing is reported. Each run is a
// jest of its own, in a child process, on a fixture directory outside the
// main testMatch (fixtures/open-handles/*/pool.fixture.js).
const { spawn } = require('child_process');
const path = require('path');
const { within } = require('./fixtures/bounded');

const JEST = require.resolve('jest/bin/jest');
const LIMIT = 60000;

/** Runs jest on `dir` with `flags`; resolves with its exit code and output. */
function runJest(dir, flags) {
  const config = {
    rootDir: path.join(__dirname, 'fixtures', 'open-handles', dir),
    testMatch: ['<rootDir>/*.fixture.js'],
    testEnvironment: 'node',
    testTimeout: 20000,
  };
  const child = spawn(process.execPath, [JEST, '--config', JSON.stringify(config), '--runInBand', '--detectOpenHandles', ...flags], {
    env: { ...process.env, FORCE_COLOR: '0', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, output })));
  return within(exited, LIMIT - 5000, `jest on fixtures/open-handles/${dir} exiting`).catch((err) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}; output so far:\n${output}`);
  });
}

test('pools closed, or idle and unref()ed, leave no open handle', async () => {
  // Without --forceExit: the run must also end by itself.
  const { code, output } = await runJest('clean', []);
  expect(output).toMatch(/Tests:\s+6 passed, 6 total/);
  expect(output).not.toMatch(/open handle/i);
  expect(output).not.toMatch(/did not exit/);
  expect(output).not.toMatch(/ForkwireWorkerPool|napi_rs_threadsafe_function/);
  expect(code).toBe(0);
}, LIMIT);

test('a pool left open is reported once, where it was made', async () => {
  const { code, output } = await runJest('leak', ['--forceExit']);
  expect(output).toMatch(/Tests:\s+1 passed, 1 total/);
  expect(output).toMatch(/Jest has detected the following 1 open handle/);
  expect(output).toMatch(/●\s+ForkwireWorkerPool/);
  expect(output).toMatch(/pool\.fixture\.js:9/);
  expect(code).toBe(0);
}, LIMIT);
