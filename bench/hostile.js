#!/usr/bin/env node
'use strict';
// What hostile workers do to a forkwire parent (issue 11), one attack per
// row: each attack runs in a fresh `node` process (the "parent"), so a
// crash or a hang of the parent is contained and reported; a watchdog
// kills a parent that has not finished in time, with its whole process
// group (its workers and anything they started).
//
//   node bench/hostile.js [--root DIR] [--only REGEX] [--watchdog MS] [--cap-mib N] [--json FILE]
//
// --root      the package to test (default: this repository): index.js is
//             required from there, and the Rust seed worker is
//             DIR/target/release/examples/seed_worker.
// --only      run the attacks whose name matches.
// --watchdog  per attack, default 30000 ms.
// --cap-mib   a parent whose RSS passes this is killed (default 5120), so
//             that an unbounded attack cannot take the machine down.
// --json      also write the raw results there.
//
// The table goes to stdout (markdown), progress to stderr. Columns:
// outcome; parent RSS growth (peak, sampled every 20 ms off the JS thread
// and the kernel's VmHWM, minus the RSS just before the attack); time from
// the attack until every request of the attack settled; how the attacking
// request(s) settled; whether a healthy worker of the same pool still
// answered (within 3 s); close({timeout: 2000}) time; threads and open
// descriptors of the parent before the pool was made and after close().
//
// The hostile workers are __test__/fixtures/hostile/worker.js (see there).
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..');
const FIXTURES = path.join(REPO, '__test__', 'fixtures', 'hostile');
const WORKER = path.join(FIXTURES, 'worker.js');
const MiB = 1 << 20;

const SETTLE_LIMIT = 12000;
const HEALTHY_LIMIT = 3000;
const CLOSE_TIMEOUT = 2000;
const CLOSE_LIMIT = 8000;

function args(argv) {
  const out = { root: REPO, only: null, watchdog: 30000, capMib: 5120, json: null, child: null };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--root') out.root = path.resolve(next());
    else if (a === '--only') out.only = new RegExp(next());
    else if (a === '--watchdog') out.watchdog = Number(next());
    else if (a === '--cap-mib') out.capMib = Number(next());
    else if (a === '--json') out.json = next();
    else if (a === '--child') out.child = next();
    else throw new Error(`unknown argument ${a}`);
  }
  return out;
}

