'use strict';
// The three request sizes. Every system gets the same `data` objects; the
// workers answer `{id, result: data.n * 2}` for the tiny task and echo
// `{id, result: data}` for the objects, so each reply is about as large as
// its request.

/** The tiny task: `{"id":12345,"data":{"task":"compute","n":12345,"tag":"bench"}}` is ~60 bytes. */
function tiny(n) {
  return { task: 'compute', n, tag: 'bench' };
}

// A record like an API row: mixed strings, numbers, booleans, a nested array.
function record(i) {
  return {
    id: i,
    name: `item-${String(i).padStart(6, '0')}`,
    price: Math.round(((i * 7919) % 100000) * 1.37) / 100,
    active: i % 3 !== 0,
    tags: ['alpha', 'beta', 'gamma'].slice(0, 1 + (i % 3)),
    owner: { id: i % 97, region: 'eu-west' },
  };
}

/** An object whose JSON text is close to `bytes` (never more). */
function objectOf(bytes) {
  const obj = { kind: 'batch', items: [] };
  for (let i = 0; ; i++) {
    obj.items.push(record(i));
    if (JSON.stringify(obj).length > bytes) {
      obj.items.pop();
      return obj;
    }
  }
}

const SIZES = ['tiny', '4KB', '256KB'];

/** `{tiny, '4KB', '256KB'}`: a function `(i) => data` for each size. */
function makePayloads() {
  const small = objectOf(4 * 1024);
  const large = objectOf(256 * 1024);
  return {
    tiny: (i) => tiny(i),
    '4KB': () => small,
    '256KB': () => large,
  };
}

/** The JSON text of a request envelope `{id, data}` for a size, in bytes. */
function requestBytes(payloads, size) {
  return Buffer.byteLength(JSON.stringify({ id: 12345, data: payloads[size](12345) }));
}

/** Checks a reply against the request's data (used on every warm-up reply and on samples while measuring). */
function check(size, data, result) {
  if (size === 'tiny') {
    if (result !== data.n * 2) throw new Error(`wrong reply for n=${data.n}: ${JSON.stringify(result)}`);
    return;
  }
  if (!result || !Array.isArray(result.items) || result.items.length !== data.items.length) {
    throw new Error(`wrong echo for a ${size} object`);
  }
  const last = data.items.length - 1;
  if (result.items[last].name !== data.items[last].name) throw new Error(`wrong echo for a ${size} object`);
}

module.exports = { SIZES, makePayloads, requestBytes, check, objectOf };
