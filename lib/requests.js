'use strict';
// The requests a pool has open, as the JS thread keeps them: one promise
// per `request()`, and one per `requestMany()` call over a range of ids
// (a group), each settled exactly once by the outcomes the engine
// delivers.
const { vocabulary } = require('../binding.js');
const { codes, ForkwireError } = require('./errors');

/** The type of a request that carries many items (forkwire::vocabulary::BATCH). */
const BATCH_TYPE = vocabulary().batch;

class OpenRequests {
  #pending = new Map();
  /**
   * requestMany() calls: id ranges [first, end) with one promise each. A
   * group stays until every one of its ids has settled, even after it has
   * rejected.
   */
  #groups = [];

  /** No request or group is open. */
  get idle() {
    return this.#pending.size === 0 && this.#groups.length === 0;
  }

  /** Keeps `entry` ({resolve, reject, signal, onAbort, onProgress}) for request `id`. */
  track(id, entry) {
    this.#pending.set(id, entry);
  }

  /** The progress callback of request `id`, if it is open and has one. */
  progressListener(id) {
    return this.#pending.get(id)?.onProgress;
  }

  /**
   * Keeps a group for ids [first, first + n): settled by the first failure
   * or by all results (`chunks`: for batch requests, the items each
   * carries). `abort(first, end)` cancels what is still open when
   * `signal` fires.
   */
  startGroup(first, n, chunks, signal, resolve, reject, abort) {
    const group = { first, end: first + n, results: new Array(n), left: n, failed: false, resolve, reject, chunks, signal, onAbort: undefined };
    if (signal) {
      group.onAbort = () => {
        if (group.left === 0) return;
        if (!group.failed) {
          group.failed = true;
          group.reject(abortedError(group.signal));
        }
        abort(group.first, group.end);
      };
      signal.addEventListener('abort', group.onAbort, { once: true });
    }
    this.#groups.push(group);
  }

  /** Request `id` settled: with its result (`ok`) or an error. */
  settle(id, ok, value) {
    const entry = this.#pending.get(id);
    if (entry === undefined) {
      this.#settleInGroup(id, ok, value);
      return;
    }
    this.#pending.delete(id);
    if (entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
    if (ok) {
      entry.resolve(value);
      return;
    }
    if (entry.signal && value.code === codes.ABORTED && value.cause === undefined) value.cause = entry.signal.reason;
    entry.reject(value);
  }

  #settleInGroup(id, ok, value) {
    const groups = this.#groups;
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g];
      if (id < group.first || id >= group.end) continue;
      const at = id - group.first;
      if (ok && group.chunks !== null && !group.failed) {
        try {
          value = batchResults(value, group.chunks[at]);
        } catch (err) {
          ok = false;
          value = err;
        }
      }
      if (!ok && !group.failed) {
        group.failed = true;
        group.reject(value);
      } else if (ok && !group.failed) {
        group.results[at] = value;
      }
      if (--group.left === 0) {
        groups.splice(g, 1);
        if (group.onAbort) group.signal.removeEventListener('abort', group.onAbort);
        if (!group.failed) group.resolve(group.chunks === null ? group.results : group.results.flat());
      }
      return;
    }
  }
}

/**
 * The `data` of a batch request: the items as they are (the first form,
 * which every batch-speaking worker reads) or, with a type, `{type,
 * items}`, which forkwire::serve hands to the handler as items of that
 * type (a worker that knows only the first form answers it with an error
 * rather than running typed items untyped).
 */
function batchData(items, kind) {
  return kind === undefined ? items : { type: kind, items };
}

/**
 * The results of a batch request from its answer, `{results: [...]}` with
 * one result per item; a worker that merely echoes `data` (an array)
 * cannot pass for one that answers batches.
 */
function batchResults(answer, length) {
  const results = answer !== null && typeof answer === 'object' && !Array.isArray(answer) ? answer.results : undefined;
  if (Array.isArray(results) && results.length === length) return results;
  const got = Array.isArray(results) ? `{results} of ${results.length}` : Array.isArray(answer) ? 'an array' : typeof answer;
  throw new ForkwireError(
    `the worker answered a ${BATCH_TYPE} request of ${length} items with ${got}, not {results: [...]}: does it speak batches? (forkwire::serve does)`,
    codes.PROTOCOL,
  );
}

function abortedError(signal) {
  return new ForkwireError('the request was aborted', codes.ABORTED, { cause: signal.reason });
}

module.exports = { OpenRequests, BATCH_TYPE, batchData, abortedError };
