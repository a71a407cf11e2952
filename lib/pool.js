'use strict';
// WorkerPool: the public class over the native engine. It keeps the one
// thing that must live on the JS thread, the promise of each request
// (lib/requests.js), batches the requests of a tick into one engine call,
// and turns what the engine delivers (lib/delivery.js) into settled
// promises and events.
const { EventEmitter } = require('events');
const { NativePool, NativeRemotePool, emptyStats, emptyMetrics, vocabulary } = require('../binding.js');
const { codes, ForkwireError } = require('./errors');
const { advancedFrame, jsonText, frameEncoder } = require('./serialization');
const { normalize, normalizeRemote, invalid, nonNegative, nonNegativeInt, MAX_COUNT } = require('./options');
const { RemoteLink, localOnly } = require('./remote');
const { readRss } = require('./health');
const { describeHandle, handleMessage } = require('./handles');
const { deliver } = require('./delivery');
const { OpenRequests, BATCH_TYPE, batchData, abortedError } = require('./requests');

const DEFAULT_TIMEOUT = -1;
// Requests batched in one tick are handed to the engine at least this
// often, so workers start on the first while later ones are still made.
const FLUSH_AT = 1024;
// Control-message types, from the engine (forkwire::vocabulary).
const { healthCheck: HEALTH_CHECK, healthStatus: HEALTH_STATUS } = vocabulary();
// Label names metrics() itself uses, which options.labels may not take.
const METRIC_LABELS = new Set(['outcome', 'state', 'worker', 'le']);

