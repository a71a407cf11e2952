'use strict';
// WorkerPool options: validation and defaults, turned into what the
// native pool takes.
const os = require('os');
const path = require('path');

function invalid(name, expected, value) {
  const err = new TypeError(`options.${name} must be ${expected} (got ${typeof value === 'string' ? JSON.stringify(value) : String(value)})`);
  err.code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

function positiveInt(options, name, fallback, max = Number.MAX_SAFE_INTEGER) {
  const v = options[name];
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < 1 || v > max) throw invalid(name, `an integer in [1, ${max}]`, v);
  return v;
}

function nonNegativeInt(options, name, fallback, max = Number.MAX_SAFE_INTEGER) {
  const v = options[name];
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < 0 || v > max) throw invalid(name, `an integer in [0, ${max}]`, v);
  return v;
}

function nonNegative(value, name, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0)) throw invalid(name, 'a number >= 0', value);
  return value;
}

/** The default `maxFrameBytes`: 16 MiB. */
const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** The default `maxBacklogBytes`: 32 MiB. */
const DEFAULT_MAX_BACKLOG_BYTES = 32 * 1024 * 1024;
/**
 * The largest `maxFrameBytes`: 256 MiB. A message reaches JS as one string,
 * and V8's strings end a little past 512 M characters.
 */
const MAX_FRAME_BYTES = 256 * 1024 * 1024;
/** Most workers a pool may have. */
const MAX_SIZE = 4096;
/** Most resends of one request, and most protocol errors counted. */
const MAX_COUNT = 0x7fffffff;

function stringEnv(env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = String(v);
  return out;
}

/** Options of a local pool that a remote one (`nats`) cannot take. */
const LOCAL_ONLY = ['command', 'script', 'args', 'execArgv', 'execPath', 'env', 'cwd', 'stdio', 'size', 'concurrency', 'maxQueue',
  'restart', 'heartbeat', 'maxTasksPerWorker', 'maxMemoryMb', 'maxProtocolErrors', 'protocolVersion', 'maxFrameBytes', 'maxBacklogBytes'];

function optionalString(options, name, label = name) {
  const v = options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw invalid(label, 'a non-empty string', v);
  return v;
}

/**
 * `nats.lostAfter`: 0 (never) or at least 1000 ms, since sidecars claim
 * what they hold only every 500 ms.
 */
function lostAfter(value) {
  const ms = nonNegative(value, 'nats.lostAfter', 3000);
  if (ms !== 0 && ms < 1000) throw invalid('nats.lostAfter', '0 (never) or at least 1000 (ms)', value);
  return ms;
}

/**
 * A remote pool's options (`nats`): the sidecars' service on NATS servers.
 * The workers are the sidecars' business, so the options that describe
 * local workers are refused rather than ignored.
 */
function normalizeRemote(options) {
  const { nats } = options;
  if (nats === null || typeof nats !== 'object') throw invalid('nats', 'an object', nats);
  for (const name of LOCAL_ONLY) {
    if (options[name] !== undefined) throw invalid(name, 'absent with options.nats (the sidecars run the workers)', options[name]);
  }
  const serialization = options.serialization ?? 'json';
  if (serialization !== 'json') throw invalid('serialization', "'json' with options.nats (requests cross NATS as JSON)", serialization);
  const servers = typeof nats.servers === 'string' ? nats.servers.split(',') : (nats.servers ?? ['nats://127.0.0.1:4222']);
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string' && s.trim() !== '')) {
    throw invalid('nats.servers', 'a URL or an array of URLs', nats.servers);
  }
  const service = optionalString(nats, 'service', 'nats.service');
  if (service === undefined || !/^[A-Za-z0-9_-]+$/.test(service)) throw invalid('nats.service', "a service name (letters, digits, '-', '_')", nats.service);
  const user = optionalString(nats, 'user', 'nats.user');
  const password = optionalString(nats, 'password', 'nats.password');
  if ((user === undefined) !== (password === undefined)) throw invalid('nats.password', 'given with nats.user', password);
  const tlsCert = optionalString(nats, 'tlsCert', 'nats.tlsCert');
  const tlsKey = optionalString(nats, 'tlsKey', 'nats.tlsKey');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw invalid('nats.tlsKey', 'given with nats.tlsCert', tlsKey);
  return {
    native: {
      servers: servers.map((s) => s.trim()),
      service,
      name: optionalString(nats, 'name', 'nats.name'),
      credentials: optionalString(nats, 'credentials', 'nats.credentials'),
      user,
      password,
      token: optionalString(nats, 'token', 'nats.token'),
      tlsCa: optionalString(nats, 'tlsCa', 'nats.tlsCa'),
      tlsCert,
      tlsKey,
      timeout: nonNegative(options.timeout, 'timeout', 0),
      retries: nonNegativeInt(options, 'retries', 0, MAX_COUNT),
      lostAfter: lostAfter(nats.lostAfter),
      maxPending: positiveInt(nats, 'maxPending', 1 << 20),
      connectTimeout: nonNegative(nats.connectTimeout, 'nats.connectTimeout', 2000),
    },
    serialization,
    batchSize: nonNegativeInt(options, 'batchSize', 0),
  };
}

