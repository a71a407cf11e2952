/**
 * forkwire: Node's `fork()` IPC channel spoken by Rust, and a Rust
 * worker-pool engine for Node.js.
 *
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events'
import type { Server, Socket } from 'node:net'
import type { Socket as DgramSocket } from 'node:dgram'

/** Stable error codes carried by {@link ForkwireError} as `code`. */
export declare const codes: Readonly<{
  TIMEOUT: 'ERR_FORKWIRE_TIMEOUT'
  ABORTED: 'ERR_FORKWIRE_ABORTED'
  QUEUE_FULL: 'ERR_FORKWIRE_QUEUE_FULL'
  CLOSED: 'ERR_FORKWIRE_CLOSED'
  WORKER_EXITED: 'ERR_FORKWIRE_WORKER_EXITED'
  PROTOCOL: 'ERR_FORKWIRE_PROTOCOL'
  SERIALIZE: 'ERR_FORKWIRE_SERIALIZE'
  VERSION: 'ERR_FORKWIRE_VERSION'
  SPAWN: 'ERR_FORKWIRE_SPAWN'
  /** A worker did not take a handle sent to it (it answered `NODE_HANDLE_NACK` each time). */
  HANDLE_REFUSED: 'ERR_FORKWIRE_HANDLE_REFUSED'
  /** A remote pool (`nats` option): no sidecar serves the service. */
  NO_WORKERS: 'ERR_FORKWIRE_NO_WORKERS'
  /** A remote pool: the NATS connection could not be made, was refused (credentials), or was lost with the request on it. */
  CONNECTION: 'ERR_FORKWIRE_CONNECTION'
  /** `require('forkwire')` found no native addon for this platform; the error names the package to install. */
  NATIVE_MISSING: 'ERR_FORKWIRE_NATIVE_MISSING'
  /** The native addon is installed but does not load (see `cause`). */
  NATIVE_LOAD: 'ERR_FORKWIRE_NATIVE_LOAD'
}>

/** One of the values of {@link codes}. */
export type ForkwireErrorCode = (typeof codes)[keyof typeof codes]

/**
 * A failure of the pool itself: timeout, abort, worker exit, close, ... `ERR_FORKWIRE_PROTOCOL` with a
 * `workerId` means the worker's reply could not be read (for example an advanced-mode value V8 refuses to
 * deserialize); only that request fails, and the pool emits `'protocolError'`.
 */
export declare class ForkwireError extends Error {
  readonly name: 'ForkwireError'
  /** What happened; stable across versions. */
  readonly code: ForkwireErrorCode
  /** The worker involved, when one was. */
  readonly workerId?: number
  /** For `ERR_FORKWIRE_WORKER_EXITED`: the worker's exit code, or null if a signal ended it. */
  readonly exitCode?: number | null
  /** For `ERR_FORKWIRE_WORKER_EXITED`: the signal that ended the worker (`'SIGKILL'`), or null. */
  readonly signal?: string | null
  /** For `ERR_FORKWIRE_NATIVE_*`: the platform looked for, e.g. `'linux-x64-gnu'`. */
  readonly platform?: string
  /** For `ERR_FORKWIRE_NATIVE_*`: the npm package that carries the addon, e.g. `'forkwire-linux-x64-gnu'`. */
  readonly packageName?: string
  /** For `ERR_FORKWIRE_NATIVE_*`: the version of that package this forkwire needs. */
  readonly version?: string
}

/**
 * A worker answered `{id, error}`. A string error becomes the message; an
 * object error (`{message, name?, stack?, code?}`) gives its fields.
 */
export declare class WorkerError extends Error {
  readonly name: 'WorkerError'
  /** The worker's own `code`, if its error object had one. */
  readonly code?: unknown
  /** The worker error's `name` (e.g. `'TypeError'`). */
  readonly remoteName?: string
  /** The worker error's stack, as the worker sent it. */
  readonly remoteStack?: string
  /** The whole error object the worker sent. */
  readonly details?: Record<string, unknown>
}

/** Restart policy for workers that exit or crash. */
export interface RestartOptions {
  /** Most restarts of one worker slot within `windowMs`; past it the pool emits `'error'` and leaves the slot empty. Default 5. */
  maxRestarts?: number
  /** The window for `maxRestarts`, in ms. Default 10000. */
  windowMs?: number
  /** Delay before a restart, doubled for each recent restart of the slot, in ms. Default 100. */
  backoffMs?: number
}

