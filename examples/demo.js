'use strict';
// forkwire demo (`npm run demo`): a Node app drives a pool of Rust workers
// (crates/forkwire/examples/seed_worker.rs) through every pattern of the
// seed's IPC guide, one line per pattern: what was sent, what came back,
// counts and timing. It ends with the pool's stats and a clean close.
const path = require('path');
const { on, once } = require('events');
const { WorkerPool, WorkerError } = require('..'); // in your app: require('forkwire')

const worker = path.join(__dirname, '..', 'target', 'release', 'examples', 'seed_worker');
const SIZE = 4;

const range = (n) => Array.from({ length: n }, (_, i) => i);
const show = (value) => JSON.stringify(value);
const describeError = (err) =>
  err instanceof WorkerError ? `WorkerError ${show(err.message)}` : `${err.code ?? err.name}`;

let step = 0;
/** Runs one pattern and prints its line; a failure is printed, not thrown. */
async function pattern(name, run) {
  step++;
  const t0 = process.hrtime.bigint();
  let line;
  try {
    line = await run();
  } catch (err) {
    line = `FAILED: ${err.stack ?? err}`;
    process.exitCode = 1;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`${String(step).padStart(2)}  ${name.padEnd(17)} ${line}  (${ms.toFixed(ms < 10 ? 1 : 0)} ms)`);
}

/** Collects `count` 'message' events matching `filter` (2 s at most). */
async function messages(pool, count, filter, send) {
  const events = on(pool, 'message', { signal: AbortSignal.timeout(2000) });
  send();
  const seen = [];
  if (count === 0) return seen;
  for await (const [msg, workerId] of events) {
    if (!filter(msg, workerId)) continue;
    seen.push({ msg, workerId });
    if (seen.length === count) break;
  }
  return seen;
}

