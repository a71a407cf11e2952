#!/usr/bin/env node
// Seeds the fuzz corpora with the payloads of the captured Node vectors.
//   node fuzz/seed-corpus.js
'use strict';
const fs = require('fs');
const path = require('path');

const vectors = path.join(__dirname, '..', 'crates', 'forkwire', 'tests', 'vectors');
for (const target of ['v8_decode', 'v8_roundtrip']) {
  const dir = path.join(__dirname, 'corpus', target);
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  for (const file of ['node20-advanced.json', 'node20-advanced-extended.json']) {
    for (const v of JSON.parse(fs.readFileSync(path.join(vectors, file), 'utf8')).vectors) {
      const payload = Buffer.from(v.frame, 'hex').subarray(4);
      // v8_decode also tries each input behind a header, so give it bodies.
      const body = target === 'v8_decode' ? payload.subarray(2) : payload;
      fs.writeFileSync(path.join(dir, `${file.replace('.json', '')}-${n++}`), body);
    }
  }
  console.log(`${target}: ${n} seeds`);
}