/**
 * Where a remote pool's sidecars are: `new WorkerPool({ nats: { servers, service } })` sends every request
 * through NATS to one of the `forkwire-sidecar` processes serving `service` (NATS picks one; the sidecars run
 * and supervise the workers). Credentials as NATS clients take them.
 */
export interface NatsOptions {
  /** Server URLs (`nats://host:4222`, `tls://...`), as an array or comma-separated. Default `'nats://127.0.0.1:4222'`. */
  servers?: string | string[]
  /** The service the sidecars serve (`forkwire-sidecar --service`): letters, digits, `-`, `_`. Required. */
  service: string
  /** The connection's name in the server's monitoring. */
  name?: string
  /** A credentials file (`.creds`: JWT and nkey seed). */
  credentials?: string
  /** User and password (both or neither). */
  user?: string
  password?: string
  /** An authentication token. */
  token?: string
  /** A CA file for the servers' certificates. */
  tlsCa?: string
  /** A client certificate and its key, for mutual TLS (both or neither). */
  tlsCert?: string
  tlsKey?: string
  /**
   * A request that no sidecar has claimed for this many ms was lost (its sidecar died, or it never reached
   * one): it is resent if it has `retries` left, else it rejects with `ERR_FORKWIRE_WORKER_EXITED`. Sidecars
   * claim what they hold every 500 ms. 0: never. Default 3000.
   */
  lostAfter?: number
  /** Open requests at most; more reject with `ERR_FORKWIRE_QUEUE_FULL`. Default 1048576. */
  maxPending?: number
  /** How long one connection attempt may take, in ms. Default 2000. */
  connectTimeout?: number
}

/** Options of {@link WorkerPool}. Exactly one of `command`, `script` and `nats` is required. */
export interface WorkerPoolOptions {
  /**
   * A remote pool: the workers are those of the `forkwire-sidecar` processes serving `nats.service` on the NATS
   * servers, on any hosts. `request`, `requestMany` (and `batchSize`), `timeout`, `retries`, `stats`, `health`,
   * `metrics`, `close` work as for a local pool; `send`, `broadcast`, roles, `workerId`/`role`/`key` and handles
   * throw `ERR_METHOD_NOT_IMPLEMENTED`, and the options that describe local workers (`command`, `size`, ...) are
   * refused. Requests cross as JSON. NATS delivers at most once: give `retries` only to idempotent work.
   */
  nats?: NatsOptions
  /** A program that speaks the channel (e.g. a Rust worker built on the forkwire crate). */
  command?: string
  /** A Node script, run like `fork(script)` with `process.execPath`. */
  script?: string
  /** Arguments for `command` or `script`. Default `[]`. */
  args?: string[]
  /** Node options for `script` workers. Default `[]`. */
  execArgv?: string[]
  /** The `node` binary for `script` workers. Default `process.execPath`. */
  execPath?: string
  /** Number of workers, at most 4096. Default `os.availableParallelism()`. */
  size?: number
  /** Requests in flight per worker. Default 1. */
  concurrency?: number
  /**
   * `requestMany()` sends its items at most this many to a request, `{id, type: 'forkwire:batch', data: items}`
   * (or, with `requestMany`'s `type`, `data: {type, items}`: see {@link RequestManyOptions.type}), each answered
   * by one reply whose result is `{results: [...]}`, the items' results in order: far fewer messages for many
   * small items. A list shorter than `size * batchSize` is spread over the workers (at most `ceil(n / size)`
   * items to a request). Each such request is one request to the pool: `timeout`, `retries` and
   * `maxTasksPerWorker` count it once, and a retry runs all its items again. Only for workers that answer such
   * requests (Rust workers on `forkwire::serve` do; a reply that is not `{results}` of the right length rejects
   * with `ERR_FORKWIRE_PROTOCOL`). Default 0: one request per item, which every worker understands.
   */
  batchSize?: number
  /** The channel's serialization, as `fork()`'s option. Default `'json'`. */
  serialization?: 'json' | 'advanced'
  /** Default per-request timeout in ms; 0 means none. Default 0. */
  timeout?: number
  /** Requests that may wait for a worker; past it `request()` rejects with `ERR_FORKWIRE_QUEUE_FULL`. Default `Infinity`. */
  maxQueue?: number
  /** The workers' environment. Default `process.env`. */
  env?: NodeJS.ProcessEnv
  /** The workers' working directory. Default the parent's. */
  cwd?: string
  /** The workers' stdin/stdout/stderr: shared with the parent, or `/dev/null`. Default `'inherit'`. */
  stdio?: 'inherit' | 'ignore'
  /** Worker replacement, or `false` to never replace. Default `{}` (the defaults of {@link RestartOptions}). */
  restart?: RestartOptions | false
  /** Times a request is resent to another worker when its worker dies (per request too). Default 0: it rejects with `ERR_FORKWIRE_WORKER_EXITED`. */
  retries?: number
  /**
   * Heartbeats: every `interval` ms each worker gets `{type: 'heartbeat-request'}` and must answer
   * `{type: 'heartbeat'}`; one silent for `timeout` ms is killed and replaced (`'unresponsive'` event).
   * Default `false` (off). `timeout` defaults to 3 x `interval` (default 1000).
   */
  heartbeat?: { interval?: number; timeout?: number } | false
  /** Retire a worker (after its in-flight work) once it has answered this many requests. Default 0: never. */
  maxTasksPerWorker?: number
  /** Retire a worker whose resident memory (read by the parent from /proc) exceeds this many MiB. Default 0: no limit. */
  maxMemoryMb?: number
  /** Recycle a worker after this many bad frames. Default 0: never. */
  maxProtocolErrors?: number
  /** Sent as `version` in every request; a reply with another `version` rejects with `ERR_FORKWIRE_VERSION`. Default: none. */
  protocolVersion?: string | number
  /**
   * The largest message accepted from a worker, in bytes (json: one line; advanced: one payload). A larger one
   * is skipped as it arrives, never buffered whole, and reported as a `'protocolError'` event; a request
   * waiting for it times out or fails as usual. The parent's buffers for one worker hold at most about twice
   * this plus 64 KiB, and grow only with bytes actually received. An integer in [1, 268435456] (256 MiB: a message reaches JS as one string).
   * Default 16 MiB (16777216).
   */
  maxFrameBytes?: number
  /**
   * Bytes of replies, messages and protocol errors waiting for the JS thread. Past it the pool stops reading
   * from workers until JS has taken what waits (a busy event loop slows workers down; nothing is dropped).
   * JS takes them 8 MiB at a time. Default 32 MiB (33554432).
   */
  maxBacklogBytes?: number
}

