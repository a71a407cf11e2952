#!/usr/bin/env node
// Records the exact bytes this machine's Node writes on a real fork() channel
// for every value in cases.js, and stores them as test vectors.
//
//   node tools/vectors/capture.js advanced crates/forkwire/tests/vectors/node20-advanced-extended.json
//   node tools/vectors/capture.js json     crates/forkwire/tests/vectors/node20-json-extended.json
//
// The parent is this script: it opens the channel with `spawn(..., {stdio:
// [..., 'ipc'], serialization})` and `send()`s each value. The child is this
// same script under `--child`, started through `sh` with NODE_CHANNEL_FD
// unset so Node does not take the channel over: it reads fd 3 as a plain
// socket until the parent disconnects and hands the raw bytes back.
//
// Output shape (same as docs/vectors/node20-*.json): { node, v8, mode, env,
// vectors: [{ name, js, frame }], refused: [{ name, js, error }] } where
// `frame` is the hex of one send(): advanced = 4-byte big-endian length + V8
// payload, json = JSON text + "\n".
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

if (process.argv[2] === '--child') {
  runChild(process.argv[3]);
} else {
  runParent(process.argv[2], process.argv[3]);
}

function runChild(outFile) {
  const mode = process.env.NODE_CHANNEL_SERIALIZATION_MODE || null;
  const chunks = [];
  const sock = new net.Socket({ fd: 3, readable: true, writable: false });
  sock.on('data', (c) => chunks.push(c));
  sock.on('end', () => {
    fs.writeFileSync(outFile, JSON.stringify({ mode, hex: Buffer.concat(chunks).toString('hex') }));
    process.exit(0);
  });
}

function splitFrames(mode, bytes) {
  const frames = [];
  if (mode === 'advanced') {
    for (let i = 0; i < bytes.length;) {
      const n = bytes.readUInt32BE(i);
      frames.push(bytes.subarray(i, i + 4 + n));
      i += 4 + n;
    }
  } else {
    for (let i = 0; i < bytes.length;) {
      const j = bytes.indexOf(0x0a, i);
      frames.push(bytes.subarray(i, j + 1));
      i = j + 1;
    }
  }
  return frames;
}

function runParent(mode, outFile) {
  if (!['json', 'advanced'].includes(mode) || !outFile) {
    console.error('usage: node capture.js json|advanced OUT.json');
    process.exit(2);
  }
  const { CASES } = require('./cases.js');
  const raw = path.join(os.tmpdir(), `forkwire-capture-${process.pid}.json`);
  // `sh` drops NODE_CHANNEL_FD (set by spawn for the 'ipc' entry) before the
  // child Node starts, so the channel stays a raw socket at fd 3.
  const child = spawn('/bin/sh', ['-c', 'unset NODE_CHANNEL_FD; exec "$0" "$@"', process.execPath, __filename, '--child', raw], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'], serialization: mode,
  });
  const sent = [];
  const refused = [];
  for (const [name, js] of CASES) {
    const value = eval(js); // eslint-disable-line no-eval
    try {
      child.send(value);
      sent.push({ name, js });
    } catch (e) {
      refused.push({ name, js, error: `${e.code || e.name}: ${e.message.split('\n')[0]}` });
    }
  }
  // Disconnect only once every write has been flushed to the socket.
  child.send('\u0004END', () => child.disconnect());
  child.on('exit', (code) => {
    if (code !== 0) throw new Error(`capture child exited with ${code}`);
    const cap = JSON.parse(fs.readFileSync(raw, 'utf8'));
    fs.unlinkSync(raw);
    const frames = splitFrames(mode, Buffer.from(cap.hex, 'hex'));
    frames.pop(); // the END marker
    if (frames.length !== sent.length) throw new Error(`sent ${sent.length} values but read ${frames.length} frames`);
    const vectors = sent.map((v, i) => ({ ...v, frame: frames[i].toString('hex') }));
    fs.writeFileSync(outFile, JSON.stringify({
      node: process.version, v8: process.versions.v8, mode,
      env: { NODE_CHANNEL_SERIALIZATION_MODE: cap.mode }, vectors, refused,
    }, null, 1) + '\n');
    console.log(`${mode}: ${vectors.length} vectors, ${refused.length} refused -> ${outFile}`);
  });
}
