'use strict';
// Handles as `child.send(message, handle)` passes them: which Node type a
// value is, the descriptor the engine duplicates, and what becomes of the
// JS side's own copy afterwards. Without `keepOpen` a net.Socket is
// detached and closed here exactly as Node's own child.send() does it
// (Node waits for the ACK to close it; the engine holds a duplicate
// instead, so it can close at once and no byte is read by this process
// after the hand-over).
const net = require('net');
const dgram = require('dgram');
const { codes, ForkwireError } = require('./errors');

let httpCommon;

function noop() {}

function invalidHandle() {
  const err = new TypeError('This handle type cannot be sent');
  err.code = 'ERR_INVALID_HANDLE_TYPE';
  return err;
}

function descriptor(native) {
  const fd = native?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new ForkwireError('the handle is closed, or has no descriptor to pass', codes.SERIALIZE);
  }
  return fd;
}

/** The internal state of a dgram.Socket, which holds its native handle. */
function dgramState(socket) {
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  return symbol === undefined ? undefined : socket[symbol];
}

/**
 * What Node does to a net.Socket it sent without keepOpen: the server no
 * longer counts it, an HTTP parser lets go of it, and its handle closes.
 * The socket object is left behind, as Node leaves it.
 */
function detachSocket(socket) {
  const native = socket._handle;
  const server = socket.server;
  if (server) server._connections--;
  native.onread = noop;
  socket._handle = null;
  socket.setTimeout(0);
  if (socket.parser) {
    httpCommon ??= require('_http_common');
    if (socket.parser instanceof httpCommon.HTTPParser) {
      httpCommon.freeParser(socket.parser, null, socket);
      if (socket._httpMessage) socket._httpMessage.detachSocket(socket);
    }
  }
  native.close();
  // A server already closing may have been waiting for this one.
  if (server && typeof server._emitCloseIfDrained === 'function') server._emitCloseIfDrained();
}

/**
 * Describes `handle` for the engine: Node's type name, the descriptor,
 * `dgramType` for a dgram.Socket, and `release()` to call once the engine
 * has taken its duplicate. Throws ERR_INVALID_HANDLE_TYPE for anything
 * child.send() would refuse.
 */
function describeHandle(handle, keepOpen = false) {
  if (handle instanceof net.Socket) {
    const fd = descriptor(handle._handle);
    return { type: 'net.Socket', fd, release: keepOpen ? noop : () => detachSocket(handle) };
  }
  if (handle instanceof net.Server) {
    return { type: 'net.Server', fd: descriptor(handle._handle), release: noop };
  }
  if (handle instanceof dgram.Socket) {
    return { type: 'dgram.Socket', fd: descriptor(dgramState(handle)?.handle), dgramType: handle.type, release: noop };
  }
  const name = handle?.constructor?.name;
  if (name === 'TCP' || name === 'Pipe') return { type: 'net.Native', fd: descriptor(handle), release: noop };
  if (name === 'UDP') return { type: 'dgram.Native', fd: descriptor(handle), release: noop };
  throw invalidHandle();
}

/** The `NODE_HANDLE` message that carries `message` with `passed`, members in Node's order. */
function handleMessage(passed, message) {
  if (message === undefined) {
    throw new ForkwireError('the message cannot be sent: undefined cannot be sent', codes.SERIALIZE);
  }
  const wrapper = { cmd: 'NODE_HANDLE', type: passed.type, msg: message };
  if (passed.dgramType !== undefined) wrapper.dgramType = passed.dgramType;
  return wrapper;
}

module.exports = { describeHandle, handleMessage };