/** One entry of a remote pool's {@link WorkerPool.health}: a sidecar, from its `$SRV.STATS` answer. */
export interface SidecarHealth {
  /** Its service instance id. */
  id: string
  host: string
  pid: number
  version: string
  /** When it started (RFC 3339). */
  started: string
  /** Requests it answered, and of those with an error. */
  requests: number
  errors: number
  /** Mean time from taking a request to answering it. */
  averageLatencyMs: number
  /** Requests it holds now, and the most it holds before answering busy (the client then sends them elsewhere). */
  inFlight: number
  maxInFlight: number
  /** Draining after SIGTERM: taking no new requests. */
  draining: boolean
  /** At least one of its workers runs. */
  healthy: boolean
  /** Its local pool's {@link PoolStats}, with its workers. */
  pool: PoolStats
}

/** One entry of {@link WorkerPool.health}. */
export interface WorkerHealth {
  workerId: number
  pid: number
  /** The worker's own verdict (`healthy` of its `{type: 'health-status'}`), or false if it did not answer. */
  healthy: boolean
  /** `'timeout'` when the worker did not answer in time. */
  reason?: 'timeout'
  /** The worker's `metrics`, or null. */
  metrics: Record<string, unknown> | null
  /** Round trip of the health check in ms, or null. */
  latencyMs: number | null
  /** What the parent sees without asking: RSS in bytes (from /proc), requests served, restarts, pool uptime. */
  parent: { rss: number | null; completed: number; failed: number; restarts: number; poolUptimeMs: number }
}

