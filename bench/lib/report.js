'use strict';
// The markdown tables and the targets, from the summarized results.
const { SYSTEMS, JS_POOLS } = require('./systems');
const { SIZES } = require('./payloads');

const SIZE_LABEL = { tiny: 'tiny', '4KB': '4 KB', '256KB': '256 KB' };

function si(x) {
  if (x == null || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
  if (a >= 1e4) return `${(x / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(2)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** `median (min–max)`; just the median when there was one round. */
function cell(s, fmt = si) {
  if (!s) return '–';
  if (s.n === 1 || s.min === s.max) return fmt(s.median);
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

const mib = (kib) => (kib == null ? null : kib / 1024);

function table(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i < 3 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

/**
 * rows: [{id, label, worker, workers, metrics: {key: summary}}]
 * Returns the markdown document (without the targets).
 */
function render({ meta, rows }) {
  const out = [];
  out.push(`## forkwire bench: ${meta.date}${meta.quick ? ' (--quick)' : ''}`);
  out.push('');
  out.push(
    `Node ${meta.node}, ${meta.platform}, ${meta.cpus} × ${meta.cpuModel}; forkwire native ${meta.nativeVersion}. ` +
      `Medians over rounds (${SIZES.map((s) => `${SIZE_LABEL[s]}: ${meta.rounds[s]}`).join(', ')}), ` +
      `(min–max) the spread across rounds. forkwire and tinypool run with concurrency ${meta.concurrency} per worker. ` +
      `Total ${meta.totalSeconds.toFixed(0)} s (build ${meta.buildSeconds.toFixed(0)} s); load average at the end ${meta.loadavg.map((x) => x.toFixed(1)).join(' ')}.`,
  );
  out.push('');
  const pipeHdr = SIZES.map((s) => `${SIZE_LABEL[s]} (${meta.counts.pipe[s]} in flight)`);
  out.push(`### Pipelined: requests per second`);
  out.push('');
  out.push(
    table(
      ['row', 'worker', 'workers', ...pipeHdr, 'parent CPU ms / 100k tiny'],
      rows
        .filter((r) => SIZES.some((s) => r.metrics[`pipe.${s}`]))
        .map((r) => [r.label, r.worker, r.workers, ...SIZES.map((s) => cell(r.metrics[`pipe.${s}`])), cell(r.metrics.cpu, (x) => x.toFixed(0))]),
    ),
  );
  out.push('');
  out.push(`### Sequential: round trip in µs, one request in flight (p50 / p99)`);
  out.push('');
  const seqHdr = SIZES.flatMap((s) => [`${SIZE_LABEL[s]} p50`, `${SIZE_LABEL[s]} p99`]);
  out.push(
    table(
      ['row', 'worker', 'workers', ...seqHdr],
      rows
        .filter((r) => SIZES.some((s) => r.metrics[`seq.${s}.p50`]))
        .map((r) => [r.label, r.worker, r.workers, ...SIZES.flatMap((s) => [cell(r.metrics[`seq.${s}.p50`]), cell(r.metrics[`seq.${s}.p99`])])]),
    ),
  );
  out.push('');
  out.push(`### Start-up and one idle worker`);
  out.push('');
  out.push(
    table(
      ['row', 'worker', 'workers', 'create → first reply (ms)', 'idle worker VmRSS (MiB)'],
      rows
        .filter((r) => r.metrics['startup.ms'])
        .map((r) => {
          const rss = r.metrics['startup.rssKiB'];
          const m = rss && { ...rss, median: mib(rss.median), min: mib(rss.min), max: mib(rss.max) };
          return [r.label.replace(/\.request\(\)$/, ''), r.worker, 1, cell(r.metrics['startup.ms'], (x) => x.toFixed(1)), cell(m, (x) => x.toFixed(1))];
        }),
    ),
  );
  return out.join('\n');
}

function ratio(a, b) {
  return a && b && b.median > 0 ? a.median / b.median : null;
}

/**
 * A ratio to two decimals, or to three where two would round a miss onto
 * its goal (2.999x, not 3.00x, beside MISS). `ok`: the target's test.
 */
function shownRatio(r, pass, ok) {
  const two = r.toFixed(2);
  return pass === false && ok(Number(two)) ? `${r.toFixed(3)}x` : `${two}x`;
}

/** [{target, measured, ratio, pass}] from the rows. pass is true / false / null (informational). */
function targets(rows, meta) {
  const many = meta ? meta.counts.pipe.tiny.toLocaleString('en-US').replace(/,/g, ' ') : '10 000';
  const by = Object.fromEntries(rows.map((r) => [r.id, r]));
  const m = (id, key) => by[id] && by[id].metrics[key];
  const out = [];
  const add = (target, a, b, ok, note) => {
    const r = ratio(a, b);
    const pass = ok === null ? null : r == null ? false : ok(r);
    out.push({ target, ratio: r, pass, note: note || '', measured: r == null ? 'not measured' : shownRatio(r, pass, ok) });
  };
  const fw2 = m('forkwire-rust@2', 'pipe.tiny');
  const fork2 = m('fork-json@2', 'pipe.tiny');
  add('pipelined tiny request(), 2 Rust workers ≥ 3x fork()+WorkerClient (json), 2 Node workers', fw2, fork2, (r) => r >= 3);
  add('pipelined tiny request(), 2 Rust workers ≥ 0.6x the JS-thread floor', fw2, m('floor', 'pipe.tiny'), (r) => r >= 0.6);
  let best = null;
  for (const name of JS_POOLS) {
    for (const w of [1, 2]) {
      const s = m(`${name}@${w}`, 'pipe.tiny');
      if (s && (!best || s.median > best.s.median)) best = { s, label: `${SYSTEMS[name].label}, ${w} worker${w > 1 ? 's' : ''}` };
    }
  }
  add('pipelined tiny request(), 2 Rust workers ahead of every JS pool row (> 1x the best)', fw2, best && best.s, (r) => r > 1, best ? `best JS row: ${best.label}` : '');
  add(`requestMany(${many} tiny), 2 Rust workers ≥ 10x fork()+WorkerClient (json) request(), 2 Node workers`, m('forkwire-rust.many@2', 'many.tiny'), fork2, (r) => r >= 10, 'one request per item');
  add(`requestMany(${many} tiny, { batchSize: ${SYSTEMS['forkwire-rust'].batch} }), 2 Rust workers ≥ 10x fork()+WorkerClient (json) request(), 2 Node workers`, m('forkwire-rust.batch@2', 'many.tiny'), fork2, (r) => r >= 10, 'items sent 256 to a request');
  add('same Node worker script: forkwire WorkerPool({ script }) ahead of fork()+WorkerClient (json), pipelined tiny, 2 workers', m('forkwire-node@2', 'pipe.tiny'), fork2, (r) => r > 1);
  const sock = ['socketpair@1', 'socketpair@2'].map((id) => m(id, 'pipe.tiny')).filter(Boolean).sort((a, b) => b.median - a.median)[0];
  add('engine natively from Rust (Pool, 2 seed workers, pipelined tiny) within 2x of the socketpair echo (≥ 0.5x its best)', m('native-engine@2', 'pipe.tiny'), sock, (r) => r >= 0.5);
  add('sequential tiny round trip p50: forkwire, 1 Rust worker ≤ fork()+WorkerClient (json), 1 Node worker', m('forkwire-rust@1', 'seq.tiny.p50'), m('fork-json@1', 'seq.tiny.p50'), (r) => r <= 1);
  add(
    "pipelined tiny request(), advanced serialization: 2 Rust workers ≥ 3x fork()+WorkerClient (advanced), 2 Node workers",
    m('forkwire-rust-advanced@2', 'pipe.tiny'),
    m('fork-advanced@2', 'pipe.tiny'),
    (r) => r >= 3,
  );
  add(
    "requestMany() one request per item, advanced serialization: 2 Rust workers / fork()+WorkerClient (advanced), 2 Node workers",
    m('forkwire-rust-advanced.many@2', 'many.tiny'),
    m('fork-advanced@2', 'pipe.tiny'),
    null,
  );
  // Engine v2's goals (the lanes, the hops, advanced mode), next to the first ones above.
  const seq1 = m('forkwire-rust@1', 'seq.tiny.p50');
  add('engine v2: sequential tiny p50, 1 Rust worker ≤ 0.7x fork()+WorkerClient (json), 1 Node worker', seq1, m('fork-json@1', 'seq.tiny.p50'), (r) => r <= 0.7);
  add('engine v2: sequential tiny p50, engine from Rust ≤ 1.3x the socketpair echo', m('native-engine@1', 'seq.tiny.p50'), m('socketpair@1', 'seq.tiny.p50'), (r) => r <= 1.3);
  add('engine v2: pipelined tiny, engine from Rust, 2 workers ≥ 0.6x the socketpair echo (its best)', m('native-engine@2', 'pipe.tiny'), sock, (r) => r >= 0.6);
  add('engine v2: pipelined tiny request(), 2 Rust workers ≥ 0.75x the JS-thread floor', fw2, m('floor', 'pipe.tiny'), (r) => r >= 0.75);
  add(`engine v2: requestMany(${many} tiny) one request per item, 2 Rust workers ≥ 12x fork()+WorkerClient (json), 2 Node workers`, m('forkwire-rust.many@2', 'many.tiny'), fork2, (r) => r >= 12);
  add('engine v2: parent CPU per 100k pipelined tiny request(), 2 Rust workers ≤ 0.25x fork()+WorkerClient (json), 2 Node workers', m('forkwire-rust@2', 'cpu'), m('fork-json@2', 'cpu'), (r) => r <= 0.25);
  // The NATS hop: the same seed_workers behind a sidecar and a local nats-server, against the local pool.
  for (const [what, key] of [['pipelined tiny request()', 'pipe.tiny'], ['pipelined 4 KB request()', 'pipe.4KB'], ['requestMany() one request per item', 'many.tiny']]) {
    const suffix = key.startsWith('many') ? '.many' : '';
    add(`${what}, 2 Rust workers: remote pool (nats-server + 1 sidecar) / local pool`, m(`forkwire-nats${suffix}@2`, key), m(`forkwire-rust${suffix}@2`, key), null);
  }
  add('pipelined tiny request(), 2 Rust workers: remote pool / fork()+WorkerClient (json), 2 Node workers', m('forkwire-nats@2', 'pipe.tiny'), fork2, null);
  add('sequential tiny round trip p50, 1 Rust worker: remote pool / local pool', m('forkwire-nats@1', 'seq.tiny.p50'), m('forkwire-rust@1', 'seq.tiny.p50'), null);
  add('idle worker RSS: Rust seed_worker / Node script (both under forkwire)', m('forkwire-rust@1', 'startup.rssKiB'), m('forkwire-node@1', 'startup.rssKiB'), null);
  add('start-up to first reply: forkwire Rust worker / forkwire Node script worker', m('forkwire-rust@1', 'startup.ms'), m('forkwire-node@1', 'startup.ms'), null);
  add('start-up to first reply: forkwire Rust worker / fork()+WorkerClient Node worker', m('forkwire-rust@1', 'startup.ms'), m('fork-json@1', 'startup.ms'), null);
  return out;
}

function renderTargets(list) {
  const lines = ['### Targets (ratios of medians from this run)', ''];
  lines.push('| target | measured | result |');
  lines.push('| --- | ---: | --- |');
  for (const t of list) {
    const result = t.pass === null ? 'info' : t.pass ? 'pass' : 'MISS';
    lines.push(`| ${t.target}${t.note ? ` (${t.note})` : ''} | ${t.measured} | ${result} |`);
  }
  return lines.join('\n');
}

module.exports = { render, targets, renderTargets, si };
