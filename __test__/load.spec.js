'use strict';
// The package loads as users load it: CommonJS and ESM, native addon included.
const path = require('path');
const { execFileSync } = require('child_process');
const forkwire = require('..');
const pkg = require('../package.json');

test('the native addon loads through the CommonJS entry', () => {
  expect(forkwire.nativeVersion()).toBe(pkg.version);
});

test('the ESM entry exposes the same API', () => {
  const root = path.resolve(__dirname, '..');
  const out = execFileSync(process.execPath, [
    '--input-type=module',
    '-e',
    `import * as fw from ${JSON.stringify(path.join(root, 'index.mjs'))}; console.log(fw.nativeVersion())`,
  ]).toString().trim();
  expect(out).toBe(pkg.version);
});