/** Options of {@link WorkerPool.requestMany}. */
export interface RequestManyOptions {
  /**
   * The items' `type`, as `request()`'s (a non-string is sent as its string). Without `batchSize` each item goes
   * as `{id, type, data: item}`. With `batchSize` a batch goes as `{id, type: 'forkwire:batch', data: {type,
   * items: [...]}}`, and a `forkwire::serve` handler sees each item's `req.kind()` as `type`; without `type` a
   * batch keeps the older form, `data: [...]`. A worker that reads only the older form answers a typed batch with
   * an error (it does not run typed items untyped). Default: none.
   */
  type?: string
  /** Items per request for this call (see {@link WorkerPoolOptions.batchSize}); 0 for one request per item. */
  batchSize?: number
  /**
   * Timeout in ms of each request (each item, or each batch with `batchSize`), counted from this call; 0 means
   * none. The first to time out rejects the call with `ERR_FORKWIRE_TIMEOUT`. Default: the pool's `timeout`.
   */
  timeout?: number
  /**
   * Aborts the whole call: it rejects once with `ERR_FORKWIRE_ABORTED` (`cause`: the signal's reason), and every
   * request of it still queued or in flight is cancelled (the workers get `{type: 'cancel', id}`). An abort after
   * the call settled does nothing. An already aborted signal rejects at once and sends nothing.
   */
  signal?: AbortSignal
}

/** Options of {@link WorkerPool.metrics}. */
export interface MetricsOptions {
  /**
   * Labels added to every sample, e.g. `{ pool: 'images' }` to tell pools apart. Names must match
   * `[a-zA-Z_][a-zA-Z0-9_]*`, not start with `__`, and not be one the metrics use (`outcome`, `state`, `worker`,
   * `le`); values are converted to strings and escaped. Default: none.
   */
  labels?: Record<string, string | number | boolean>
}

/** Options of {@link WorkerPool.request}. */
export interface RequestOptions {
  /** Timeout in ms for this request; 0 means none. Default: the pool's `timeout`. */
  timeout?: number
  /** Aborts the request: it rejects with `ERR_FORKWIRE_ABORTED` and the worker gets `{type: 'cancel', id}`. */
  signal?: AbortSignal
  /** The envelope's `type`. */
  type?: string
  /** Run on this worker slot only. */
  workerId?: number
  /** Run on a worker holding this role. */
  role?: string
  /** Run on the same worker as every other request with this key, while it lives. */
  key?: string
  /** Called with each `{id, progress}` the worker sends before its reply. */
  onProgress?: (progress: unknown) => void
  /** Resends if the worker dies; overrides the pool's `retries`. */
  retries?: number
  /**
   * A socket or server sent with the request, as `child.send(msg, handle)` sends it: the worker gets it with the
   * request (a Rust worker: `Request::take_handle()`; a Node script: the second argument of `'message'`, with the
   * envelope as the first). From a `'connection'` handler, this spreads connections over the workers. The pool owns
   * the handle once `request()` returns; it is not resent if the worker that took it dies. A worker that refuses it
   * rejects the request with `ERR_FORKWIRE_HANDLE_REFUSED`.
   */
  handle?: SendHandle
  /** With `handle`: keep the socket open in this process too, as `child.send()`'s `keepOpen`. Default false: it is closed here as Node closes a sent socket. */
  keepOpen?: boolean
}

/**
 * What can go with a message or request: a connected `net.Socket`, a listening `net.Server`, or a bound
 * `dgram.Socket` (as with `child.send()`; on Linux).
 */
export type SendHandle = Socket | Server | DgramSocket

/** Options of {@link WorkerPool.send} with a handle. */
export interface SendHandleOptions {
  /** Keep the socket open in this process too. Default false: a `net.Socket` is closed here as `child.send()` closes it. */
  keepOpen?: boolean
}

/** Options of {@link WorkerPool.close}. */
export interface CloseOptions {
  /** Finish queued and in-flight requests first (new ones are refused). Default false: they reject with `ERR_FORKWIRE_CLOSED`. */
  drain?: boolean
  /** Ms to wait (for the drain, then for workers to exit) before killing what is left. Default 5000. */
  timeout?: number
}

/** One worker slot in {@link PoolStats}. */
export interface WorkerStats {
  /** The slot id, stable across restarts (0 .. size-1). */
  id: number
  /** The current process id, or null while no process runs in the slot. */
  pid: number | null
  /** Whether its channel is open. */
  connected: boolean
  /** Roles assigned to the slot. */
  roles: string[]
  /** Requests in flight on it. */
  inFlight: number
  /** Requests it completed. */
  completed: number
  /** Requests that failed on it. */
  failed: number
  /** How many times its process was replaced. */
  restarts: number
}

