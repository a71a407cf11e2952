'use strict';
// forkwire demo: a plain Node parent drives a Rust worker built on the
// forkwire crate, with nothing but child_process on the Node side.
const { fork } = require('child_process');
const path = require('path');

const worker = path.join(__dirname, '..', 'target', 'release', 'examples', 'seed_worker');

async function main() {
  const child = fork(__filename, [], { execPath: worker });
  const pending = new Map();
  let nextId = 1;
  child.on('message', (msg) => {
    const p = pending.get(msg.id);
    if (p) {
      pending.delete(msg.id);
      msg.error ? p.reject(new Error(msg.error)) : p.resolve(msg.result);
    } else {
      console.log('event from the Rust worker:', msg);
    }
  });
  const request = (data) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, data });
    });

  console.log('request {n: 21} ->', await request({ n: 21 }));
  console.log('request "hello" ->', await request('hello'));
  await request({ fail: 'no such task' }).catch((e) => console.log('request {fail} -> rejected:', e.message));
  const t0 = Date.now();
  const results = await Promise.all(Array.from({ length: 10000 }, (_, i) => request({ n: i })));
  console.log(`10000 pipelined requests in ${Date.now() - t0} ms, last result ${results[9999]}`);
  child.send({ type: 'heartbeat-request' });
  child.send({ type: 'health-check' });
  await new Promise((r) => setTimeout(r, 100));
  child.disconnect();
  child.on('exit', (code) => console.log('worker exited with code', code));
}

main();
