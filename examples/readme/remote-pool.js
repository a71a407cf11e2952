'use strict';
// A WorkerPool whose workers are on other hosts: every forkwire-sidecar
// serving 'demo' on the NATS servers in NATS_URL. Start one (or several, on
// any hosts) with:
//   forkwire-sidecar --nats "$NATS_URL" --service demo --size 4 -- ./target/release/examples/nats_worker
const { WorkerPool } = require('forkwire');

async function main() {
  const servers = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const pool = new WorkerPool({ nats: { servers, service: 'demo' }, timeout: 5000 });
  await pool.ready();

  const answer = await pool.request({ hello: 'from Node' }, { type: 'echo' });
  console.log(answer); // { hello: 'from Node' }

  const many = await pool.requestMany([1, 2, 3], { type: 'sleep' });
  console.log(many); // [ 1, 2, 3 ]

  const sidecars = await pool.health();
  console.log(sidecars.length, sidecars[0].pool.workers.length); // 1 4

  await pool.close();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