/** What {@link WorkerPool.stats} returns. */
export interface PoolStats {
  size: number
  /** Live workers with nothing in flight. */
  idle: number
  /** Live workers with requests in flight. */
  busy: number
  /** Requests waiting for a worker. */
  queued: number
  /** Requests sent and not yet answered. */
  inFlight: number
  completed: number
  failed: number
  timedOut: number
  aborted: number
  /** Replies that came after their request had settled; they were dropped. */
  lateReplies: number
  restarts: number
  /** Requests resent to another worker after theirs died. */
  retried: number
  /** Workers killed for missing heartbeats. */
  unresponsive: number
  /** Bad frames received from workers. */
  protocolErrors: number
  /**
   * Requests refused when submitted, never queued (`ERR_FORKWIRE_QUEUE_FULL`, a request that reached a pool
   * closing in the engine, no worker left to run it). Not counted in `failed`.
   */
  rejected: number
  /**
   * Percentiles of the time from submission to settlement of the requests counted in `completed` and `failed`,
   * in ms; from the histogram `metrics()` exports (log-linear buckets, 90 a decade from 1 µs to 100 s: an
   * estimate is within 10% of the true value, about 1% at the top of a decade).
   */
  latencyMs: LatencyPercentiles
  /** Per worker slot (none for a remote pool). */
  workers: WorkerStats[]
  /** A remote pool: the service called. */
  service?: string
  /** A remote pool: whether the NATS connection is up, and to which server. */
  connected?: boolean
  server?: string | null
  /** A remote pool: times the connection was lost. */
  disconnects?: number
  /** A remote pool: requests a full sidecar gave back unstarted, sent again. */
  busyResends?: number
  /** A remote pool: requests no sidecar claimed within `nats.lostAfter`. */
  lost?: number
}

/** Latency percentiles in ms; `null` before the first request settles. */
export interface LatencyPercentiles {
  p50: number | null
  p90: number | null
  p99: number | null
}

/**
 * A pool of worker processes (Rust programs on the forkwire crate, or Node
 * scripts) with request/response, queueing, roles and restarts in Rust.
 *
 * @example
 * ```js
 * const pool = new WorkerPool({ command: './target/release/my-worker', size: 2 })
 * await pool.ready()
 * const result = await pool.request({ n: 21 }, { timeout: 1000 })
 * await pool.close()
 * ```
 */
