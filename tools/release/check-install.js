#!/usr/bin/env node
'use strict';
// The first run of a new user, checked end to end (the last step of
// `npm test`): pack the release tarballs, install them into a new app in a
// temporary folder outside the repository, load forkwire there (and check
// the error when the addon is missing), create a worker with
// `npx forkwire init`, and run that project's own `npm test` (cargo build
// --release, then jest --detectOpenHandles): it must pass, and jest must
// report no open handle.
//
// Network: npm installs use the cache (--prefer-offline; the registry is
// asked only for what is not cached, such as jest's package list the first
// time), cargo runs offline (the crates are those `cargo test` fetched).
// Compiled crates are kept in $CARGO_TARGET_DIR/install-check (default
// target/install-check), so a rerun only compiles forkwire and the worker.
//
// Environment: FORKWIRE_CHECK_KEEP=1 keeps the temporary folder;
// FORKWIRE_CHECK_ONLINE=1 lets cargo use the network.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { pack } = require('./pack');

const ROOT = path.resolve(__dirname, '..', '..');
const BUDGET_MS = 6 * 60 * 1000; // the whole check; each step has its own timeout too
const started = Date.now();
const timings = [];

function step(title, short, fn) {
  const t0 = Date.now();
  process.stdout.write(`check-install: ${title} ... `);
  let result;
  try {
    result = fn();
  } catch (err) {
    console.log('FAILED');
    throw err;
  }
  const ms = Date.now() - t0;
  timings.push([short, ms]);
  console.log(`ok (${(ms / 1000).toFixed(1)} s)`);
  if (Date.now() - started > BUDGET_MS) throw new Error(`over the time budget (${BUDGET_MS / 1000} s)`);
  return result;
}

