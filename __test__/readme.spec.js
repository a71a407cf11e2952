'use strict';
// The README's JavaScript, run. Every `js` block of README.md and of
// crates/forkwire/README.md is a file (crates/forkwire/tests/readme.rs holds
// each block to its file); here the runnable ones in examples/readme/ run
// against the built workers, must exit by themselves, and must print what
// their `// ...` comments say. The "API at a glance" block, marked
// `<!-- signature: __test__/readme.spec.js ... -->`, is not a program: its
// option names, methods, events, stats keys and error codes are checked
// against a real WorkerPool.
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { root, example } = require('./fixtures/paths');
const { WorkerPool, codes } = require('..');
const { useNats } = require('./fixtures/nats');

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const programs = path.join(root, 'examples', 'readme');

/** What a program promises to print: the `// ...` comment of each console.log line. */
function promisedOutput(file) {
  const lines = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!/^\s*console\.log\(/.test(line)) continue;
    const at = line.lastIndexOf('); // ');
    if (at < 0) throw new Error(`${file}: \`${line.trim()}\` has no \`// output\` comment`);
    lines.push(line.slice(at + '); // '.length));
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** Runs `node file` from the repository root; resolves with its exit and output, or rejects if it does not end in time. */
function run(file, env = {}, ms = 20000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.relative(root, file)} did not exit by itself within ${ms} ms\n${stdout}${stderr}`));
    }, ms);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('the README programs in examples/readme', () => {
  const nats = useNats();
  const files = fs.readdirSync(programs).filter((f) => f.endsWith('.js')).sort();

  test('are there', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  test.each(files)('%s runs against the built workers, exits by itself, and prints what it says', async (name) => {
    // The workers they start, built by `npm run build:workers`.
    for (const worker of ['readme_worker', 'readme_serve', 'http_worker']) example(worker);
    const file = path.join(programs, name);
    // The remote pool's program talks to a real NATS server and sidecar,
    // started as its comment says.
    const env = {};
    if (name === 'remote-pool.js') {
      const server = await nats.server();
      await nats.sidecar(server.url, 'demo', { args: ['--size', '4'] });
      env.NATS_URL = server.url;
    }
    const { code, signal, stdout, stderr } = await run(file, env);
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(stdout).toBe(promisedOutput(file));
  });
});

// ---------------------------------------------------------------------------
// The "API at a glance" block.

/** The block after the `<!-- signature: __test__/readme.spec.js ... -->` comment. */
function signatureBlock() {
  const marker = readme.indexOf('<!-- signature: __test__/readme.spec.js');
  expect(marker).toBeGreaterThan(0);
  const start = readme.indexOf('```js\n', marker) + '```js\n'.length;
  return readme.slice(start, readme.indexOf('\n```\n', start));
}

/** The text of the object literal passed to `new WorkerPool(...)`. */
function constructorLiteral(block) {
  const open = block.indexOf('{', block.indexOf('new WorkerPool('));
  let depth = 0;
  for (let i = open; i < block.length; i++) {
    if (block[i] === '{') depth++;
    else if (block[i] === '}' && --depth === 0) return block.slice(open, i + 1);
  }
  throw new Error('no closing brace for new WorkerPool({');
}

/** Keys written as `key:` or shorthand in `{ a, b: 1 }`, one level deep. */
function literalKeys(text) {
  const inner = text.trim().replace(/^\{|\}$/g, '');
  const keys = [];
  let depth = 0;
  let part = '';
  for (const ch of `${inner},`) {
    if ('{[('.includes(ch)) depth++;
    if ('}])'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      const m = /^\s*([A-Za-z_$][\w$]*)\s*(:|$)/.exec(part);
      if (m) keys.push(m[1]);
      part = '';
    } else {
      part += ch;
    }
  }
  return keys;
}

/** A view of `target` that records the paths of the properties read (`heartbeat.interval`). */
function recording(target, reads, prefix = '') {
  return new Proxy(target, {
    get(t, key, receiver) {
      const value = Reflect.get(t, key, receiver);
      if (typeof key !== 'string') return value;
      reads.add(prefix + key);
      const plain = value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;
      return plain && value !== process.env ? recording(value, reads, `${prefix}${key}.`) : value;
    },
  });
}

/** Every key path of a plain object literal's value (`restart.backoffMs`), not descending into `env`. */
function keyPaths(obj, prefix = '') {
  return Object.entries(obj).flatMap(([k, v]) => {
    const nested = v !== null && typeof v === 'object' && !Array.isArray(v) && v !== process.env;
    return nested ? [prefix + k, ...keyPaths(v, `${prefix}${k}.`)] : [prefix + k];
  });
}

