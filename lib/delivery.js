'use strict';
// What the engine delivers, read: a batch from `native.drain()` is a JSON
// array of `[kind, id, payload, worker]` quadruples (src/inbox.rs), with
// advanced-mode payloads as Buffers beside it. Each item is handed to the
// pool as a settlement, a progress value or an event.
const { codes, ForkwireError, WorkerError, fromNative } = require('./errors');
const { advancedDecode } = require('./serialization');

// Item kinds and flags (src/inbox.rs).
const RESULT = 0;
const REMOTE_ERROR = 1;
const FAILED = 2;
const MESSAGE = 3;
const PROGRESS = 4;
const EXIT = 5;
const PROTOCOL_ERROR = 6;
const ERROR = 7;
const SPAWN = 8;
const CLOSED = 9;
const UNRESPONSIVE = 10;
const CONNECTION = 11;
const HEALTH = 12;
const FLAG_UNDEFINED = 16;
const FLAG_FRAME = 32;

/** A payload that could not be deserialized, and the error its request gets. */
class Undecodable {
  constructor(message, cause, workerId) {
    this.error = new ForkwireError(message, codes.PROTOCOL, { cause, workerId });
  }
}

/**
 * One item's payload as a value: json payloads arrive parsed with the
 * batch; advanced ones are deserialized here. A payload V8 refuses (the
 * engine checks the envelope, not every value V8 would reject) is
 * reported as a protocol error of its worker and comes back as an
 * Undecodable, so one bad reply costs only its own request, never the
 * batch.
 */
function decode(sink, kind, payload, frames, member, worker) {
  if (kind & FLAG_UNDEFINED) return undefined;
  if (!(kind & FLAG_FRAME)) return payload;
  try {
    const whole = advancedDecode(frames.subarray(payload + 4, payload + 4 + frames.readUInt32BE(payload)));
    return member === undefined ? whole : whole?.[member];
  } catch (err) {
    const workerId = worker >= 0 ? worker : undefined;
    const message = `worker ${workerId ?? '?'}: a message that cannot be deserialized: ${err.message}`;
    sink.emit('protocolError', { workerId, message });
    return new Undecodable(message, err, workerId);
  }
}

/**
 * Hands every item of `batch` to `sink`: `settle(id, ok, value)`,
 * `progressListener(id)`, `guard(fn, value)`, `emit(name, ...args)`,
 * `emitError(err)`, `connection(payload)`, `health(token, payload)`,
 * `closed()`.
 */
function deliver({ json, frames }, sink) {
  const items = JSON.parse(json);
  for (let i = 0; i < items.length; i += 4) {
    const kind = items[i];
    const id = items[i + 1];
    const payload = items[i + 2];
    const worker = items[i + 3];
    switch (kind & 15) {
      case RESULT: {
        const value = decode(sink, kind, payload, frames, 'result', worker);
        if (value instanceof Undecodable) sink.settle(id, false, value.error);
        else sink.settle(id, true, value);
        break;
      }
      case REMOTE_ERROR: {
        const value = decode(sink, kind, payload, frames, 'error', worker);
        sink.settle(id, false, value instanceof Undecodable ? value.error : new WorkerError(value, worker));
        break;
      }
      case FAILED:
        sink.settle(id, false, fromNative(payload));
        break;
      case PROGRESS: {
        const onProgress = sink.progressListener(id);
        if (!onProgress) break;
        const value = decode(sink, kind, payload, frames, 'progress', worker);
        if (!(value instanceof Undecodable)) sink.guard(onProgress, value);
        break;
      }
      case MESSAGE: {
        const value = decode(sink, kind, payload, frames, undefined, id);
        if (!(value instanceof Undecodable)) sink.emit('message', value, id);
        break;
      }
      case EXIT:
        sink.emit('exit', id, payload.code, payload.signal);
        break;
      case UNRESPONSIVE:
        sink.emit('unresponsive', id, payload.pid);
        break;
      case SPAWN:
        sink.emit('spawn', id, payload.pid);
        break;
      case PROTOCOL_ERROR:
        sink.emit('protocolError', { workerId: id, message: payload.message });
        break;
      case ERROR:
        sink.emitError(fromNative(payload));
        break;
      case CONNECTION:
        sink.connection(payload);
        break;
      case HEALTH:
        sink.health(id, payload);
        break;
      case CLOSED:
        sink.closed();
        break;
      default:
        break;
    }
  }
}

module.exports = { deliver };
