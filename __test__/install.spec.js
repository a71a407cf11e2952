'use strict';
// First run, the fast parts: `forkwire init` (names, refusals, what it
// writes) and the error when the native addon is missing. The whole path
// (tarballs, a new app, init, the new project's npm test) is
// tools/release/check-install.js, the last step of `npm test`.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { init, invalidName } = require('../bin/forkwire.js');
const { inheritedKeys } = require('../tools/release/pack.js');
const pkg = require('../package.json');

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'forkwire.js');

let tmp;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forkwire-init-spec-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const quiet = { log: () => {} };

describe('forkwire init', () => {
  test('accepts crate names and refuses the rest, saying why', () => {
    for (const ok of ['my-worker', 'w', 'image_resize2', 'a-b_c']) expect(invalidName(ok)).toBeNull();
    const cases = {
      '': /empty/,
      '9lives': /starts with a digit/,
      MyWorker: /capital/,
      'my.worker': /not a crate name/,
      'my worker': /not a crate name/,
      '-x': /not a crate name/,
      fn: /reserved/,
      test: /reserved/,
      std: /reserved/,
      build: /reserved/,
      forkwire: /name of the dependency/,
      ['a'.repeat(65)]: /longer than 64/,
    };
    for (const [name, why] of Object.entries(cases)) expect(invalidName(name)).toMatch(why);
  });

  test('writes a cargo worker, a jest test and a package.json that builds before testing', () => {
    const { dir, files, manifest } = init(['image-resize'], { cwd: tmp, ...quiet });
    expect(dir).toBe(path.join(tmp, 'image-resize'));
    expect(files).toEqual(['.gitignore', 'Cargo.toml', 'README.md', 'package.json', 'src/main.rs', 'test/worker.test.js']);

    const cargo = fs.readFileSync(path.join(dir, 'Cargo.toml'), 'utf8');
    expect(cargo).toMatch(/^name = "image-resize"$/m);
    expect(cargo).toMatch(/^forkwire = \{ path = "node_modules\/forkwire\/crates\/forkwire" \}$/m);
    expect(cargo).toMatch(/^# +forkwire = "0\.1"$/m); // what it becomes once the crate is published
    expect(cargo).toMatch(/^serde = \{ version = "1", features = \["derive"\] \}$/m);

    const main = fs.readFileSync(path.join(dir, 'src/main.rs'), 'utf8');
    expect(main).toMatch(/#\[derive\(Deserialize\)\]/);
    expect(main).toMatch(/#\[derive\(Serialize\)\]/);
    expect(main).toMatch(/ServeError::new\("division by zero"\)\.code\("E_DIVIDE_BY_ZERO"\)/);
    expect(main).not.toMatch(/\{\{/);

    const test = fs.readFileSync(path.join(dir, 'test/worker.test.js'), 'utf8');
    expect(test).toContain("path.join(targetDir, 'release', 'image-resize')");
    expect(test).toContain('new WorkerPool({ command');
    expect(test).toContain("code: 'E_DIVIDE_BY_ZERO'");

    expect(JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))).toEqual(manifest);
    expect(manifest).toMatchObject({
      name: 'image-resize',
      private: true,
      scripts: { pretest: 'cargo build --release', test: 'jest' },
      dependencies: { forkwire: `^${pkg.version}` },
      devDependencies: { jest: pkg.devDependencies.jest },
    });
    expect(manifest.optionalDependencies).toBeUndefined();
  });

  test('refuses a folder that is not empty, and writes nothing into it', () => {
    const dir = path.join(tmp, 'busy');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    expect(() => init(['busy'], { cwd: tmp, ...quiet })).toThrow(/busy exists and is not empty; nothing was written/);
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);

    fs.mkdirSync(path.join(tmp, 'empty'));
    expect(init(['empty'], { cwd: tmp, ...quiet }).files).toContain('Cargo.toml');
  });

  test('--name names the crate apart from its folder; paths given to --forkwire and --native are rebased', () => {
    const { manifest } = init(
      ['workers/Thumbs', '--name', 'thumbs', '--forkwire', './dist/forkwire-0.1.0.tgz', '--native', 'dist/forkwire-linux-x64-gnu-0.1.0.tgz'],
      { cwd: tmp, ...quiet },
    );
    expect(manifest.name).toBe('thumbs');
    expect(manifest.dependencies.forkwire).toBe('file:../../dist/forkwire-0.1.0.tgz');
    expect(manifest.optionalDependencies).toEqual({ 'forkwire-linux-x64-gnu': 'file:../../dist/forkwire-linux-x64-gnu-0.1.0.tgz' });
    expect(init(['w2', '--forkwire', '0.1.x'], { cwd: tmp, ...quiet }).manifest.dependencies.forkwire).toBe('0.1.x');
    const named = init(['w3', '--forkwire', 'forkwire-0.1.0.tgz', '--native', 'forkwire-linux-arm64-gnu@../arm.tgz'], { cwd: tmp, ...quiet });
    expect(named.manifest.dependencies.forkwire).toBe('file:../forkwire-0.1.0.tgz');
    expect(named.manifest.optionalDependencies).toEqual({ 'forkwire-linux-arm64-gnu': 'file:../../arm.tgz' });
    expect(() => init(['w4', '--native', 'mystery.tgz'], { cwd: tmp, ...quiet })).toThrow(/cannot tell which platform package/);
  });

  test('the command line: exit 0 with next steps, 2 on a bad name or option, 1 on a busy folder', () => {
    const cli = (...args) => spawnSync(process.execPath, [BIN, ...args], { cwd: tmp, encoding: 'utf8' });
    const ok = cli('init', 'my-worker');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/cd my-worker\n\s+npm install.*\n\s+npm test/);
    expect(cli('init', 'my-worker')).toMatchObject({ status: 1, stderr: expect.stringMatching(/not empty/) });
    expect(cli('init', 'Bad')).toMatchObject({ status: 2, stderr: expect.stringMatching(/capital letters.*--name/) });
    expect(cli('init', 'x', '--nope').status).toBe(2);
    expect(cli('frobnicate').status).toBe(2);
    expect(cli('--version').stdout.trim()).toBe(pkg.version);
  });
});

describe('a missing native addon', () => {
  // forkwire as npm installs it, without its platform package.
  function installWithout(addon) {
    const dir = path.join(tmp, 'node_modules', 'forkwire');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['index.js', 'index.mjs', 'binding.js', 'package.json', 'lib']) {
      fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
    }
    if (addon !== undefined) fs.writeFileSync(path.join(dir, `forkwire.${platform()}.node`), addon);
    const env = { ...process.env };
    delete env.NAPI_RS_NATIVE_LIBRARY_PATH;
    const load = (code) =>
      JSON.parse(spawnSync(process.execPath, ['-e', code], { cwd: tmp, env, encoding: 'utf8' }).stdout);
    return load;
  }
  const report = `.then(() => console.log('null'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message, name: e.name, packageName: e.packageName })))`;

  test('says which package is missing and how to get it, with a stable code (CommonJS and ESM)', () => {
    const load = installWithout();
    const cjs = load(`Promise.resolve().then(() => require('forkwire'))${report}`);
    const esm = load(`import('forkwire')${report}`);
    expect(esm).toEqual(cjs);
    expect(cjs.code).toBe('ERR_FORKWIRE_NATIVE_MISSING');
    expect(cjs.name).toBe('ForkwireError');
    expect(cjs.packageName).toBe(`forkwire-${platform()}`);
    expect(cjs.message).toContain(`npm install forkwire-${platform()}@${pkg.version}`);
    expect(cjs.message).toContain('npm run build');
    expect(cjs.message).not.toMatch(/npm has a bug/);
  });

  test('an addon that is there but does not load is reported as such', () => {
    const load = installWithout('not an ELF file');
    const err = load(`Promise.resolve().then(() => require('forkwire'))${report}`);
    expect(err.code).toBe('ERR_FORKWIRE_NATIVE_LOAD');
    expect(err.message).toMatch(/installed but cannot be loaded/);
    expect(err.message).toContain(`forkwire.${platform()}.node`);
  });
});

test("release:pack refuses a crate manifest that inherits from the workspace", () => {
  expect(inheritedKeys('[package]\nname = "x"\nedition = "2021"\n[dependencies]\nserde = "1"\n')).toEqual([]);
  expect(
    inheritedKeys('[package]\nedition.workspace = true\nlicense = "MIT"\n[dependencies]\nserde = { workspace = true, features = ["derive"] }\n'),
  ).toEqual(['[package] edition', '[dependencies] serde']);
});

function platform() {
  const libc = process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl';
  return `${process.platform}-${process.arch}-${libc}`;
}
