'use strict';
// Turning messages into frames and back, in Node's two channel modes. The
// pool's engine writes the request envelope itself in json mode; in
// advanced mode the whole envelope is serialized here, as Node's own
// channel does it: a V8 serializer whose host objects (Buffers, typed
// arrays, DataViews) carry an extra tag, and a 4-byte big-endian length
// counted into the buffer before the header, so V8's string alignment
// matches Node's byte for byte.
const v8 = require('v8');
const { codes, ForkwireError } = require('./errors');

const ARRAY_BUFFER_VIEW = 0;
const OTHER_HOST_OBJECT = 1;

class ChannelSerializer extends v8.DefaultSerializer {
  _writeHostObject(object) {
    if (ArrayBuffer.isView(object)) {
      this.writeUint32(ARRAY_BUFFER_VIEW);
      return super._writeHostObject(object);
    }
    this.writeUint32(OTHER_HOST_OBJECT);
    this.writeValue({ ...object });
    return undefined;
  }
}

class ChannelDeserializer extends v8.DefaultDeserializer {
  _readHostObject() {
    const tag = this.readUint32();
    if (tag === ARRAY_BUFFER_VIEW) return super._readHostObject();
    if (tag === OTHER_HOST_OBJECT) return this.readValue();
    throw new ForkwireError(`unknown host object tag ${tag}`, codes.PROTOCOL);
  }
}

function serializeError(err) {
  return new ForkwireError(`the message cannot be sent: ${err.message}`, codes.SERIALIZE, { cause: err });
}

const LENGTH = Buffer.alloc(4);

/** A whole advanced-mode frame (length prefix included) for `value`. */
function advancedFrame(value) {
  try {
    const ser = new ChannelSerializer();
    ser.writeRawBytes(LENGTH);
    ser.writeHeader();
    ser.writeValue(value);
    const frame = ser.releaseBuffer();
    frame.writeUInt32BE(frame.length - 4, 0);
    return frame;
  } catch (err) {
    throw serializeError(err);
  }
}

/** Decodes an advanced-mode payload (no length prefix). */
function advancedDecode(payload) {
  const de = new ChannelDeserializer(payload);
  de.readHeader();
  return de.readValue();
}

/**
 * JSON text of `value` as Node's json channel writes it, or undefined for
 * `undefined`. Throws ERR_FORKWIRE_SERIALIZE for what cannot be sent.
 */
function jsonText(value) {
  const type = typeof value;
  if (type === 'function' || type === 'symbol' || type === 'bigint') {
    throw serializeError(new TypeError(`a ${type} cannot be sent in json mode`));
  }
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw serializeError(err);
  }
}

/** A whole json-mode frame for a one-way message. */
function jsonFrame(value) {
  if (value === undefined) throw serializeError(new TypeError('undefined cannot be sent'));
  return Buffer.from(jsonText(value) + '\n');
}

/** The frame encoder for one-way messages in `mode`. */
function frameEncoder(mode) {
  return mode === 'advanced'
    ? (value) => {
        if (value === undefined) throw serializeError(new TypeError('undefined cannot be sent'));
        return advancedFrame(value);
      }
    : jsonFrame;
}

module.exports = { advancedFrame, advancedDecode, jsonText, frameEncoder };