const range = (n) => Array.from({ length: n }, (_, i) => i);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function busyWait(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

// ---------------------------------------------------------------------------
// The attacks. Each: the pool it runs against (`mode`, `size`, `options`,
// or `pool(ctx)` for a different command), which workers attack with what
// (`attackers`, `data`, `attackTimeout`), what else is asked meanwhile
// (`extra`), how long the JS thread is kept busy right after (`busy`),
// and which worker must stay healthy (`healthy`).
// ---------------------------------------------------------------------------

const scenarios = [
  {
    name: 'bomb-version',
    issue: 'a',
    what: 'advanced: {id, version: 40-level [x,x] bomb, result} (~300 B)',
    mode: 'advanced',
    options: { protocolVersion: '1.0' },
  },
  {
    name: 'bomb-result',
    issue: 'a',
    what: 'advanced: {id, result: 40-level [x,x] bomb}',
    mode: 'advanced',
  },
  {
    name: 'bomb-error',
    issue: 'a',
    what: 'advanced: {id, error: 40-level [x,x] bomb}',
    mode: 'advanced',
  },
  {
    name: 'bomb-event',
    issue: 'a',
    what: "advanced: an event {type: 'bomb', x: 40-level [x,x] bomb}, then the reply",
    mode: 'advanced',
  },
  {
    name: 'sparse-result',
    issue: 'a',
    what: 'advanced: {id, result: sparse array of length 2^32-1}',
    mode: 'advanced',
  },
  {
    name: 'huge-header',
    issue: 'b',
    what: 'advanced: a 4-byte header announcing 256 MiB, from 2 of 3 workers',
    mode: 'advanced',
    size: 3,
    attackers: [0, 1],
    attackTimeout: 2000,
  },
  {
    name: 'bad-regexp',
    issue: 'c',
    what: 'advanced: a reply with RegExp /(/ and a good reply in the same write',
    mode: 'advanced',
    options: { concurrency: 2 },
    // The good reply that travels with the bad one.
    extra: (pool, t) => [t.track(pool.request({ partner: 1 }, { workerId: 0 }), 'partner', { partner: 1 })],
  },
  {
    name: 'node-line',
    issue: 'd',
    what: 'json: one 20 MB line ["NODE_",0,0,...]',
    mode: 'json',
    data: { mib: 20 },
  },
  {
    name: 'bad-lines',
    issue: 'e',
    what: 'json: 40 MB of "x\\n" while the JS thread is busy 3 s',
    mode: 'json',
    data: { mib: 40 },
    busy: 3000,
  },
  {
    name: 'infinity-timeout',
    issue: 'f',
    what: 'json, {timeout: Infinity, maxProtocolErrors: 3}: 5 bad lines, then more requests',
    mode: 'json',
    attack: 'few-bad-lines',
    options: { timeout: Infinity, maxProtocolErrors: 3 },
    followAfterAttack: 300,
  },
  {
    name: 'grandchild',
    issue: 'g',
    what: "json: worker is sh -c 'sleep 300 & exec node worker.js'; worker 0 SIGKILLed",
    mode: 'json',
    options: { restart: false },
    pool: (ctx) => ({
      command: '/bin/sh',
      args: ['-c', `sleep ${ctx.sleepTag} & exec "$0" "$@"`, process.execPath, WORKER, 'none', 'json'],
    }),
    // The request in flight on worker 0 when it is killed.
    attackRequest: (pool, t) => t.track(pool.request({ sleep: 10000 }, { workerId: 0 }), 'attack'),
    afterAttack: async (pool, ctx) => {
      await sleep(200);
      const pids = pool.stats().workers.map((w) => w.pid);
      ctx.grandchildren = pids.flatMap((pid) => (pid ? ctx.measure.childPids(pid) : []));
      process.kill(pids[0], 'SIGKILL');
    },
    cleanup: (ctx) => {
      for (const pid of ctx.grandchildren ?? []) ctx.measure.kill(pid);
    },
  },
  {
    name: 'handle-to-seed',
    issue: 'h',
    what: 'json: request(data, {handle: server}) and send(0, msg, server) to the Rust seed_worker',
    mode: 'json',
    rust: true,
    attackRequest: (pool, t, ctx) => t.track(pool.request({ n: 2 }, { workerId: 0, handle: ctx.server }), 'attack', 4),
    before: async (ctx) => {
      const net = require('net');
      ctx.server = net.createServer();
      await new Promise((resolve) => ctx.server.listen(0, '127.0.0.1', resolve));
    },
    afterAttack: async (pool, ctx) => {
      ctx.sent = pool.send(0, { type: 'notification' }, ctx.server);
    },
    cleanup: async (ctx) => {
      await new Promise((resolve) => ctx.server.close(resolve));
    },
  },
  {
    name: 'half-json',
    issue: 'i',
    what: 'json: \'{"id":N,"res\' then exit(3)',
    mode: 'json',
  },
  {
    name: 'half-header',
    issue: 'i',
    what: 'advanced: 2 bytes of a length prefix, then exit(3)',
    mode: 'advanced',
  },
  {
    name: 'header-only',
    issue: 'i',
    what: 'advanced: a length prefix (64), no payload, then exit(3)',
    mode: 'advanced',
  },
  {
    name: 'half-payload',
    issue: 'i',
    what: 'advanced: a length prefix (64) and 20 payload bytes, then exit(3)',
    mode: 'advanced',
  },
  {
    name: 'exit-mid-frame',
    issue: 'i',
    what: 'json: half of a 2 MiB reply, then SIGKILL, 3 more requests in flight on it',
    mode: 'json',
    options: { concurrency: 4 },
    extra: (pool, t) => range(3).map(() => t.track(pool.request({ sleep: 5000 }, { workerId: 0 }), 'in flight')),
  },
  {
    name: 'flood',
    issue: 'i',
    what: 'json: 1 KB events as fast as the channel takes them for 3 s, JS thread busy 3 s',
    mode: 'json',
    data: { ms: 3000 },
    busy: 3000,
  },
  {
    name: 'never-read',
    issue: 'i',
    what: 'json: worker stops reading; 40 x 256 KB requests and 20 x 256 KB sends to it',
    mode: 'json',
    options: { concurrency: 64 },
    attackTimeout: 1500,
    extra: (pool, t) => {
      const big = 'z'.repeat(256 * 1024);
      const out = range(40).map(() => t.track(pool.request({ big }, { workerId: 0, timeout: 1500 }), 'to the stuck worker'));
      for (let i = 0; i < 20; i++) pool.send(0, { type: 'note', big });
      return out;
    },
  },
  {
    name: 'fd-flood',
    issue: 'i',
    what: 'json: worker sends a net.Server with 200 events (process.send(msg, server))',
    mode: 'json',
    data: { count: 200 },
    attackTimeout: 8000,
  },
];

// ---------------------------------------------------------------------------
// The parent: one attack, in this process.
// ---------------------------------------------------------------------------

function emit(t, fields) {
  fs.writeSync(1, `@hostile ${JSON.stringify({ t, ...fields })}\n`);
}

class Tracker {
  items = [];
  lastSettledAt = 0;

  constructor(t0) {
    this.t0 = t0;
  }

  /** Follows `promise`; `expected` (optional) is the value a correct answer has. */
  track(promise, label, expected) {
    const item = { label, state: 'pending', code: undefined, wrong: false, value: undefined };
    this.items.push(item);
    promise.then(
      (value) => {
        item.state = 'resolved';
        item.value = value;
        if (expected !== undefined && JSON.stringify(value) !== JSON.stringify(expected)) item.wrong = true;
        this.lastSettledAt = performance.now();
      },
      (err) => {
        item.state = 'rejected';
        item.code = err?.code ?? err?.name ?? String(err);
        this.lastSettledAt = performance.now();
      },
    );
    return promise;
  }

  pending() {
    return this.items.filter((i) => i.state === 'pending').length;
  }

  describe(label) {
    const counts = new Map();
    for (const i of this.items.filter((x) => x.label === label)) {
      const key = i.state === 'rejected' ? i.code : i.state === 'resolved' && i.wrong ? 'resolved WRONG' : i.state;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].map(([k, n]) => (n > 1 ? `${n}x ${k}` : k)).join(', ');
  }
}

async function within(promise, ms) {
  let timer;
  const limit = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), ms);
  });
  try {
    return await Promise.race([promise.then((value) => ({ value }), (error) => ({ error })), limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function settleCounts(measure, before, limit = 2000) {
  const end = Date.now() + limit;
  let now;
  for (;;) {
    now = { threads: measure.threadCount(), fds: measure.fdCount(), engineThreads: measure.engineThreads() };
    if ((now.threads <= before.threads && now.fds <= before.fds) || Date.now() > end) return now;
    await sleep(50);
  }
}

/** `sent` from the attacking request's answer ({sent}), if it has one. */
function sentBy(t) {
  const value = t.items.find((i) => i.label === 'attack')?.value;
  return value !== null && typeof value === 'object' && typeof value.sent === 'number' ? value.sent : undefined;
}

async function runChild(opts) {
  const sc = scenarios.find((s) => s.name === opts.child);
  const measure = require(path.join(FIXTURES, 'measure.js'));
  const { WorkerPool } = require(path.join(opts.root, 'index.js'));
  const stage = (name) => emit('stage', { stage: name });
  const sampler = measure.startSampler({ every: 20, report: 200, capKiB: opts.capMib * 1024, label: `hostile ${sc.name}: ` });
  await sampler.started();
  const mode = sc.mode;
  const ctx = { measure, sleepTag: `299.${process.pid}` };
  const seed = path.join(opts.root, 'target', 'release', 'examples', 'seed_worker');
  const poolOptions = (attack) => ({
    ...(sc.rust ? { command: seed } : sc.pool ? sc.pool(ctx) : { script: WORKER, args: [attack, mode] }),
    serialization: mode,
    size: sc.size ?? 2,
    timeout: 5000,
    ...sc.options,
  });

  // Warm up what a pool starts once per process (addon, libuv, ...).
  stage('warm-up');
  {
    const warm = new WorkerPool({ script: WORKER, args: ['none', mode], serialization: mode, size: 1 });
    await warm.request('warm');
    await warm.close();
    await fs.promises.stat(__filename);
  }
  if (sc.before) await sc.before(ctx);
  await sleep(100);
  const before = { threads: measure.threadCount(), fds: measure.fdCount(), engineThreads: measure.engineThreads() };

  stage('pool');
  let pool;
  try {
    pool = new WorkerPool(poolOptions(sc.attack ?? sc.name));
  } catch (err) {
    emit('result', { refused: `${err.name} ${err.code ?? ''} ${err.message}`.trim(), before });
    return;
  }
  const events = { protocolError: 0, message: 0, error: [], flood: 0, fd: 0, exit: 0 };
  pool.on('protocolError', () => events.protocolError++);
  pool.on('message', (msg) => {
    events.message++;
    if (msg?.type === 'flood') events.flood++;
    if (msg?.type === 'fd') events.fd++;
  });
  pool.on('error', (err) => events.error.push(err.code ?? err.message));
  pool.on('exit', () => events.exit++);
  await pool.ready();
  const size = pool.size;
  // Every worker up and answering.
  const up = await within(Promise.all(range(size).map((w) => pool.request(sc.rust ? { n: w } : `up ${w}`, { workerId: w }))), 10000);
  if (!up.value) {
    emit('result', { refused: `the workers did not start: ${up.error?.message ?? 'timeout'}`, before });
    return;
  }

  stage('attack');
  const baseKiB = sampler.reset();
  emit('base', { baseKiB });
  const t0 = performance.now();
  const t = new Tracker(t0);
  const attackers = sc.attackers ?? [0];
  const healthy = sc.healthy ?? size - 1;
  if (sc.attackRequest) {
    sc.attackRequest(pool, t, ctx);
  } else {
    for (const workerId of attackers) {
      const options = { workerId, type: 'attack' };
      if (sc.attackTimeout !== undefined) options.timeout = sc.attackTimeout;
      t.track(pool.request(sc.data ?? null, options), 'attack');
    }
  }
  if (sc.extra) sc.extra(pool, t, ctx);
  if (sc.busy) busyWait(sc.busy);
  if (sc.afterAttack) await sc.afterAttack(pool, ctx);
  const follow = async () => {
    // Requests to any worker, after (or during) the attack.
    const data = (i) => (sc.rust ? { n: i } : { follow: i });
    const expected = (i) => (sc.rust ? i * 2 : { follow: i });
    for (const i of range(8)) t.track(pool.request(data(i)), 'follow', expected(i));
  };
  if (sc.followAfterAttack !== undefined) {
    const first = t.items.filter((i) => i.label === 'attack');
    const end = Date.now() + 5000;
    while (first.some((i) => i.state === 'pending') && Date.now() < end) await sleep(10);
    await sleep(sc.followAfterAttack);
  }
  follow();
  stage('settle');
  const settleEnd = Date.now() + SETTLE_LIMIT;
  let told = 0;
  while (t.pending() > 0 && Date.now() < settleEnd) {
    if (Date.now() - told >= 100) {
      told = Date.now();
      emit('partial', { tracked: t.items.length, unsettled: t.pending(), settleMs: null, attack: t.describe('attack'), waiting: true });
    }
    await sleep(10);
  }
  const unsettled = t.pending();
  const settleMs = unsettled > 0 ? null : t.lastSettledAt - t0;
  // What is known so far, in case this process dies or hangs later.
  emit('partial', { tracked: t.items.length, unsettled, settleMs, attack: t.describe('attack'), waiting: false });
  if (sc.name === 'flood') {
    // Nothing dropped: every event the worker sent arrives.
    ctx.floodSent = t.items.find((i) => i.label === 'attack')?.value?.sent;
    const end = Date.now() + 8000;
    while (events.flood < (ctx.floodSent ?? 0) && Date.now() < end) await sleep(10);
  }

  stage('healthy');
  const h0 = performance.now();
  const probe = sc.rust ? { n: 21 } : { ping: 1 };
  const answer = await within(pool.request(probe, { workerId: healthy, timeout: HEALTHY_LIMIT }), HEALTHY_LIMIT + 500);
  const healthyOk = answer.value !== undefined && JSON.stringify(answer.value) === JSON.stringify(sc.rust ? 42 : probe);
  const healthyMs = performance.now() - h0;
  const healthyError = healthyOk ? undefined : answer.timedOut ? 'no answer' : answer.error?.code ?? answer.error?.message ?? JSON.stringify(answer.value);
  emit('partial', { healthy: healthyOk, healthyMs, healthyError });

  stage('close');
  const c0 = performance.now();
  const closed = await within(pool.close({ timeout: CLOSE_TIMEOUT }), CLOSE_LIMIT);
  const closeMs = closed.timedOut ? null : performance.now() - c0;
  stage('counts');
  const after = await settleCounts(measure, before);
  // After the counts: killing a grandchild first would hide a thread still waiting on it.
  if (sc.cleanup) await sc.cleanup(ctx);
  const peakKiB = sampler.peakKiB();
  const attackResult = t.describe('attack');
  const others = [...new Set(t.items.map((i) => i.label))].filter((l) => l !== 'attack' && l !== 'follow');
  emit('result', {
    baseKiB,
    peakKiB,
    growthKiB: peakKiB - baseKiB,
    tracked: t.items.length,
    unsettled,
    wrong: t.items.filter((i) => i.wrong).length,
    settleMs,
    attack: attackResult,
    others: others.map((l) => `${l}: ${t.describe(l)}`),
    follow: t.describe('follow'),
    healthy: healthyOk,
    healthyMs,
    healthyError,
    closeMs,
    before,
    after,
    events: { ...events, floodSent: ctx.floodSent },
    attackSent: sentBy(t),
    sent: ctx.sent,
  });
}

// ---------------------------------------------------------------------------
// The supervisor: one child per attack, a table.
// ---------------------------------------------------------------------------

function pgroupMembers(pgid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

function runOne(opts, sc) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [__filename, '--child', sc.name, '--root', opts.root, '--cap-mib', String(opts.capMib)], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env },
    });
    const rec = { name: sc.name, stage: 'start', samples: null, result: null, cap: null, stderr: [], watchdog: false, exit: null };
    let buf = '';
    child.stdout.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('@hostile ')) continue;
        let msg;
        try {
          msg = JSON.parse(line.slice(9));
        } catch {
          continue;
        }
        if (msg.t === 'sample') rec.samples = msg;
        else if (msg.t === 'stage') {
          rec.stage = msg.stage;
          if (msg.stage === 'attack') rec.attackAt = Date.now();
        } else if (msg.t === 'result') rec.result = msg;
        else if (msg.t === 'partial') rec.partial = { ...rec.partial, ...msg };
        else if (msg.t === 'cap') rec.cap = msg;
        else if (msg.t === 'base') rec.base = msg;
      }
    });
    let errBuf = '';
    child.stderr.on('data', (chunk) => {
      errBuf += chunk;
      if (errBuf.length > 64 * 1024) errBuf = errBuf.slice(-32 * 1024);
    });
    const pgid = child.pid;
    const killGroup = () => {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone
      }
    };
    const timer = setTimeout(() => {
      rec.watchdog = true;
      rec.left = pgroupMembers(pgid).length - 1;
      killGroup();
    }, opts.watchdog);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      rec.exit = { code, signal };
      rec.ms = Date.now() - started;
      // Whatever the attack left running in the group (workers, grandchildren).
      setTimeout(() => {
        if (rec.left === undefined) rec.left = pgroupMembers(pgid).length;
        killGroup();
        rec.stderr = errBuf.split('\n').filter((l) => l.trim()).slice(-12);
        resolve(rec);
      }, 200);
    });
  });
}