class WorkerPool extends EventEmitter {
  #native = null;
  #startError = null;
  #mode;
  #encode;
  #size;
  #batchSize;
  #open = new OpenRequests();
  /** JSON texts of default-option requests made this tick (see #requestBatched). */
  #batch = [];
  #batchFirst = 0;
  #flushBound = () => this.#flush();
  #nextId = 1;
  #state = 'open';
  #closing = null;
  /** Whether the native wake-up, the pool's only event-loop handle, is referenced. */
  #handleRef = true;
  #refed = true;
  #protocolVersion;
  #onClosed = null;
  #startedAt = Date.now();
  /** A remote pool's connection (options.nats); null for a local pool. */
  #link = null;
  /** Where lib/delivery.js hands what the engine delivers. */
  #sink = {
    settle: (id, ok, value) => this.#open.settle(id, ok, value),
    progressListener: (id) => this.#open.progressListener(id),
    guard: (fn, value) => this.#guard(fn, value),
    emit: (name, ...args) => this.#emit(name, ...args),
    emitError: (err) => this.#emitError(err),
    connection: (payload) => this.#connection(payload),
    health: (token, payload) => this.#link.healthAnswer(token, payload),
    closed: () => {
      // The last batch: the engine releases the wake-up once it is taken.
      this.#state = 'closed';
      this.#link?.closed(this.#closedError());
      this.#onClosed?.();
    },
  };

  /** @param {import('..').WorkerPoolOptions} options */
  constructor(options) {
    super();
    const remote = options !== null && typeof options === 'object' && options.nats !== undefined;
    const { native, serialization, protocolVersion, batchSize } = remote ? normalizeRemote(options) : normalize(options);
    this.#batchSize = batchSize;
    this.#protocolVersion = protocolVersion;
    this.#mode = serialization;
    this.#encode = frameEncoder(serialization);
    // A remote pool's workers are the sidecars': none here.
    this.#size = remote ? 0 : native.size;
    try {
      // The wake-up is reported to async_hooks with this pool as its
      // resource: hasRef() answers for it (see src/wake.rs).
      if (remote) {
        this.#native = new NativeRemotePool(native, () => this.#drain(), this);
        this.#link = new RemoteLink();
      } else {
        this.#native = new NativePool(native, () => this.#drain(), this);
      }
    } catch (err) {
      // The engine's failures carry their code; anything else (options
      // the binding refused) is a failure to start.
      const code = Object.values(codes).includes(err.code) ? err.code : codes.SPAWN;
      this.#startError = new ForkwireError(err.message, code, { cause: err });
      this.#state = 'closed';
    }
  }

  /** Number of worker slots (0 for a remote pool: the sidecars have the workers). */
  get size() {
    return this.#size;
  }

  /**
   * Resolves once every worker has started; rejects with ERR_FORKWIRE_SPAWN
   * if one could not. A remote pool: once connected to NATS, or rejects
   * with ERR_FORKWIRE_CONNECTION.
   */
  ready() {
    if (this.#startError) return Promise.reject(this.#startError);
    return this.#link ? this.#link.ready : Promise.resolve();
  }

  /** Sends `data` to a worker as `{id, type?, data}` and resolves with its `result`. */
  request(data, options) {
    if (this.#state !== 'open') return Promise.reject(this.#closedError());
    if (options === undefined) return this.#requestBatched(data, undefined);
    const { timeout, signal, type, workerId, role, key, onProgress } = options;
    if (signal?.aborted) {
      return Promise.reject(abortedError(signal));
    }
    if (timeout === undefined && signal === undefined && type === undefined && workerId === undefined
      && role === undefined && key === undefined && options.retries === undefined && options.handle == null) {
      return this.#requestBatched(data, onProgress);
    }
    return this.#requestDirect(data, options);
  }

  /** A request with options: flushes the batch (keeping order), then one engine call. */
  #requestDirect(data, options) {
    const { timeout, signal, type, workerId, role, key, onProgress, handle, keepOpen } = options;
    if (this.#link && (workerId !== undefined || role !== undefined || key !== undefined || (handle !== undefined && handle !== null))) {
      return Promise.reject(localOnly('request() with workerId, role, key or handle'));
    }
    this.#flush();
    let id;
    try {
      // What the engine reads of the options (src/options.rs,
      // NativeRequestOptions); absent members are the pool's defaults.
      const route = {
        kind: type === undefined ? undefined : String(type),
        timeout: timeout === undefined ? undefined : nonNegative(timeout, 'timeout'),
        worker: workerId === undefined ? undefined : this.#workerIndex(workerId),
        role: role === undefined ? undefined : String(role),
        key: key === undefined ? undefined : String(key),
        retries: options.retries === undefined ? undefined : nonNegativeInt(options, 'retries', undefined, MAX_COUNT),
      };
      if (handle !== undefined && handle !== null) {
        const passed = describeHandle(handle, keepOpen);
        id = this.#nextId;
        this.#requestWithHandle(id, data, route, passed);
        this.#nextId++;
      } else if (this.#mode === 'json') {
        const text = jsonText(data);
        id = this.#nextId++;
        this.#native.request(id, text, route);
      } else {
        id = this.#nextId;
        const frame = advancedFrame(this.#envelope(id, route.kind, data));
        this.#nextId++;
        this.#native.requestFrame(id, frame, route);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, signal, onAbort: undefined, onProgress };
      if (signal) {
        entry.onAbort = () => this.#native.abort(id);
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.#track(id, entry);
    });
  }

  /**
   * A request with every option at its default: queued here and handed to
   * the engine with the others of the same tick in one call (ids are
   * consecutive, so the engine numbers them from the first). What is
   * queued: the JSON text of `data` (json mode), or the whole frame
   * (advanced mode).
   */
  #requestBatched(data, onProgress) {
    let item;
    const id = this.#nextId;
    try {
      item = this.#mode === 'json' ? jsonText(data) : advancedFrame(this.#envelope(id, undefined, data));
    } catch (err) {
      return Promise.reject(err);
    }
    // `undefined` data has no JSON text: the envelope goes without `data`.
    if (item === undefined) return this.#requestDirect(data, { onProgress });
    this.#nextId++;
    if (this.#batch.length === 0) {
      this.#batchFirst = id;
      queueMicrotask(this.#flushBound);
    }
    this.#batch.push(item);
    if (this.#batch.length === FLUSH_AT) this.#flush();
    return new Promise((resolve, reject) => {
      this.#track(id, { resolve, reject, signal: undefined, onAbort: undefined, onProgress });
    });
  }

  /** Hands the queued simple requests to the engine. */
  #flush() {
    const items = this.#batch;
    if (items.length === 0) return;
    this.#batch = [];
    if (this.#mode === 'json') {
      this.#native.requestMany(this.#batchFirst, items.length === 1 ? `[${items[0]}]` : `[${items.join(',')}]`);
    } else {
      this.#native.requestFrames(this.#batchFirst, items.length === 1 ? items[0] : Buffer.concat(items));
    }
  }

  /**
   * Sends many requests at once (any worker) and resolves with their
   * results in order; rejects with the first failure. Every item is a
   * request `{id, type?, data: item}` with `type`, `timeout` and `signal`
   * applying to each (json mode: one engine call for all). With
   * `batchSize`, items go `batchSize` to a request of type
   * 'forkwire:batch' (for workers that answer those), carrying `type` as
   * the items' type (see #batchData). An abort rejects the whole call once
   * and cancels what is still open.
   */
  requestMany(items, options = {}) {
    if (this.#state !== 'open') return Promise.reject(this.#closedError());
    if (!Array.isArray(items)) return Promise.reject(new TypeError('items must be an array'));
    let batchSize;
    let kind;
    let timeoutMs;
    let signal;
    try {
      if (options === null || typeof options !== 'object') throw invalid('options', 'an object', options);
      batchSize = nonNegativeInt(options, 'batchSize', this.#batchSize);
      timeoutMs = options.timeout === undefined ? DEFAULT_TIMEOUT : nonNegative(options.timeout, 'timeout');
      kind = options.type === undefined ? undefined : String(options.type);
      signal = options.signal;
      if (signal !== undefined && (signal === null || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function')) {
        throw invalid('signal', 'an AbortSignal', signal);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    if (items.length === 0) return Promise.resolve([]);
    if (batchSize === 0) return this.#requestItems(items, null, kind, timeoutMs, signal);
    // At most batchSize items to a request, and at most ceil(n / size) so
    // that a short list is spread over the workers.
    const per = Math.min(batchSize, Math.ceil(items.length / this.#size));
    const chunks = [];
    for (let i = 0; i < items.length; i += per) chunks.push(items.slice(i, i + per));
    const datas = chunks.map((chunk) => batchData(chunk, kind));
    return this.#requestItems(datas, chunks.map((chunk) => chunk.length), BATCH_TYPE, timeoutMs, signal);
  }

  /**
   * Submits one request per entry of `datas` (ids consecutive from the
   * next one), all with type `kind` and timeout `timeoutMs`, as one group.
   * `chunks`: for batch requests, the number of items each carries.
   */
  #requestItems(datas, chunks, kind, timeoutMs, signal) {
    this.#flush();
    const first = this.#nextId;
    let submit;
    try {
      if (this.#mode === 'json') {
        // One stringify for all; the engine splits the array. undefined
        // items become null, as in any JSON array.
        const text = jsonText(datas);
        submit = () => this.#native.requestMany(first, text, kind, timeoutMs);
      } else {
        const frames = Buffer.concat(datas.map((data, i) => advancedFrame(this.#envelope(first + i, kind, data))));
        submit = () => this.#native.requestFrames(first, frames, timeoutMs);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#startGroup(first, datas.length, chunks, signal, submit);
  }

  /**
   * Reserves ids [first, first + n), submits them, and tracks them as one
   * group: one promise, settled by the first failure or by all results.
   * Outcomes reach a group only from the engine (never during `submit`),
   * each id exactly once, so the group always empties.
   */
  #startGroup(first, n, chunks, signal, submit) {
    this.#nextId = first + n;
    return new Promise((resolve, reject) => {
      try {
        submit();
      } catch (err) {
        // Whatever went out settles in the engine and reaches no group.
        this.#native.abortRange(first, first + n);
        reject(err);
        return;
      }
      this.#open.startGroup(first, n, chunks, signal, resolve, reject, (from, end) => this.#native.abortRange(from, end));
      this.#updateKeepAlive();
    });
  }

  /** An advanced-mode request envelope. */
  #envelope(id, kind, data) {
    const envelope = { id };
    if (kind !== undefined) envelope.type = kind;
    if (this.#protocolVersion !== undefined) envelope.version = this.#protocolVersion;
    envelope.data = data;
    return envelope;
  }

  /**
   * Sends a one-way message to one worker; false if it is not running.
   * With a handle (net.Socket, net.Server, dgram.Socket), as
   * child.send(message, handle, options).
   */
  send(workerId, message, handle, options = {}) {
    if (this.#link) throw localOnly('send()');
    if (this.#state === 'closed') return false;
    this.#flush();
    const index = this.#workerIndex(workerId);
    if (handle === undefined || handle === null) return this.#native.send(index, this.#encode(message));
    const passed = describeHandle(handle, options.keepOpen);
    const sent = this.#native.sendWithHandle(index, this.#encode(handleMessage(passed, message)), passed.fd, passed.type);
    if (sent) passed.release();
    return sent;
  }

  /** Sends a message to every worker (or those holding `options.role`); returns how many. */
  broadcast(message, options = {}) {
    if (this.#link) throw localOnly('broadcast()');
    if (this.#state === 'closed') return 0;
    this.#flush();
    return this.#native.broadcast(this.#encode(message), options.role === undefined ? undefined : String(options.role));
  }

  /** Gives a worker slot a role (kept across restarts). */
  assignRole(workerId, role) {
    if (this.#link) throw localOnly('assignRole()');
    return this.#native ? this.#native.assignRole(this.#workerIndex(workerId), String(role)) : false;
  }

  /** Takes a role from a worker slot. */
  removeRole(workerId, role) {
    if (this.#link) throw localOnly('removeRole()');
    return this.#native ? this.#native.removeRole(this.#workerIndex(workerId), String(role)) : false;
  }

  /**
   * Asks every live worker `{type: 'health-check'}` and collects its
   * `{type: 'health-status'}`, with what the parent sees of it (RSS, uptime,
   * requests served). A worker silent past `timeout` is reported
   * `{healthy: false, reason: 'timeout'}`. A remote pool: every sidecar
   * that answers `$SRV.STATS` within `timeout` (default 500 ms), with its
   * counters and its workers.
   */
  async health(options = {}) {
    if (this.#link) {
      if (this.#state !== 'open') throw this.#closedError();
      return this.#link.health(this.#native, nonNegative(options.timeout, 'timeout', 500));
    }
    const timeout = nonNegative(options.timeout, 'timeout', 3000);
    const { workers } = this.stats();
    const live = workers.filter((w) => w.pid !== null && w.connected);
    const started = performance.now();
    const answers = new Map();
    let done;
    const all = new Promise((resolve) => (done = resolve));
    const onMessage = (msg, workerId) => {
      if (msg?.type !== HEALTH_STATUS || answers.has(workerId)) return;
      answers.set(workerId, { msg, latencyMs: performance.now() - started });
      if (answers.size === live.length) done();
    };
    this.on('message', onMessage);
    for (const w of live) this.send(w.id, { type: HEALTH_CHECK });
    const timer = setTimeout(done, timeout);
    if (live.length === 0) done();
    await all;
    clearTimeout(timer);
    this.off('message', onMessage);
    return live.map((w) => {
      const parent = { rss: readRss(w.pid), completed: w.completed, failed: w.failed, restarts: w.restarts, poolUptimeMs: Date.now() - this.#startedAt };
      const answer = answers.get(w.id);
      if (!answer) return { workerId: w.id, pid: w.pid, healthy: false, reason: 'timeout', metrics: null, latencyMs: null, parent };
      return {
        workerId: w.id,
        pid: w.pid,
        healthy: answer.msg.healthy !== false,
        metrics: answer.msg.metrics ?? null,
        latencyMs: answer.latencyMs,
        parent,
      };
    });
  }

  /** Counters, latency percentiles and per-worker state (the fields of the engine's PoolStats). */
  stats() {
    this.#flush();
    return JSON.parse(this.#native ? this.#native.stats() : emptyStats(this.#size));
  }

  /**
   * The pool's metrics in the Prometheus text exposition format (0.0.4),
   * served as `WorkerPool.metricsContentType`. `options.labels` are added
   * to every sample (e.g. `{ pool: 'images' }` to tell pools apart).
   */
  metrics(options = {}) {
    const labels = metricLabels(options);
    this.#flush();
    return this.#native ? this.#native.metrics(labels) : emptyMetrics(this.#size, labels);
  }

  /**
   * Closes the pool. Without `drain`, pending requests reject with
   * ERR_FORKWIRE_CLOSED; with it, queued and in-flight work finishes first.
   * Resolves when every worker process has exited.
   */
  close(options = {}) {
    if (this.#closing) return this.#closing;
    if (!this.#native) return (this.#closing = Promise.resolve());
    this.#flush();
    const drain = Boolean(options.drain);
    const timeout = nonNegative(options.timeout, 'timeout', 5000);
    this.#state = drain ? 'draining' : 'closing';
    this.#closing = new Promise((resolve) => {
      this.#onClosed = resolve;
    });
    this.#updateKeepAlive();
    this.#native.close(drain, timeout);
    return this.#closing;
  }

  /**
   * Whether the pool keeps the Node process alive now, as `Timeout.hasRef()`:
   * true until it has closed unless `unref()` was called, and then only
   * while requests are pending or it is closing. It is also what
   * `async_hooks` users (`jest --detectOpenHandles`) read of the pool's
   * native handle.
   */
  hasRef() {
    return this.#state !== 'closed' && this.#native !== null && this.#handleRef;
  }

  /** Lets the Node process exit while the pool is idle (pending requests still hold it). */
  unref() {
    this.#refed = false;
    this.#updateKeepAlive();
    return this;
  }

  /** Undoes `unref()`. */
  ref() {
    this.#refed = true;
    this.#updateKeepAlive();
    return this;
  }

  /** Submits a request with a handle; the pool owns the handle once this returns. */
  #requestWithHandle(id, data, route, passed) {
    if (this.#mode === 'json') {
      this.#native.requestWithHandle(id, jsonText(data), undefined, route, passed.fd, passed.type);
    } else {
      const frame = advancedFrame(handleMessage(passed, this.#envelope(id, route.kind, data)));
      this.#native.requestWithHandle(id, undefined, frame, route, passed.fd, passed.type);
    }
    passed.release();
  }

  /** `workerId` checked: an integer slot index of this pool. */
  #workerIndex(workerId) {
    if (!Number.isInteger(workerId) || workerId < 0 || workerId >= this.#size) {
      const err = new RangeError(`workerId must be an integer in [0, ${this.#size}) (got ${workerId})`);
      err.code = 'ERR_OUT_OF_RANGE';
      throw err;
    }
    return workerId;
  }

  #closedError() {
    return this.#startError ?? new ForkwireError('the pool is closed', codes.CLOSED);
  }

  #track(id, entry) {
    const wasIdle = this.#open.idle;
    this.#open.track(id, entry);
    if (wasIdle) this.#updateKeepAlive();
  }

  /** Refs or unrefs the native wake-up, the pool's one event-loop handle, when that changes. */
  #updateKeepAlive() {
    if (this.#state === 'closed' || this.#native === null) return;
    const needed = this.#state !== 'open' || this.#refed || !this.#open.idle;
    if (needed === this.#handleRef) return;
    this.#handleRef = needed;
    this.#native.setRef(needed);
  }

  #drain() {
    if (!this.#native) return;
    deliver(this.#native.drain(), this.#sink);
    if (this.#open.idle) this.#updateKeepAlive();
  }

  /** A remote pool's connection event. */
  #connection(payload) {
    const [name, ...args] = this.#link.event(payload);
    if (payload.state === 'failed') {
      // Never connected: like a pool whose workers could not start, it is
      // closed, and says why to every later call.
      this.#startError = args[0];
      this.close();
    }
    if (name === 'error') this.#emitError(args[0]);
    else this.#emit(name, ...args);
  }

  /**
   * Emits one event of a batch. A listener that throws must not cost the
   * rest of the batch: its exception is rethrown on its own tick, where it
   * is an uncaught exception as with Node's own child 'message' events.
   */
  #emit(name, ...args) {
    this.#guard(() => this.emit(name, ...args));
  }

  #guard(fn, arg) {
    try {
      fn(arg);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  #emitError(err) {
    if (this.listenerCount('error') > 0) this.#emit('error', err);
    else process.emitWarning(err.message, { type: 'ForkwireWarning', code: err.code });
  }
}

/** The `Content-Type` of what `metrics()` returns. */
WorkerPool.metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';

/** `options.labels` of metrics() as `[name, value, ...]`, names checked as Prometheus requires. */
function metricLabels(options) {
  if (options === null || typeof options !== 'object') throw invalid('', 'an object', options);
  const { labels } = options;
  if (labels === undefined) return undefined;
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) throw invalid('labels', 'an object of label names to values', labels);
  const flat = [];
  for (const [name, value] of Object.entries(labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || name.startsWith('__') || METRIC_LABELS.has(name)) {
      throw invalid(`labels.${name}`, 'a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __, not outcome, state, worker or le)', name);
    }
    flat.push(name, String(value));
  }
  return flat;
}

module.exports = { WorkerPool };
