'use strict';
// What a WorkerPool with `options.nats` adds to the local one: the state of
// its connection (ready(), the connect/disconnect/reconnect events) and
// health() from the sidecars' $SRV.STATS answers. Requests themselves take
// the same path as a local pool's.
const { codes, ForkwireError } = require('./errors');

class RemoteLink {
  #resolveReady;
  #rejectReady;
  #connectedOnce = false;
  #health = new Map();
  #nextToken = 1;

  constructor() {
    /** Settles with the first connection: resolved, or rejected with ERR_FORKWIRE_CONNECTION. */
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // A pool nobody asks ready() of must not report an unhandled rejection.
    this.ready.catch(() => {});
  }

  /**
   * A connection event from the engine, as the pool's event: `[name,
   * ...args]`, or null for none.
   */
  event({ state, server, message }) {
    switch (state) {
      case 'connected':
        if (this.#connectedOnce) return ['reconnect', server];
        this.#connectedOnce = true;
        this.#resolveReady();
        return ['connect', server];
      case 'disconnected':
        return ['disconnect'];
      case 'failed': {
        const err = new ForkwireError(message, codes.CONNECTION);
        this.#rejectReady(err);
        return ['error', err];
      }
      default:
        return ['error', new ForkwireError(message, codes.CONNECTION)];
    }
  }

  /**
   * The pool closed: a ready() still waiting rejects (closed before it
   * connected), and so does every health() still waiting.
   */
  closed(error) {
    this.#rejectReady(error);
    for (const call of this.#health.values()) call.reject(error);
    this.#health.clear();
  }

  /** Asks every sidecar for its stats; resolves with what came within `timeout` ms. */
  health(native, timeout) {
    const token = this.#nextToken++;
    return new Promise((resolve, reject) => {
      this.#health.set(token, { resolve, reject });
      native.health(token, timeout);
    });
  }

  /** The engine's answer to health() call `token`. */
  healthAnswer(token, answer) {
    const call = this.#health.get(token);
    if (!call) return;
    this.#health.delete(token);
    if (answer.error) call.reject(new ForkwireError(answer.error.message, answer.error.code));
    else call.resolve(answer.sidecars);
  }
}

/** The error of a local pool's method called on a remote one. */
function localOnly(what) {
  const err = new Error(`${what} is not available on a remote pool (options.nats): the sidecars run the workers`);
  err.code = 'ERR_METHOD_NOT_IMPLEMENTED';
  return err;
}

module.exports = { RemoteLink, localOnly };