/** Runs a command; returns its output, or throws with it. */
function run(command, args, { cwd, env = {}, timeout = 120000, expectStatus = 0 } = {}) {
  const r = spawnSync(command, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout,
    killSignal: 'SIGKILL',
    maxBuffer: 64 << 20,
  });
  const output = `${r.stdout || ''}${r.stderr || ''}`;
  if (r.error || r.status !== expectStatus) {
    const why = r.error ? r.error.message : `exit status ${r.status} (expected ${expectStatus})`;
    throw new Error(`\`${command} ${args.join(' ')}\` in ${cwd}: ${why}\n${output}`);
  }
  return output;
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const NPM_INSTALL = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forkwire-install-check-'));
  const keep = process.env.FORKWIRE_CHECK_KEEP === '1';
  try {
    // 1. The tarballs, from the addon `npm run build` made (pretest).
    const t0 = Date.now();
    process.stdout.write('check-install: pack the release tarballs ... ');
    let release;
    try {
      release = await pack({ out: path.join(tmp, 'packages'), build: false, artifacts: null, quiet: true });
    } catch (err) {
      console.log('FAILED');
      throw err;
    }
    timings.push(['pack', Date.now() - t0]);
    console.log(`ok (${((Date.now() - t0) / 1000).toFixed(1)} s): ${release.packages.map((p) => path.basename(p.tarball)).join(', ')}` +
      (release.skipped.length ? `; skipped ${release.skipped.map((s) => s.package).join(', ')} (not buildable here)` : ''));
    const tarballs = release.packages.map((p) => p.tarball);
    const native = release.packages.find((p) => p.target && hostPlatform(p.name));
    assert(native, `no platform package for this machine among ${tarballs.join(', ')}`);

    // 2. A new app installs them, as `npm install forkwire` would.
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }, null, 2));
    step('npm install the tarballs into a new app', 'app install', () => run('npm', [...NPM_INSTALL, ...tarballs], { cwd: app }));
    const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'forkwire', 'package.json'), 'utf8'));
    assert(installed.optionalDependencies && installed.optionalDependencies[native.name] === release.version,
      `the installed forkwire does not list ${native.name}@${release.version} in optionalDependencies`);

    // 3. It loads, in CommonJS and ESM, and runs a pool (over a Node worker: no Rust yet).
    fs.writeFileSync(path.join(app, 'echo-worker.js'),
      "process.on('message', (m) => process.send({ id: m.id, result: { echo: m.data } }));\n");
    fs.writeFileSync(path.join(app, 'smoke.js'), `'use strict';
const { WorkerPool, nativeVersion } = require('forkwire');
(async () => {
  const esm = await import('forkwire');
  if (esm.WorkerPool !== WorkerPool) throw new Error('the ESM entry gives another WorkerPool');
  const pool = new WorkerPool({ script: require.resolve('./echo-worker.js'), size: 1 });
  const reply = await pool.request({ n: 21 });
  await pool.close();
  if (reply.echo.n !== 21) throw new Error('unexpected reply ' + JSON.stringify(reply));
  console.log('native ' + nativeVersion());
})().catch((e) => { console.error(e); process.exit(1); });
`);
    step('require forkwire in the app and run a pool', 'load', () => {
      const out = run(process.execPath, ['smoke.js'], { cwd: app, timeout: 30000 });
      assert(out.includes(`native ${release.version}`), `unexpected output: ${out}`);
    });

    // 4. Without its platform package, the error says what is missing and how to get it.
    step('the error when the addon is missing', 'missing addon', () => {
      const dir = path.join(app, 'node_modules', native.name);
      const aside = path.join(tmp, `${native.name}.aside`);
      fs.renameSync(dir, aside);
      try {
        const out = run(process.execPath, ['-e', "try { require('forkwire') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }"], { cwd: app });
        const { code, message } = JSON.parse(out);
        assert(code === 'ERR_FORKWIRE_NATIVE_MISSING', `code ${code}, expected ERR_FORKWIRE_NATIVE_MISSING`);
        assert(message.includes(`npm install ${native.name}@${release.version}`) && message.includes('npm run build'),
          `the message does not say how to get the addon:\n${message}`);
        assert(!/npm has a bug/.test(message), 'the message still blames npm');
      } finally {
        fs.renameSync(aside, dir);
      }
    });

    // 5. npx forkwire init: a worker project next to the app's code.
    const initOut = step('npx forkwire init my-worker', 'init', () => run('npx', ['--no', 'forkwire', 'init', 'my-worker'], { cwd: app }));
    const project = path.join(app, 'my-worker');
    for (const f of ['Cargo.toml', 'src/main.rs', 'test/worker.test.js', 'package.json', '.gitignore']) {
      assert(fs.existsSync(path.join(project, f)), `init did not write my-worker/${f}\n${initOut}`);
    }
    assert(/cd my-worker/.test(initOut) && /npm test/.test(initOut), `init printed no next steps:\n${initOut}`);
    const refused = run('npx', ['--no', 'forkwire', 'init', 'my-worker'], { cwd: app, expectStatus: 1 });
    assert(/not empty/.test(refused), `a second init into my-worker did not refuse:\n${refused}`);
    const manifest = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8'));
    assert(/^file:.*forkwire-[\d.]+\.tgz$/.test(manifest.dependencies.forkwire),
      `my-worker's package.json does not take forkwire from the tarball the app used: ${manifest.dependencies.forkwire}`);

    // 6. The project's own first run: npm install, then npm test.
    step('npm install in my-worker', 'worker install', () => run('npm', NPM_INSTALL, { cwd: project }));
    const cargoTarget = path.join(process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target'), 'install-check');
    const env = { CARGO_TARGET_DIR: cargoTarget, CI: 'true' };
    if (process.env.FORKWIRE_CHECK_ONLINE !== '1') env.CARGO_NET_OFFLINE = 'true';
    const testOut = step('npm test -- --detectOpenHandles in my-worker (cargo build --release, jest)', 'worker npm test', () =>
      run('npm', ['test', '--', '--detectOpenHandles'], { cwd: project, env, timeout: 240000 }));
    assert(/Tests:\s+\d+ passed, \d+ total/.test(testOut), `jest did not report passing tests:\n${testOut}`);
    assert(!/failed/i.test(testOut.match(/Tests:.*$/m)[0]), `jest reported failures:\n${testOut}`);
    const openHandles = /Jest has detected the following \d+ open handles?[\s\S]*/.exec(testOut);
    assert(!openHandles, `jest --detectOpenHandles reported open handles after the pool was closed:\n${openHandles && openHandles[0]}`);

    const total = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`check-install: passed in ${total} s (${timings.map(([t, ms]) => `${t} ${(ms / 1000).toFixed(1)} s`).join(', ')})`);
    if (keep) console.log(`check-install: kept ${tmp}`);
  } finally {
    if (!keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Whether a platform package (forkwire-linux-x64-gnu) is this machine's. */
function hostPlatform(name) {
  const libc = process.report && process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl';
  return name.endsWith(`-${process.platform}-${process.arch}${process.platform === 'linux' ? `-${libc}` : ''}`);
}

main().catch((err) => {
  console.error(`check-install: ${err.message}`);
  process.exitCode = 1;
});
