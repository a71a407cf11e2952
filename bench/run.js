#!/usr/bin/env node
'use strict';
// `npm run bench`: every row of the comparison in one invocation.
//
//   npm run bench                      full run (about 4 minutes on 2 cores)
//   npm run bench -- --quick           short smoke run (about 1 minute)
//   options: --rounds N  --concurrency N  --only REGEX  --no-build  --build-addon
//
// Each group of rows (one system with 1 or 2 workers, the JS floor, the
// start-up measurements) runs in its own Node process (bench/runner.js),
// created and warmed up once; the native rows run as
// target/release/examples/bench_native. Rounds are interleaved: round r of
// every group runs before round r + 1 of any, so a burst of noise on this
// shared machine lands in one round of many rows rather than in every round
// of one row, and the medians shrug it off. The markdown goes to stdout (and
// bench/results/latest.md), the JSON to bench/results/latest.json and a
// dated copy (a --quick or --only run: to latest-quick.json only);
// progress goes to stderr.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { fork, spawnSync, execFile } = require('child_process');
const paths = require('./lib/paths');
const { SYSTEMS } = require('./lib/systems');
const { SIZES, makePayloads, requestBytes } = require('./lib/payloads');
const { summarize } = require('./lib/stats');
const report = require('./lib/report');

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const opts = { quick: false, rounds: null, concurrency: 1024, only: null, build: true, buildAddon: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--rounds') opts.rounds = Number(value());
    else if (a === '--concurrency') opts.concurrency = Number(value());
    else if (a === '--only') opts.only = new RegExp(value());
    else if (a === '--no-build') opts.build = false;
    else if (a === '--build-addon') opts.buildAddon = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 8).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  if (!(Number.isInteger(opts.concurrency) && opts.concurrency >= 1)) throw new Error('--concurrency must be a positive integer');
  if (opts.rounds !== null && !(Number.isInteger(opts.rounds) && opts.rounds >= 1)) throw new Error('--rounds must be a positive integer');
  return opts;
}

/** Request counts per run and rounds per size. */
function plan(opts) {
  const p = opts.quick
    ? {
        counts: { seq: { tiny: 300, '4KB': 60, '256KB': 6 }, pipe: { tiny: 2000, '4KB': 200, '256KB': 12 } },
        rounds: { tiny: 1, '4KB': 1, '256KB': 1 },
        idleMs: 100,
        budgetSeconds: 120,
        minRounds: 1,
      }
    : {
        counts: { seq: { tiny: 2000, '4KB': 300, '256KB': 20 }, pipe: { tiny: 10000, '4KB': 1000, '256KB': 40 } },
        rounds: { tiny: 5, '4KB': 5, '256KB': 3 },
        idleMs: 300,
        // Past the first minRounds, rounds stop early (with a note) rather
        // than end the run past this many seconds from the invocation.
        budgetSeconds: 360,
        minRounds: 3,
      };
  if (opts.rounds !== null) {
    for (const s of SIZES) p.rounds[s] = Math.min(opts.rounds, s === '256KB' && !opts.quick ? Math.max(1, Math.min(3, opts.rounds)) : opts.rounds);
  }
  return p;
}

const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);
const secs = (t0) => (Date.now() - t0) / 1000;

// ---------------------------------------------------------------- build