describe('the README\'s "API at a glance" block', () => {
  const block = signatureBlock();
  const literal = constructorLiteral(block);
  // The literal as JavaScript: `env, cwd` are its only free names.
  // eslint-disable-next-line no-new-func
  const options = new Function('env', 'cwd', `return (${literal});`)(process.env, process.cwd());
  let pool;
  const read = new Set();

  beforeAll(async () => {
    pool = new WorkerPool(recording(options, read));
    await pool.ready();
  });
  afterAll(async () => {
    if (pool) await pool.close();
  });

  test('its options are real: WorkerPool reads every one of them', () => {
    // Commented-out alternatives (`// script: ..., execArgv: []`) count too.
    const commented = literal
      .split('\n')
      .filter((l) => l.trim().startsWith('//'))
      .flatMap((l) => literalKeys(`{${l.trim().slice(2).split(' // ')[0]}}`));
    expect(commented).toEqual(expect.arrayContaining(['script', 'execArgv', 'protocolVersion']));
    const all = [...keyPaths(options), ...commented];
    expect(all.filter((k) => !read.has(k))).toEqual([]);
  });

  test('protocolVersion does not read like a default: it is commented out and says there is none', () => {
    expect(options).not.toHaveProperty('protocolVersion');
    const line = literal.split('\n').find((l) => l.includes('protocolVersion'));
    expect(line.trim().startsWith('//')).toBe(true);
    expect(line).toMatch(/no default/);
  });

  test('the values it calls the defaults are the defaults', () => {
    const { normalize } = require('../lib/options');
    const base = { command: 'x' };
    let claims = 0;
    for (const line of literal.split('\n')) {
      const [code, comment] = line.split(/\s\/\/\s/);
      if (!comment || !/^the defaults?\b/.test(comment.trim())) continue;
      // eslint-disable-next-line no-new-func
      const claimed = new Function(`return ({${code}});`)();
      expect({ line: line.trim(), options: normalize({ ...base, ...claimed }) }).toEqual({ line: line.trim(), options: normalize(base) });
      claims++;
    }
    expect(claims).toBeGreaterThan(5);
  });

  test('its methods exist and its call options are read', async () => {
    const methods = [...new Set([...block.matchAll(/\bpool\.(\w+)\(/g)].map((m) => m[1]))];
    expect(methods.filter((m) => typeof pool[m] !== 'function')).toEqual([]);
    // The options argument of each call, as written in the block.
    const calls = { request: [{ n: 21 }], requestMany: [[{ n: 1 }, { n: 2 }]], broadcast: [{ type: 'config' }] };
    for (const [method, args] of Object.entries(calls)) {
      const written = [...block.matchAll(new RegExp(`pool\\.${method}\\((.*)\\);`, 'g'))].map((m) => m[1]);
      expect(written.length).toBeGreaterThan(0);
      for (const call of written) {
        const last = call.slice(call.lastIndexOf('{'), call.lastIndexOf('}') + 1);
        const keys = literalKeys(last);
        const reads = new Set();
        const probe = recording(Object.fromEntries(keys.map((k) => [k, undefined])), reads);
        await pool[method](...args, probe);
        expect({ method, unread: keys.filter((k) => !reads.has(k)) }).toEqual({ method, unread: [] });
      }
    }
  });

  test('its events are events the pool emits', () => {
    const lib = path.join(root, 'lib');
    const source = fs.readdirSync(lib).map((f) => fs.readFileSync(path.join(lib, f), 'utf8')).join('\n');
    const events = [...block.matchAll(/pool\.on\('(\w+)'/g)].map((m) => m[1]);
    expect(events.length).toBeGreaterThan(5);
    expect(events.filter((e) => !source.includes(`emit('${e}'`))).toEqual([]);
  });

  test('the stats() and health() members it names are there', async () => {
    const statsLine = block.split('\n').find((l) => l.startsWith('pool.stats()'));
    const statsKeys = literalKeys(statsLine.slice(statsLine.indexOf('{'), statsLine.lastIndexOf('}') + 1)).filter((k) => k !== '...');
    expect(statsKeys.length).toBeGreaterThan(5);
    expect(statsKeys.filter((k) => !(k in pool.stats()))).toEqual([]);
    const healthLine = block.split('\n').find((l) => l.startsWith('await pool.health()'));
    const named = healthLine.split('per worker:')[1].split(', and')[0].split(',').map((s) => s.trim());
    const [first] = await pool.health();
    expect(named.filter((k) => !(k in first))).toEqual([]);
  });

  test('close() options are read', async () => {
    const call = block.split('\n').find((l) => l.startsWith('await pool.close('));
    const keys = literalKeys(call.slice(call.indexOf('{'), call.indexOf('}') + 1));
    expect(keys).toEqual(['drain', 'timeout']);
    const reads = new Set();
    const spare = new WorkerPool({ command: options.command, size: 1 });
    await spare.close(recording({ drain: true, timeout: 5000 }, reads));
    expect(keys.filter((k) => !reads.has(k))).toEqual([]);
  });

  test('the ES module import it mentions works', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', "import { WorkerPool } from 'forkwire'; console.log(typeof WorkerPool);"], { cwd: root });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect({ code, out }).toEqual({ code: 0, out: 'function\n' });
  });
});

test('the README lists every error code, and only real ones', () => {
  const listed = [...readme.matchAll(/^- `(ERR_FORKWIRE_\w+)`/gm)].map((m) => m[1]);
  expect([...listed].sort()).toEqual(Object.values(codes).sort());
  // Anywhere else in the README, a code named is a real one.
  const named = new Set([...readme.matchAll(/ERR_FORKWIRE_[A-Z_]+/g)].map((m) => m[0]));
  expect([...named].filter((c) => !Object.values(codes).includes(c))).toEqual([]);
});
