'use strict';
// Roles (seed: "Selective Broadcasting", the SmartPool): give worker slots
// roles, then broadcast to a role or send requests that only a role holder
// may run. Roles belong to the slot and survive worker restarts.
//
// Run: npm run build && npm run build:workers && node examples/roles.js
const path = require('path');
const { on } = require('events');
const { WorkerPool } = require('..'); // in your app: require('forkwire')

const worker = path.join(__dirname, '..', 'target', 'release', 'examples', 'seed_worker');

/** Broadcasts a ping to `role` and returns the ids of the workers that answered. */
async function pingRole(pool, role) {
  const answers = on(pool, 'message', { signal: AbortSignal.timeout(2000) });
  const sent = pool.broadcast({ type: 'ping' }, { role });
  const ids = [];
  for await (const [msg, workerId] of answers) {
    if (msg.type === 'pong') ids.push(workerId);
    if (ids.length === sent) break;
  }
  return ids.sort();
}

async function main() {
  const pool = new WorkerPool({ command: worker, size: 4 });
  await pool.ready();

  pool.assignRole(0, 'processor');
  pool.assignRole(1, 'processor');
  pool.assignRole(2, 'logger');
  pool.assignRole(3, 'logger');
  console.log('roles:', pool.stats().workers.map((w) => `${w.id}=${w.roles.join(',')}`).join(' '));

  console.log("ping to role 'processor' answered by workers", await pingRole(pool, 'processor'));
  console.log("ping to role 'logger' answered by workers", await pingRole(pool, 'logger'));

  // Requests by role: only processors run them.
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => pool.request({ n: i, sleep: 5 }, { role: 'processor' })),
  );
  console.log(`20 requests with { role: 'processor' } -> sum of results ${results.reduce((a, b) => a + b, 0)}`);
  console.log('completed per worker:', pool.stats().workers.map((w) => `${w.id}:${w.completed}`).join(' '));

  pool.removeRole(1, 'processor');
  await Promise.all(Array.from({ length: 5 }, (_, i) => pool.request({ n: i }, { role: 'processor' })));
  console.log("after removeRole(1, 'processor'), 5 more:", pool.stats().workers.map((w) => `${w.id}:${w.completed}`).join(' '));

  await pool.close();
  console.log('closed');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