function build(opts, warnings) {
  if (opts.buildAddon) {
    log('bench: npm run build (the addon) ...');
    const r = spawnSync('npm', ['run', 'build'], { cwd: paths.root, stdio: ['ignore', 2, 2] });
    if (r.status !== 0) warnings.push('npm run build failed; using the addon already built');
  }
  if (opts.build) {
    log('bench: cargo build --release -p forkwire --examples (seed_worker, bench_native) ...');
    const r = spawnSync('cargo', ['build', '--release', '-p', 'forkwire', '--examples'], { cwd: paths.root, stdio: ['ignore', 2, 2] });
    if (r.status !== 0) warnings.push('cargo build --release -p forkwire --examples failed; using the binaries already built (if any)');
  }
  // The addon is not rebuilt by default: say so when it looks older than its sources.
  const addon = fs.readdirSync(paths.root).filter((f) => f.endsWith('.node')).map((f) => path.join(paths.root, f))[0];
  if (addon) {
    const built = fs.statSync(addon).mtimeMs;
    const newest = newestMtime([path.join(paths.root, 'src'), path.join(paths.root, 'crates', 'forkwire', 'src')]);
    if (newest > built) {
      warnings.push(`the addon ${path.basename(addon)} is older than src/ or crates/forkwire/src/: run \`npm run build\` (or pass --build-addon) to bench the current engine`);
    }
  }
}

