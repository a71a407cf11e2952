'use strict';
// One group of rows (one system with 1 or 2 workers, the JS floor, or the
// start-up measurements) in its own Node process, forked by bench/run.js.
// It keeps its pool open between rounds so that run.js can interleave the
// rounds of every group; it answers, over the IPC channel:
//
//   {cmd: 'setup'}        create the pool and warm up every workload
//   {cmd: 'round', r}     one measured round -> {ok, result}
//   {cmd: 'close'}        close the pool, then disconnect and exit on its own
//
// The spec comes as JSON in argv[2]; see groups() in run.js.
const { SYSTEMS } = require('./lib/systems');
const { SIZES, makePayloads } = require('./lib/payloads');
const measure = require('./lib/measure');

const spec = JSON.parse(process.argv[2]);
const payloads = makePayloads();
let sys = null;

const warmCount = (n) => Math.max(5, Math.ceil(n / 5));
const active = (r, size) => r < spec.rounds[size];

async function setup() {
  if (spec.kind === 'floor') {
    for (const size of SIZES) await measure.floor(size, payloads[size], spec.counts.pipe[size]);
    return {};
  }
  if (spec.kind === 'startup') {
    // Load every module and warm the code paths once, untimed.
    for (const name of spec.systems) await measure.startup(SYSTEMS[name], payloads.tiny, { concurrency: spec.concurrency, idleMs: 0 });
    return {};
  }
  const def = SYSTEMS[spec.system];
  sys = await def.create({ workers: spec.workers, concurrency: spec.concurrency });
  for (const size of SIZES) {
    const p = payloads[size];
    await measure.sequential(sys, size, p, warmCount(spec.counts.seq[size]), { warm: true });
    await measure.pipelined(sys, size, p, warmCount(spec.counts.pipe[size]), { warm: true });
    if (def.many) await measure.many(sys, size, p, warmCount(spec.counts.pipe[size]), { warm: true });
    if (def.batch) await measure.many(batches(), size, p, warmCount(spec.counts.pipe[size]), { warm: true });
  }
  return { pids: sys.pids() };
}

/** The system with requestMany() sending batches. */
function batches() {
  return { requestMany: sys.requestBatches };
}

async function round(r) {
  const out = {};
  if (spec.kind === 'floor') {
    for (const size of SIZES) if (active(r, size)) out[`floor.${size}`] = await measure.floor(size, payloads[size], spec.counts.pipe[size]);
    return out;
  }
  if (spec.kind === 'startup') {
    // Rotate the order so that no system always goes first.
    const names = spec.systems.map((_, i) => spec.systems[(i + r) % spec.systems.length]);
    for (const name of names) out[`startup.${name}`] = await measure.startup(SYSTEMS[name], payloads.tiny, { concurrency: spec.concurrency, idleMs: spec.idleMs });
    return out;
  }
  const def = SYSTEMS[spec.system];
  // The pool sat idle while the other groups ran: a few untimed requests
  // first, so the first timed one does not pay for waking it up.
  await measure.sequential(sys, 'tiny', payloads.tiny, 50, { warm: true });
  for (const size of SIZES) {
    if (!active(r, size)) continue;
    const p = payloads[size];
    out[`seq.${size}`] = await measure.sequential(sys, size, p, spec.counts.seq[size]);
    out[`pipe.${size}`] = await measure.pipelined(sys, size, p, spec.counts.pipe[size]);
    if (def.many) out[`many.${size}`] = await measure.many(sys, size, p, spec.counts.pipe[size]);
    if (def.batch) out[`batch.${size}`] = await measure.many(batches(), size, p, spec.counts.pipe[size]);
  }
  return out;
}

async function close() {
  if (sys) await sys.close();
  sys = null;
}

function reply(msg) {
  if (process.connected) process.send(msg);
}

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'setup') reply({ ok: true, result: await setup() });
    else if (msg.cmd === 'round') reply({ ok: true, result: await round(msg.r) });
    else if (msg.cmd === 'close') {
      await close();
      // Let handles closed by close() finish closing before listing what is left.
      await measure.sleep(100);
      reply({ ok: true, result: { active: activeResources() } });
      process.disconnect();
    }
  } catch (err) {
    // run.js kills a runner that failed: close the system first, so that
    // no process it started (workers, servers) outlives it.
    await close().catch(() => {});
    reply({ ok: false, error: err && err.stack ? err.stack : String(err) });
  }
});

// What still holds the event loop after close() (should be nothing but the
// IPC channel to run.js, which disconnect() then closes).
function activeResources() {
  return typeof process.getActiveResourcesInfo === 'function' ? process.getActiveResourcesInfo() : [];
}