export declare class WorkerPool extends EventEmitter {
  constructor(options: WorkerPoolOptions)
  /** Number of worker slots (0 for a remote pool: its sidecars have the workers). */
  readonly size: number
  /**
   * Resolves once every worker has started; rejects with `ERR_FORKWIRE_SPAWN` if one could not. A remote pool:
   * once connected to NATS; rejects with `ERR_FORKWIRE_CONNECTION` if no server could be reached or the
   * credentials were refused (the pool is then closed).
   */
  ready(): Promise<void>
  /** Sends `{id, type?, data}` to a worker and resolves with the `result` of its `{id, result}`. */
  request<T = unknown>(data: unknown, options?: RequestOptions): Promise<T>
  /**
   * Sends many requests in one call (any worker) and resolves with their results in order; rejects with the first
   * failure (the other requests still run, unless `signal` aborts them). `options.type` is every item's type,
   * `options.timeout` and `options.signal` apply as described in {@link RequestManyOptions};
   * `options.batchSize` overrides the pool's `batchSize` for this call. In json mode the requests cross to the
   * engine in one call, batched or not.
   */
  requestMany<T = unknown>(items: unknown[], options?: RequestManyOptions): Promise<T[]>
  /** Sends a one-way message to one worker; false if it is not running. */
  send(workerId: number, message: unknown): boolean
  /**
   * Sends a one-way message with a handle to one worker, as `child.send(message, handle, options)`; false if the
   * worker is not running (the handle is then untouched). A worker that refuses the handle is reported as an
   * `'error'` event with `ERR_FORKWIRE_HANDLE_REFUSED`. Throws `ERR_INVALID_HANDLE_TYPE` for anything else.
   */
  send(workerId: number, message: unknown, handle: SendHandle, options?: SendHandleOptions): boolean
  /** Sends a message to every worker, or to those holding `options.role`; returns how many. */
  broadcast(message: unknown, options?: { role?: string }): number
  /** Gives a worker slot a role (kept across restarts). Returns false for no such slot. */
  assignRole(workerId: number, role: string): boolean
  /** Takes a role from a worker slot. Returns whether it had it. */
  removeRole(workerId: number, role: string): boolean
  /** Counters, latency percentiles and per-worker state. */
  stats(): PoolStats
  /**
   * The pool's metrics in the Prometheus text exposition format, version 0.0.4 (serve it with
   * {@link WorkerPool.metricsContentType}): `forkwire_requests_total{outcome}` (`completed`, `remote_error`,
   * `timed_out`, `aborted`, `worker_exited`, `closed`, `queue_full`, `protocol_error`, `version_mismatch`,
   * `handle_refused`, `serialize_error`, `spawn_error`), `forkwire_requests_rejected_total`,
   * `forkwire_requests_in_flight`, `forkwire_queue_depth`, `forkwire_workers{state="idle|busy|down"}`,
   * `forkwire_worker_restarts_total{worker}`, `forkwire_worker_resident_memory_bytes{worker}` (from /proc),
   * `forkwire_worker_unresponsive_total`, `forkwire_requests_retried_total`, `forkwire_late_replies_total`,
   * `forkwire_protocol_errors_total`, and the histogram `forkwire_request_duration_seconds` (submission to
   * settlement, `le` from 25 µs to 60 s; `_count` = `completed + failed`). Counters, gauges and the histogram
   * come from one snapshot, so they agree with each other. A closed pool still answers (its last counts).
   *
   * @example
   * ```js
   * http.createServer((req, res) => {
   *   res.writeHead(200, { 'Content-Type': WorkerPool.metricsContentType }).end(pool.metrics())
   * }).listen(9464)
   * ```
   */
  metrics(options?: MetricsOptions): string
  /** The `Content-Type` of {@link WorkerPool.metrics}' text: `'text/plain; version=0.0.4; charset=utf-8'`. */
  static readonly metricsContentType: 'text/plain; version=0.0.4; charset=utf-8'
  /**
   * Asks every live worker `{type: 'health-check'}` and reports each, with what the parent sees. Default `timeout`
   * 3000 ms. A remote pool reports every sidecar that answers `$SRV.STATS` within `timeout` (default 500 ms):
   * `pool.health<SidecarHealth>()`.
   */
  health<T extends WorkerHealth | SidecarHealth = WorkerHealth>(options?: { timeout?: number }): Promise<T[]>
  /** Closes the pool; resolves when every worker process has exited. */
  close(options?: CloseOptions): Promise<void>
  /**
   * Lets the Node process exit while the pool has no pending requests. An idle unref()ed pool is not reported by
   * `jest --detectOpenHandles`, nor is a closed one.
   */
  unref(): this
  /** Undoes {@link WorkerPool.unref}. */
  ref(): this
  /**
   * Whether the pool keeps the Node process alive now, as `Timeout.hasRef()`: until it has closed, always unless
   * `unref()` was called, and after `unref()` only while requests are pending or it is closing. Its one event-loop
   * handle is reported to `async_hooks` as a `ForkwireWorkerPool` resource whose `hasRef()` is this.
   */
  hasRef(): boolean

  /** A worker sent something that is not a reply. */
  on(event: 'message', listener: (message: unknown, workerId: number) => void): this
  /** A worker process ended. */
  on(event: 'exit', listener: (workerId: number, code: number | null, signal: string | null) => void): this
  /** A worker process (re)started. */
  on(event: 'spawn', listener: (workerId: number, pid: number) => void): this
  /** A worker missed its heartbeats and was killed (it will be replaced). */
  on(event: 'unresponsive', listener: (workerId: number, pid: number) => void): this
  /** A worker sent a frame that could not be read. */
  on(event: 'protocolError', listener: (info: { workerId: number; message: string }) => void): this
  /** A pool-level failure, e.g. a worker that cannot be restarted. Without a listener it becomes a process warning. */
  on(event: 'error', listener: (err: ForkwireError) => void): this
  /** A remote pool connected to a NATS server (the first time). */
  on(event: 'connect', listener: (server: string) => void): this
  /** A remote pool lost its connection; requests in flight on it reject with `ERR_FORKWIRE_CONNECTION` (or are resent, with `retries`). */
  on(event: 'disconnect', listener: () => void): this
  /** A remote pool connected again, maybe to another server of the cluster. */
  on(event: 'reconnect', listener: (server: string) => void): this
  on(event: string | symbol, listener: (...args: any[]) => void): this
}

/** The version of the loaded native addon (the Rust crate's version). */
export declare function nativeVersion(): string