function newestMtime(dirs) {
  let newest = 0;
  const walk = (d) => {
    let entries;
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  dirs.forEach(walk);
  return newest;
}

// ---------------------------------------------------------------- runners

/** A forked bench/runner.js, driven one command at a time. */
class Runner {
  constructor(name, spec) {
    this.name = name;
    this.spec = spec;
    this.failed = null;
    // stdout goes to our stderr: stdout is for the table only.
    this.child = fork(path.join(__dirname, 'runner.js'), [JSON.stringify(spec)], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 2, 2, 'ipc'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  call(msg, timeoutMs) {
    if (this.failed) return Promise.reject(new Error(this.failed));
    return new Promise((resolve, reject) => {
      const done = (fn, v) => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        fn(v);
      };
      const onMessage = (m) => (m.ok ? done(resolve, m.result) : done(reject, new Error(m.error)));
      const onExit = (code, signal) => done(reject, new Error(`runner exited (code ${code}, signal ${signal})`));
      const timer = setTimeout(() => done(reject, new Error(`no answer to ${msg.cmd} within ${timeoutMs / 1000} s`)), timeoutMs);
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(msg);
    });
  }

  fail(err) {
    this.failed = `${this.name}: ${err.message.split('\n')[0]}`;
    this.kill();
  }

  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** One run of bench_native: its JSON, or throws. */
function runNative(p, payloadFile, concurrency, r) {
  const list = (kind) => SIZES.map((s) => (r < p.rounds[s] ? p.counts[kind][s] : 0)).join(',');
  return new Promise((resolve, reject) => {
    execFile(
      paths.benchNative,
      ['--seed-worker', paths.seedWorker, '--payloads', payloadFile, '--seq', list('seq'), '--pipe', list('pipe'), '--concurrency', String(concurrency)],
      { cwd: paths.root, timeout: 180000, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (stderr) process.stderr.write(stderr);
        if (err) return reject(new Error(`bench_native: ${err.message.split('\n')[0]}`));
        try {
          resolve(JSON.parse(stdout));
        } catch (e) {
          reject(new Error(`bench_native printed no JSON: ${e.message}`));
        }
      },
    );
  });
}

// ---------------------------------------------------------------- results

/** Row definitions in table order: id -> {label, worker, workers}. */
function rowDefs() {
  const rows = [{ id: 'floor', label: 'JS-thread floor: Promise + Map.set + JSON.stringify + resolve, no I/O', worker: '–', workers: '–' }];
  for (const [name, def] of Object.entries(SYSTEMS)) {
    for (const w of [1, 2]) {
      rows.push({ id: `${name}@${w}`, label: def.many ? `${def.label}.request()` : def.label, worker: def.worker, workers: w });
    }
    if (def.many) for (const w of [1, 2]) rows.push({ id: `${name}.many@${w}`, label: `${def.label}.requestMany()`, worker: def.worker, workers: w });
    if (def.batch) {
      for (const w of [1, 2]) {
        rows.push({ id: `${name}.batch@${w}`, label: `${def.label}.requestMany(items, { batchSize: ${def.batch} })`, worker: def.worker, workers: w });
      }
    }
  }
  for (const w of [1, 2]) rows.push({ id: `native-engine@${w}`, label: 'Rust parent: forkwire::pool::Pool (engine natively)', worker: 'Rust', workers: w });
  for (const w of [1, 2]) rows.push({ id: `socketpair@${w}`, label: 'Rust socketpair echo, serde_json (physical reference)', worker: 'thread', workers: w });
  rows.push({ id: 'socketpair-pinned@1', label: 'Rust socketpair echo, both threads pinned to one CPU', worker: 'thread', workers: 1 });
  return rows;
}

/** Adds one round's raw results to `samples[rowId][metric]`. */
function collect(samples, group, result) {
  const put = (row, metric, value) => {
    if (value == null) return;
    ((samples[row] ??= {})[metric] ??= []).push(value);
  };
  for (const [key, v] of Object.entries(result)) {
    const [kind, arg] = key.split('.');
    if (kind === 'seq') {
      put(group, `seq.${arg}.p50`, v.p50);
      put(group, `seq.${arg}.p99`, v.p99);
    } else if (kind === 'pipe' || kind === 'floor') {
      put(group, `pipe.${arg}`, v.rps);
      if (arg === 'tiny') put(group, 'cpu', v.cpuPer100k);
    } else if (kind === 'many' || kind === 'batch') {
      const row = group.replace('@', `.${kind}@`);
      put(row, `pipe.${arg}`, v.rps);
      put(row, `many.${arg}`, v.rps);
      if (arg === 'tiny') put(row, 'cpu', v.cpuPer100k);
    } else if (kind === 'startup') {
      put(`${arg}@1`, 'startup.ms', v.ms);
      put(`${arg}@1`, 'startup.rssKiB', v.rssKiB);
    }
  }
}

function collectNative(samples, out) {
  const put = (row, metric, value) => {
    if (value == null) return;
    ((samples[row] ??= {})[metric] ??= []).push(value);
  };
  for (const [src, row] of [['socketpair', 'socketpair'], ['engine', 'native-engine']]) {
    for (const [s, v] of Object.entries(out[src].sequential || {})) {
      put(`${row}@1`, `seq.${s}.p50`, v.p50);
      put(`${row}@1`, `seq.${s}.p99`, v.p99);
    }
    for (const w of [1, 2]) for (const [s, v] of Object.entries(out[src][`pipelined${w}`] || {})) put(`${row}@${w}`, `pipe.${s}`, v);
  }
  for (const [s, v] of Object.entries(out.socketpair.sequential_pinned || {})) {
    put('socketpair-pinned@1', `seq.${s}.p50`, v.p50);
    put('socketpair-pinned@1', `seq.${s}.p99`, v.p99);
  }
}

function nativeVersion() {
  try {
    return require(paths.root).nativeVersion();
  } catch (e) {
    return `unavailable (${e.message.split('\n')[0]})`;
  }
}

function stamp(d) {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

// ---------------------------------------------------------------- main

async function main() {
  const invoked = Date.now();
  const opts = parseArgs(process.argv.slice(2));
  const p = plan(opts);
  // errors: something did not run (exit code 1); warnings: it ran, read with care.
  const errors = [];
  const warnings = [];
  build(opts, warnings);
  for (const w of warnings) log(`bench: warning: ${w}`);
  const buildSeconds = secs(invoked);

  const payloads = makePayloads();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forkwire-bench-'));
  const payloadFile = path.join(tmp, 'payloads.json');
  fs.writeFileSync(payloadFile, JSON.stringify({ '4KB': payloads['4KB'](), '256KB': payloads['256KB']() }));

  // The groups: one runner each.
  const base = { concurrency: opts.concurrency, counts: p.counts, rounds: p.rounds };
  const specs = [['floor', { ...base, kind: 'floor' }]];
  for (const name of Object.keys(SYSTEMS)) for (const w of [1, 2]) specs.push([`${name}@${w}`, { ...base, kind: 'system', system: name, workers: w }]);
  specs.push(['startup', { ...base, kind: 'startup', idleMs: p.idleMs, systems: ['forkwire-rust', 'forkwire-node', 'fork-json', 'workerpool', 'tinypool', 'jest-worker'] }]);
  const selected = specs.filter(([name]) => !opts.only || opts.only.test(name));
  const native = (!opts.only || opts.only.test('native')) && fs.existsSync(paths.benchNative) && fs.existsSync(paths.seedWorker);
  if (!fs.existsSync(paths.seedWorker)) errors.push(`${paths.seedWorker} is missing (npm run build:workers): forkwire Rust rows skipped`);
  if (!fs.existsSync(paths.benchNative)) errors.push(`${paths.benchNative} is missing: native rows skipped`);

  // Start and warm up every group, one at a time.
  const runners = [];
  for (const [name, spec] of selected) {
    if (spec.system === 'forkwire-rust' && !fs.existsSync(paths.seedWorker)) continue;
    const t0 = Date.now();
    const runner = new Runner(name, spec);
    try {
      await runner.call({ cmd: 'setup' }, 120000);
      log(`bench: ${name}: started and warmed up (${secs(t0).toFixed(1)} s)`);
    } catch (err) {
      runner.fail(err);
      errors.push(`${name}: setup failed: ${err.message.split('\n').slice(0, 3).join(' / ')}`);
      log(`bench: ${name}: setup FAILED: ${err.message}`);
    }
    runners.push(runner);
  }

  // Rounds, interleaved across groups, the order rotated each round.
  const samples = {};
  const maxRounds = Math.max(...SIZES.map((s) => p.rounds[s]));
  const roundsStarted = Date.now();
  let roundsDone = 0;
  for (let r = 0; r < maxRounds; r++) {
    const elapsed = secs(invoked);
    const perRound = roundsDone ? secs(roundsStarted) / roundsDone : 0;
    // What a round costs without the 256 KB size (about 40 %) is a guess; the
    // 15 s cover closing the pools and writing the results.
    const next = perRound * (r < p.rounds['256KB'] ? 1 : 0.45);
    if (r >= p.minRounds && elapsed + next + 15 > p.budgetSeconds) {
      warnings.push(`stopped after ${r} rounds to end within ${p.budgetSeconds} s (the build took ${buildSeconds.toFixed(0)} s)`);
      break;
    }
    const t0 = Date.now();
    const jobs = [...runners.filter((x) => !x.failed).map((x) => ['runner', x]), ...(native ? [['native', null]] : [])];
    const order = jobs.map((_, i) => jobs[(i + r) % jobs.length]);
    const took = [];
    for (const [kind, runner] of order) {
      const tj = Date.now();
      try {
        if (kind === 'native') collectNative(samples, await runNative(p, payloadFile, opts.concurrency, r));
        else collect(samples, runner.name, await runner.call({ cmd: 'round', r }, 180000));
      } catch (err) {
        const name = kind === 'native' ? 'bench_native' : runner.name;
        errors.push(`${name}: round ${r + 1} failed: ${err.message.split('\n').slice(0, 3).join(' / ')}`);
        log(`bench: ${name}: round ${r + 1} FAILED: ${err.message}`);
        if (runner) runner.fail(err);
      }
      took.push(`${kind === 'native' ? 'native' : runner.name} ${secs(tj).toFixed(1)}`);
    }
    roundsDone++;
    log(`bench: round ${r + 1}/${maxRounds} done in ${secs(t0).toFixed(1)} s (${secs(invoked).toFixed(0)} s so far): ${took.join(', ')}`);
  }

  // Close every pool; each runner must then exit on its own.
  for (const runner of runners) {
    if (runner.failed) continue;
    try {
      const { active } = await runner.call({ cmd: 'close' }, 20000);
      const left = active.filter((a) => a !== 'PipeWrap' && a !== 'TTYWrap');
      if (left.length) log(`bench: ${runner.name}: after close() still active: ${left.join(', ')}`);
    } catch (err) {
      errors.push(`${runner.name}: close failed: ${err.message.split('\n')[0]}`);
    }
    const exit = await Promise.race([runner.exited, new Promise((r) => setTimeout(() => r(null), 10000).unref())]);
    if (exit === null) {
      errors.push(`${runner.name}: the runner did not exit on its own within 10 s of close() (killed)`);
      runner.kill();
    }
  }
  for (const runner of runners) runner.kill();
  fs.rmSync(tmp, { recursive: true, force: true });

  // Summaries, tables, targets.
  const rows = rowDefs()
    .map((def) => ({ ...def, metrics: Object.fromEntries(Object.entries(samples[def.id] || {}).map(([k, v]) => [k, summarize(v)])) }))
    .filter((r) => Object.keys(r.metrics).length > 0);
  const date = new Date();
  const meta = {
    date: date.toISOString(),
    quick: opts.quick,
    node: process.version,
    platform: `${os.platform()} ${os.arch()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: (os.cpus()[0] || {}).model || 'unknown',
    loadavg: os.loadavg(),
    nativeVersion: nativeVersion(),
    concurrency: opts.concurrency,
    counts: p.counts,
    rounds: Object.fromEntries(SIZES.map((s) => [s, Math.min(p.rounds[s], roundsDone)])),
    requestBytes: Object.fromEntries(SIZES.map((s) => [s, requestBytes(payloads, s)])),
    versions: Object.fromEntries(['workerpool', 'tinypool', 'jest-worker'].map((n) => [n, require(`${n}/package.json`).version])),
    buildSeconds,
    totalSeconds: secs(invoked),
  };
  const targets = report.targets(rows, meta);
  const markdown = [
    report.render({ meta, rows }),
    '',
    report.renderTargets(targets),
    '',
    `Request sizes (the JSON of \`{id, data}\`): ${SIZES.map((s) => `${s} ${meta.requestBytes[s]} B`).join(', ')}. Baselines: workerpool ${meta.versions.workerpool}, tinypool ${meta.versions.tinypool}, jest-worker ${meta.versions['jest-worker']}.`,
    ...(errors.length || warnings.length
      ? ['', '### Problems in this run', '', ...errors.map((e) => `- error: ${e}`), ...warnings.map((w) => `- warning: ${w}`)]
      : []),
    '',
  ].join('\n');

  meta.totalSeconds = secs(invoked);
  const json = { meta, rows, targets, errors, warnings, samples };
  fs.mkdirSync(paths.results, { recursive: true });
  // A quick or partial run (--quick, --only) is not a record: it goes to
  // latest-quick.json (ignored by git), never over the full run's files.
  const partial = opts.quick || opts.only !== null;
  if (partial) {
    fs.writeFileSync(path.join(paths.results, 'latest-quick.json'), JSON.stringify(json, null, 2) + '\n');
  } else {
    fs.writeFileSync(path.join(paths.results, 'latest.json'), JSON.stringify(json, null, 2) + '\n');
    fs.writeFileSync(path.join(paths.results, `${stamp(date)}.json`), JSON.stringify(json, null, 2) + '\n');
    fs.writeFileSync(path.join(paths.results, 'latest.md'), markdown);
  }
  process.stdout.write(markdown);
  log(`bench: done in ${secs(invoked).toFixed(0)} s (build ${buildSeconds.toFixed(0)} s); results in ${path.relative(process.cwd(), paths.results)}/${partial ? 'latest-quick.json' : 'latest.json'}`);
  if (errors.length) process.exitCode = 1;
}

main().catch((err) => {
  log(`bench: ${err.stack || err}`);
  process.exitCode = 1;
});