const fmtMiB = (kib) => (kib === undefined || kib === null ? '?' : `${(kib / 1024).toFixed(kib < 10 * 1024 ? 1 : 0)} MiB`);
const fmtMs = (ms) => (ms === null || ms === undefined ? '–' : ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`);

function firstError(lines) {
  const l = lines.find((x) => /Error|panicked|fatal|Abort|thread '/.test(x));
  return (l ?? lines[0] ?? '').trim().slice(0, 100);
}

function row(sc, rec) {
  const r = rec.result;
  const problems = [];
  let outcome;
  if (rec.cap) {
    outcome = `parent killed at the RSS cap (${fmtMiB(rec.cap.rssKiB)}) in ${rec.stage}`;
  } else if (!r && rec.watchdog) {
    outcome = `hung (in ${rec.stage}; killed after ${Math.round(rec.ms / 1000)} s)`;
  } else if (!r) {
    const how = rec.exit.signal ? rec.exit.signal : `exit code ${rec.exit.code}`;
    const why = firstError(rec.stderr);
    outcome = `parent crashed (${how}) in ${rec.stage}${why ? `: ${why.replace(/\|/g, '\\|')}` : ''}`;
  } else if (r.refused) {
    outcome = `pool refused: ${r.refused}`;
  } else {
    if (r.unsettled > 0) problems.push(`${r.unsettled}/${r.tracked} requests never settled`);
    if (r.wrong > 0) problems.push(`${r.wrong} wrong results`);
    if (!r.healthy) problems.push('healthy worker did not answer');
    if (r.closeMs === null) problems.push(`close() did not return in ${CLOSE_LIMIT / 1000} s`);
    else if (r.closeMs > CLOSE_TIMEOUT + 2000) problems.push('close() slow');
    if (rec.watchdog) problems.push('process did not exit (killed)');
    else if (rec.exit.code !== 0 || rec.exit.signal) problems.push(`process exit ${rec.exit.signal ?? rec.exit.code}`);
    if (sc.name === 'handle-to-seed' && r.attack !== 'resolved') problems.push('message with the handle not delivered');
    if (sc.name === 'flood' && r.events.flood < (r.events.floodSent ?? 0)) problems.push('events dropped');
    if (sc.name === 'fd-flood' && r.events.fd < (r.attackSent ?? 0)) problems.push(`events with a handle dropped (${r.events.fd}/${r.attackSent} delivered)`);
    outcome = problems.length ? problems.join('; ') : 'ok';
  }
  let growthText;
  if (r && !r.refused) growthText = fmtMiB(r.growthKiB);
  else if (rec.samples && rec.base) growthText = `≥ ${fmtMiB(Math.max(0, Math.max(rec.samples.peakKiB, rec.cap?.rssKiB ?? 0) - rec.base.baseKiB))}`;
  else growthText = '?';
  const notes = [];
  if (r && !r.refused) {
    for (const o of r.others) notes.push(o);
    if (r.follow) notes.push(`other requests: ${r.follow}`);
    if (r.events.protocolError) notes.push(`protocolError x${r.events.protocolError}`);
    if (r.events.error.length) notes.push(`error: ${[...new Set(r.events.error)].join(', ')} x${r.events.error.length}`);
    if (sc.name === 'flood') notes.push(`events delivered: ${r.events.flood}/${r.events.floodSent ?? '?'}`);
    if (sc.name === 'fd-flood') notes.push(`events with a handle delivered: ${r.events.fd}/${r.attackSent ?? '?'}`);
    if (rec.left > 0) notes.push(`${rec.left} processes left running`);
  } else if (rec.left > 0) notes.push(`${rec.left} processes left running`);
  // Columns known from the result, or from what the parent told before it died or hung.
  const k = r && !r.refused ? r : rec.partial ?? {};
  const cells = [
    `${sc.name} (${sc.issue})`,
    outcome,
    growthText,
    k.tracked === undefined
      ? '–'
      : k.waiting
        ? `${k.unsettled} of ${k.tracked} still pending when the parent ${rec.watchdog ? "hung" : "died"}`
        : k.settleMs === null
          ? `never (${k.unsettled} of ${k.tracked} pending after ${SETTLE_LIMIT / 1000} s)`
          : fmtMs(k.settleMs),
    k.attack || '–',
    k.healthy === undefined ? '–' : k.healthy ? `yes (${fmtMs(k.healthyMs)})` : `no (${k.healthyError})`,
    r && !r.refused ? (r.closeMs === null ? `never (> ${CLOSE_LIMIT / 1000} s)` : fmtMs(r.closeMs)) : rec.stage === 'close' ? 'never (hung in it)' : '–',
    r?.before && r.after ? `${r.before.threads} → ${r.after.threads}` : '–',
    r?.before && r.after ? `${r.before.fds} → ${r.after.fds}` : '–',
    notes.join('; ') || '',
  ];
  return `| ${cells.map((c) => String(c).replace(/\n/g, ' ')).join(' | ')} |`;
}

async function main() {
  const opts = args(process.argv);
  if (opts.child) {
    await runChild(opts);
    process.exit(0);
  }
  const list = scenarios.filter((s) => !opts.only || opts.only.test(s.name));
  const seed = path.join(opts.root, 'target', 'release', 'examples', 'seed_worker');
  if (!fs.existsSync(path.join(opts.root, 'index.js'))) throw new Error(`${opts.root}/index.js is missing`);
  if (!fs.existsSync(seed)) process.stderr.write(`warning: ${seed} is missing: handle-to-seed will fail\n`);
  const records = [];
  const lines = [];
  lines.push(`Hostile workers against ${opts.root} (node ${process.version}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; one parent process per attack, watchdog ${opts.watchdog / 1000} s, RSS cap ${opts.capMib} MiB)`);
  lines.push('');
  lines.push('| attack (issue) | outcome | parent RSS growth | attack → all settled | attacking request | healthy worker | close() | threads | fds | notes |');
  lines.push('| --- | --- | ---: | ---: | --- | --- | ---: | --- | --- | --- |');
  for (const sc of list) {
    process.stderr.write(`${sc.name}: ${sc.what} ... `);
    const rec = await runOne(opts, sc);
    records.push({ scenario: sc.name, what: sc.what, ...rec });
    const line = row(sc, rec);
    process.stderr.write(`${line.split(' | ')[1]}\n`);
    lines.push(line);
  }
  lines.push('');
  lines.push('Attacks:');
  lines.push('');
  for (const sc of list) lines.push(`- \`${sc.name}\` (${sc.issue}): ${sc.what}`);
  lines.push('');
  lines.push(`Requests: the attacking request(s), then 8 requests to any worker; "attack → all settled" is the time until the last of them settled (pool timeout 5000 ms unless the attack sets another), "never" if some were pending after ${SETTLE_LIMIT / 1000} s. Healthy worker: a request pinned to a worker that does not attack, after that. close(): close({timeout: ${CLOSE_TIMEOUT}}), given up after ${CLOSE_LIMIT / 1000} s. Threads/fds: before the pool was made → after close() (polled up to 2 s). RSS growth: peak during the attack minus RSS just before it.`);
  process.stdout.write(lines.join('\n') + '\n');
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(records, null, 2));
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
