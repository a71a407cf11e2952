'use strict';
// Error classes with stable codes.
const { inspect } = require('util');

const PREFIX = 'ERR_FORKWIRE_';

/**
 * Stable error codes, keyed by their name without the prefix (TIMEOUT:
 * 'ERR_FORKWIRE_TIMEOUT'). The engine's come from the addon
 * (forkwire::pool::ErrorCode); the two about loading the addon itself are
 * defined here, since they must work when it cannot be loaded.
 */
const codes = Object.freeze(
  Object.fromEntries(
    [...engineCodes(), `${PREFIX}NATIVE_MISSING`, `${PREFIX}NATIVE_LOAD`].map((code) => [code.slice(PREFIX.length), code]),
  ),
);

/** The engine's codes, or none when the addon cannot be loaded (index.js reports that). */
function engineCodes() {
  try {
    return require('../binding.js').errorCodes();
  } catch {
    return [];
  }
}

/** A failure of the pool itself (timeout, abort, exit, close, ...). */
class ForkwireError extends Error {
  constructor(message, code, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ForkwireError';
    this.code = code;
    if (details.workerId !== undefined && details.workerId !== null) this.workerId = details.workerId;
    if (details.exitCode !== undefined) this.exitCode = details.exitCode;
    if (details.signal !== undefined) this.signal = details.signal;
    for (const key of ['platform', 'packageName', 'version']) if (details[key] !== undefined) this[key] = details[key];
  }
}

/** A worker answered `{id, error}`: its error, as the worker described it. */
class WorkerError extends Error {
  constructor(error, workerId) {
    const isObject = error !== null && typeof error === 'object';
    super(describe(isObject ? (error.message ?? error) : error));
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

/**
 * A message for whatever a worker put in `error`: strings as they are,
 * anything else through a bounded inspect (a worker's value may be huge,
 * or a graph of shared references that JSON.stringify would expand).
 */
function describe(value) {
  if (typeof value === 'string') return value;
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return String(value);
  const text = inspect(value, { depth: 2, maxArrayLength: 10, maxStringLength: 200, breakLength: Infinity });
  return text.length > 1000 ? `${text.slice(0, 1000)}...` : text;
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
