'use strict';
// Error classes with stable codes.

/** Stable error codes. */
const codes = Object.freeze({
  TIMEOUT: 'ERR_FORKWIRE_TIMEOUT',
  ABORTED: 'ERR_FORKWIRE_ABORTED',
  QUEUE_FULL: 'ERR_FORKWIRE_QUEUE_FULL',
  CLOSED: 'ERR_FORKWIRE_CLOSED',
  WORKER_EXITED: 'ERR_FORKWIRE_WORKER_EXITED',
  PROTOCOL: 'ERR_FORKWIRE_PROTOCOL',
  SERIALIZE: 'ERR_FORKWIRE_SERIALIZE',
  VERSION: 'ERR_FORKWIRE_VERSION',
  SPAWN: 'ERR_FORKWIRE_SPAWN',
  HANDLE_REFUSED: 'ERR_FORKWIRE_HANDLE_REFUSED',
});

/** A failure of the pool itself (timeout, abort, exit, close, ...). */
class ForkwireError extends Error {
  constructor(message, code, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ForkwireError';
    this.code = code;
    if (details.workerId !== undefined && details.workerId !== null) this.workerId = details.workerId;
    if (details.exitCode !== undefined) this.exitCode = details.exitCode;
    if (details.signal !== undefined) this.signal = details.signal;
  }
}

/** A worker answered `{id, error}`: its error, as the worker described it. */
class WorkerError extends Error {
  constructor(error, workerId) {
    const isObject = error !== null && typeof error === 'object';
    const message = isObject ? String(error.message ?? JSON.stringify(error)) : String(error);
    super(message);
    this.name = 'WorkerError';
    if (isObject) {
      if (typeof error.name === 'string') this.remoteName = error.name;
      if (error.code !== undefined) this.code = error.code;
      if (typeof error.stack === 'string') this.remoteStack = error.stack;
      this.details = error;
    }
    if (workerId !== undefined && workerId >= 0) this.workerId = workerId;
  }
}

/** Builds a ForkwireError from the engine's description of a failure. */
function fromNative(failure) {
  return new ForkwireError(failure.message, failure.code, {
    workerId: failure.worker,
    exitCode: failure.exitCode,
    signal: failure.signal,
  });
}

module.exports = { codes, ForkwireError, WorkerError, fromNative };