async function main() {
  console.log(`forkwire demo: a Node app driving ${SIZE} Rust workers (${path.relative(process.cwd(), worker)})\n`);
  const pool = new WorkerPool({ command: worker, size: SIZE, restart: { backoffMs: 50 } });
  const spawns = [];
  pool.on('spawn', (workerId, pid) => spawns.push({ workerId, pid }));
  await pool.ready();

  await pattern('request/response', async () => {
    const a = await pool.request({ task: 'compute', n: 21 });
    const b = await pool.request('hello');
    return `request({task: 'compute', n: 21}) -> ${a}; request('hello') -> ${show(b)}`;
  });

  await pattern('typed message', async () => {
    const r = await pool.request({ operation: 'add', values: [2, 3] }, { type: 'calculate' });
    return `request({operation: 'add', values: [2, 3]}, {type: 'calculate'}) sent {id, type, data} -> ${show(r)}`;
  });

  await pattern('pipelining', async () => {
    const t0 = Date.now();
    const results = await Promise.all(range(10000).map((i) => pool.request({ n: i })));
    const ms = Date.now() - t0;
    const matched = results.filter((r, i) => r === i * 2).length;
    return `10000 requests in flight at once -> ${matched} results matched to their ids, ${Math.round(10000 / (ms / 1000))} req/s`;
  });

  await pattern('requestMany', async () => {
    const items = range(1000).map((i) => ({ n: i }));
    const results = await pool.requestMany(items);
    const before = pool.stats().completed;
    const batched = await pool.requestMany(items, { batchSize: 100 });
    const requests = pool.stats().completed - before;
    const same = batched.every((r, i) => r === results[i]);
    return `requestMany(1000 items) -> one promise, ${results.length} results in order, last ${results[999]}; `
      + `with {batchSize: 100} -> ${requests} requests carried them, same results: ${same}`;
  });

  await pattern('notification', async () => {
    const events = [];
    const listener = (msg) => events.push(msg);
    pool.on('message', listener);
    const sent = pool.send(0, { type: 'notification', message: 'Server started' });
    const after = await pool.request({ n: 1 }, { workerId: 0 });
    pool.off('message', listener);
    return `send(0, {type: 'notification'}) -> ${sent}; no reply (${events.length} events); next request on worker 0 -> ${after}`;
  });

  await pattern('command', async () => {
    const answers = await messages(pool, 3, (msg, w) => w === 1, () => {
      pool.send(1, { command: 'start' });
      pool.send(1, { command: 'process', data: [1, 2, 3] });
      pool.send(1, { command: 'stop' });
    });
    return `send(1, {command: start|process|stop}) -> ${answers.length} answers from worker 1: ${show(answers[0].msg.error)} (the seed worker validates: no type)`;
  });

  await pattern('streaming', async () => {
    let accepted = 0;
    for (let i = 0; i < 1000; i++) if (pool.send(2, { type: 'data', chunk: i })) accepted++;
    pool.send(2, { type: 'end' });
    const r = await pool.request({ n: 500 }, { workerId: 2 });
    return `${accepted} chunks + {type: 'end'} to worker 2, then a request on the same channel -> ${r}`;
  });

  await pattern('broadcast', async () => {
    let sent;
    const pongs = await messages(pool, SIZE, (msg) => msg.type === 'pong', () => {
      sent = pool.broadcast({ type: 'ping' });
    });
    const pids = new Set(pongs.map((p) => p.msg.pid));
    return `broadcast({type: 'ping'}) -> sent to ${sent}; ${pongs.length} pongs from ${pids.size} distinct pids`;
  });

  await pattern('roles', async () => {
    pool.assignRole(0, 'processor');
    pool.assignRole(1, 'processor');
    pool.assignRole(2, 'logger');
    pool.assignRole(3, 'logger');
    const before = pool.stats().workers.map((w) => w.completed);
    const pongs = await messages(pool, 2, (msg) => msg.type === 'pong', () => pool.broadcast({ type: 'ping' }, { role: 'processor' }));
    await Promise.all(range(20).map((i) => pool.request({ n: i, sleep: 2 }, { role: 'processor' })));
    const ran = pool.stats().workers.map((w, i) => `${i}:${w.completed - before[i]}`).join(' ');
    const answered = pongs.map((p) => p.workerId).sort().join(',');
    return `ping to 'processor' answered by workers ${answered}; 20 requests with {role: 'processor'} ran on ${ran}`;
  });

  await pattern('task queue', async () => {
    const t0 = Date.now();
    const tasks = range(40).map((i) => pool.request({ task: `task-${i}`, n: i, sleep: 50 }));
    const start = pool.stats();
    await new Promise((r) => setTimeout(r, 120));
    const mid = pool.stats();
    await Promise.all(tasks);
    return `40 tasks of 50 ms on ${SIZE} workers: queue ${start.queued} / active ${start.busy} at once, ` +
      `${mid.queued} / ${mid.busy} at 120 ms, all done in ${Date.now() - t0} ms`;
  });

  await pattern('sticky keys', async () => {
    const before = pool.stats().workers.map((w) => w.completed);
    await Promise.all(range(6).map((i) => pool.request({ n: i, sleep: 5 }, { key: 'user-42' })));
    const after = pool.stats().workers;
    const home = after.filter((w, i) => w.completed > before[i]);
    return `6 requests with {key: 'user-42'} -> all on worker ${home.map((w) => w.id).join(',')} (pid ${home.map((w) => w.pid).join(',')})`;
  });

  await pattern('heartbeat', async () => {
    const sentAt = Date.now();
    const beats = await messages(pool, SIZE, (msg) => msg.type === 'heartbeat', () => pool.broadcast({ type: 'heartbeat-request' }));
    const skew = Math.max(...beats.map((b) => Math.abs(b.msg.timestamp - sentAt)));
    return `broadcast({type: 'heartbeat-request'}) -> ${beats.length} heartbeats, timestamps within ${skew} ms of sending`;
  });

  await pattern('health check', async () => {
    const [status] = await messages(pool, 1, (msg, w) => msg.type === 'health-status' && w === 0, () => pool.send(0, { type: 'health-check' }));
    const { healthy, metrics } = status.msg;
    return `send(0, {type: 'health-check'}) -> healthy=${healthy}, ${metrics.taskCount} tasks, ${metrics.errors} errors, rss ${(metrics.memory / 1048576).toFixed(1)} MiB, up ${metrics.uptime.toFixed(2)} s`;
  });

  await pattern('validation', async () => {
    const answers = await messages(pool, 2, (msg, w) => w === 3 && msg.error !== undefined, () => {
      pool.send(3, 42);
      pool.send(3, { data: 'no type' });
    });
    return `send(3, 42), send(3, {data}) -> ${answers.map((a) => show(a.msg)).join(', ')}`;
  });

  await pattern('remote error', async () => {
    const err = await pool.request({ fail: 'bad input' }).catch((e) => e);
    return `request({fail: 'bad input'}) -> rejected ${describeError(err)}`;
  });

  await pattern('timeout', async () => {
    const t0 = Date.now();
    const err = await pool.request({ n: 1, sleep: 300 }, { timeout: 50 }).catch((e) => e);
    const after = Date.now() - t0;
    const late = pool.stats().lateReplies;
    await new Promise((r) => setTimeout(r, 300));
    return `request({sleep: 300}, {timeout: 50}) -> ${describeError(err)} after ${after} ms; its reply came later and was dropped (lateReplies ${late} -> ${pool.stats().lateReplies})`;
  });

  await pattern('abort', async () => {
    const early = new AbortController();
    early.abort();
    const a = await pool.request({ n: 1 }, { signal: early.signal }).catch((e) => e);
    const midway = new AbortController();
    setTimeout(() => midway.abort(), 20);
    const b = await pool.request({ n: 1, sleep: 300 }, { signal: midway.signal }).catch((e) => e);
    return `aborted before sending -> ${describeError(a)}; aborted 20 ms in -> ${describeError(b)} (the worker got {type: 'cancel', id})`;
  });

  await pattern('worker exit', async () => {
    const oldPid = pool.stats().workers[3].pid;
    const exited = once(pool, 'exit', { signal: AbortSignal.timeout(2000) });
    const respawned = once(pool, 'spawn', { signal: AbortSignal.timeout(2000) });
    const err = await pool.request({ exit: 3 }, { workerId: 3 }).catch((e) => e);
    const [, code] = await exited;
    const [, newPid] = await respawned;
    const next = await pool.request({ n: 4 }, { workerId: 3 });
    return `request({exit: 3}) on worker 3 -> ${describeError(err)} (exitCode ${err.exitCode}); 'exit' code ${code}, 'spawn' pid ${oldPid} -> ${newPid}; next request -> ${next}`;
  });

  await pattern('serialize error', async () => {
    const before = pool.stats().completed + pool.stats().failed;
    const cycle = {};
    cycle.self = cycle;
    const errs = await Promise.all([10n, cycle, () => 1].map((d) => pool.request(d).catch((e) => e)));
    const sent = pool.stats().completed + pool.stats().failed - before;
    return `request(BigInt | cycle | function) -> ${errs.map(describeError).join(', ')}; requests sent: ${sent}`;
  });

  await pattern('queue full', async () => {
    const small = new WorkerPool({ command: worker, size: 1, maxQueue: 2 });
    const running = small.request({ n: 1, sleep: 100 });
    const waiting = [small.request({ n: 2 }), small.request({ n: 3 })];
    const err = await small.request({ n: 4 }).catch((e) => e);
    const { queued } = small.stats();
    const results = await Promise.all([running, ...waiting]);
    const pending = small.request({ n: 5, sleep: 1000 }).catch((e) => e);
    await small.close();
    const closed = await pending;
    return `pool {size: 1, maxQueue: 2} with ${queued} waiting: 4th request -> ${describeError(err)}; others -> ${show(results)}; close() with one in flight -> ${describeError(closed)}`;
  });

  const stats = pool.stats();
  const pids = stats.workers.map((w) => w.pid);
  await pattern('drain + close', async () => {
    const work = range(8).map((i) => pool.request({ n: i, sleep: 100 }));
    const closing = pool.close({ drain: true });
    const refused = await pool.request({ n: 1 }).catch((e) => e);
    const results = await Promise.all(work);
    await closing;
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    return `8 requests, then close({drain: true}) -> ${results.length} results; a new request -> ${describeError(refused)}; worker processes left: ${alive.length}`;
  });

  const final = pool.stats();
  console.log('\nstats:', show({
    completed: final.completed,
    failed: final.failed,
    timedOut: final.timedOut,
    aborted: final.aborted,
    lateReplies: final.lateReplies,
    restarts: final.restarts,
    spawns: spawns.length,
  }));
  console.log('per worker:', stats.workers.map((w) => `#${w.id} ${w.completed} ok/${w.failed} failed, roles ${w.roles.join(',') || '-'}, restarts ${w.restarts}`).join('; '));
  console.log('closed.');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