/** Validated options with every default filled in. */
function normalize(options) {
  if (options === null || typeof options !== 'object') throw invalid('', 'an object', options);
  const { command, script } = options;
  if ((command === undefined) === (script === undefined)) {
    throw invalid('command', 'a path to a worker program, or options.script a Node script (exactly one of them)', command);
  }
  const args = options.args ?? [];
  if (!Array.isArray(args)) throw invalid('args', 'an array', args);
  const execArgv = options.execArgv ?? [];
  if (!Array.isArray(execArgv)) throw invalid('execArgv', 'an array', execArgv);
  const serialization = options.serialization ?? 'json';
  if (serialization !== 'json' && serialization !== 'advanced') throw invalid('serialization', "'json' or 'advanced'", serialization);
  const stdio = options.stdio ?? 'inherit';
  if (stdio !== 'inherit' && stdio !== 'ignore') throw invalid('stdio', "'inherit' or 'ignore'", stdio);
  const maxQueue = options.maxQueue ?? Infinity;
  if (!(maxQueue === Infinity || (Number.isInteger(maxQueue) && maxQueue >= 0))) throw invalid('maxQueue', 'an integer >= 0 or Infinity', maxQueue);
  const restart = options.restart ?? {};
  if (restart !== false && (restart === null || typeof restart !== 'object')) throw invalid('restart', 'an object or false', restart);
  const heartbeat = options.heartbeat ?? false;
  if (heartbeat !== false && (heartbeat === null || typeof heartbeat !== 'object')) throw invalid('heartbeat', 'an object or false', heartbeat);
  const heartbeatInterval = heartbeat === false ? 0 : nonNegative(heartbeat.interval, 'heartbeat.interval', 1000);
  const heartbeatTimeout = heartbeat === false ? 0 : nonNegative(heartbeat.timeout, 'heartbeat.timeout', 3 * heartbeatInterval);
  const protocolVersion = options.protocolVersion === undefined ? undefined : JSON.stringify(options.protocolVersion);
  const cwd = options.cwd === undefined ? undefined : String(options.cwd);
  const program = script !== undefined ? (options.execPath ?? process.execPath) : String(command);
  const programArgs = script !== undefined
    ? [...execArgv, path.resolve(cwd ?? process.cwd(), String(script)), ...args.map(String)]
    : args.map(String);
  return {
    native: {
      program,
      args: programArgs,
      env: stringEnv(options.env ?? process.env),
      cwd,
      stdio,
      serialization,
      size: positiveInt(options, 'size', typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length, MAX_SIZE),
      concurrency: positiveInt(options, 'concurrency', 1, MAX_COUNT),
      timeout: nonNegative(options.timeout, 'timeout', 0),
      maxQueue: maxQueue === Infinity ? -1 : maxQueue,
      restart: restart !== false,
      maxRestarts: restart === false ? 0 : Math.min(nonNegative(restart.maxRestarts, 'restart.maxRestarts', 5), MAX_COUNT),
      restartWindow: restart === false ? 0 : nonNegative(restart.windowMs, 'restart.windowMs', 10000),
      restartBackoff: restart === false ? 0 : nonNegative(restart.backoffMs, 'restart.backoffMs', 100),
      retries: nonNegativeInt(options, 'retries', 0, MAX_COUNT),
      heartbeatInterval,
      heartbeatTimeout,
      maxTasksPerWorker: nonNegativeInt(options, 'maxTasksPerWorker', 0),
      maxMemoryMb: nonNegative(options.maxMemoryMb, 'maxMemoryMb', 0),
      maxProtocolErrors: nonNegativeInt(options, 'maxProtocolErrors', 0, MAX_COUNT),
      protocolVersion,
      maxFrameBytes: positiveInt(options, 'maxFrameBytes', DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES),
      maxBacklogBytes: positiveInt(options, 'maxBacklogBytes', DEFAULT_MAX_BACKLOG_BYTES),
    },
    protocolVersion: options.protocolVersion,
    serialization,
    batchSize: nonNegativeInt(options, 'batchSize', 0),
  };
}

module.exports = { normalize, normalizeRemote, invalid, nonNegative, nonNegativeInt, MAX_COUNT };
