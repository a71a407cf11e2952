'use strict';
// Every system under test behind one small interface:
//
//   const sys = await SYSTEMS[name].create({ workers, concurrency })
//   await sys.request(data)        -> the worker's result
//   await sys.requestMany(items)   -> results in order (forkwire only)
//   sys.pids()                     -> worker process ids
//   await sys.close()              -> every worker process has exited
//
// Each baseline is written the way its users write it (its README / the
// seed's ipc-patterns.md); none is tuned beyond what is said in
// bench/README.md ("Fairness").
const { fork } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const paths = require('./paths');

// ---------------------------------------------------------------- fork()

// The seed's WorkerClient (ipc-patterns.md, "Request-Response Pattern"),
// verbatim but for two things: fork() options (serialization) are passed
// through, and the 5 s timeout timer is cleared when the reply arrives (as
// the seed's own "Implement Timeouts" best practice does), so that timers
// of one run never fire inside the next one. A `close()` is added.
class WorkerClient {
  constructor(workerPath, forkOptions) {
    this.worker = fork(workerPath, [], forkOptions);
    this.pending = new Map();
    this.nextId = 1;

    this.worker.on('message', (msg) => {
      const { id, result, error } = msg;
      const pending = this.pending.get(id);

      if (pending) {
        this.pending.delete(id);
        clearTimeout(pending.timer);
        if (error) {
          pending.reject(new Error(error));
        } else {
          pending.resolve(result);
        }
      }
    });
  }

  request(data) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const pending = { resolve, reject, timer: undefined };
      this.pending.set(id, pending);
      this.worker.send({ id, data });

      // Timeout
      pending.timer = setTimeout(() => {
        if (this.pending.has(id)) {
          this.pending.delete(id);
          reject(new Error('Request timeout'));
        }
      }, 5000);
    });
  }

  close() {
    return new Promise((resolve) => {
      if (this.worker.exitCode !== null || this.worker.signalCode !== null) return resolve();
      this.worker.once('exit', () => resolve());
      if (this.worker.connected) this.worker.disconnect();
      else this.worker.kill();
    });
  }
}

// Several WorkerClients, requests handed out round-robin: how the seed's
// users run more than one worker.
function forkClients(serialization) {
  return async ({ workers }) => {
    const clients = Array.from({ length: workers }, () => new WorkerClient(paths.ipcWorker, { serialization }));
    let next = 0;
    return {
      request(data) {
        const client = clients[next];
        next = (next + 1) % clients.length;
        return client.request(data);
      },
      pids: () => clients.map((c) => c.worker.pid),
      close: () => Promise.all(clients.map((c) => c.close())),
    };
  };
}

// ---------------------------------------------------------------- JS pools

async function workerpoolPool({ workers }) {
  const workerpool = require('workerpool');
  const pool = workerpool.pool(paths.workerpoolWorker, { workerType: 'process', minWorkers: workers, maxWorkers: workers });
  return {
    request: (data) => pool.exec('performTask', [data]),
    pids: () => pool.workers.map((w) => w.worker && w.worker.pid).filter(Boolean),
    close: () => pool.terminate(),
  };
}

async function tinypoolPool({ workers, concurrency }) {
  const { Tinypool } = await import('tinypool');
  const pool = new Tinypool({
    filename: paths.tinypoolWorker,
    runtime: 'child_process',
    minThreads: workers,
    maxThreads: workers,
    concurrentTasksPerWorker: concurrency,
  });
  return {
    request: (data) => pool.run(data),
    pids: () => pool.threads.map((t) => t.threadId),
    close: () => pool.destroy(),
  };
}

async function jestWorkerPool({ workers }) {
  const { Worker } = require('jest-worker');
  const pool = new Worker(paths.jestWorker, {
    numWorkers: workers,
    enableWorkerThreads: false,
    exposedMethods: ['performTask'],
  });
  return {
    request: (data) => pool.performTask(data),
    pids: () => pool._workerPool.getWorkers().map((w) => w.getWorkerSystemId()),
    close: () => pool.end(),
  };
}

// ---------------------------------------------------------------- forkwire

/** Items per request in the requestMany({ batchSize }) rows. */
const BATCH_SIZE = 256;

function forkwirePool(kind, serialization = 'json') {
  return async ({ workers, concurrency }) => {
    const { WorkerPool } = require(paths.root);
    const target = kind === 'rust' ? { command: paths.seedWorker } : { script: paths.ipcWorker };
    const pool = new WorkerPool({ ...target, size: workers, concurrency, serialization });
    await pool.ready();
    return {
      request: (data) => pool.request(data),
      requestMany: (items) => pool.requestMany(items),
      requestBatches: (items) => pool.requestMany(items, { batchSize: BATCH_SIZE }),
      pids: () => pool.stats().workers.map((w) => w.pid).filter((p) => p !== null),
      close: () => pool.close(),
    };
  };
}

// ---------------------------------------------------------------- forkwire over NATS

/**
 * The remote pool: one real nats-server on loopback and one sidecar running
 * `workers` seed_workers (the worker of the forkwire-rust rows), so the
 * difference between the two rows is the NATS hop.
 */
async function forkwireNats({ workers, concurrency }) {
  const { WorkerPool } = require(paths.root);
  const { startNatsServer, startSidecar } = require('../../tools/nats/server');
  // The 256 KB batches of the requestMany({ batchSize }) rows are 64 MiB
  // (NATS's largest max_payload); the default is 1 MiB.
  const conf = path.join(os.tmpdir(), `forkwire-bench-nats-${process.pid}.conf`);
  fs.writeFileSync(conf, 'max_payload: 67108864\n');
  const server = await startNatsServer(['-c', conf]);
  fs.rmSync(conf, { force: true });
  let sidecar;
  try {
    sidecar = await startSidecar(paths.root, server.url, 'bench', {
      args: ['--size', String(workers), '--concurrency', String(concurrency), '--max-in-flight', String(workers * concurrency * 64)],
      worker: paths.seedWorker,
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  const pool = new WorkerPool({ nats: { servers: server.url, service: 'bench' } });
  await pool.ready();
  return {
    request: (data) => pool.request(data),
    requestMany: (items) => pool.requestMany(items),
    requestBatches: (items) => pool.requestMany(items, { batchSize: BATCH_SIZE }),
    pids: () => [sidecar.child.pid],
    close: async () => {
      await pool.close();
      sidecar.child.kill('SIGTERM');
      await sidecar.exited;
      await server.stop();
    },
  };
}

// ---------------------------------------------------------------- the table

/**
 * name -> { label, worker, create, many?, batch? } in table order: `many`
 * adds requestMany() rows, `batch` requestMany({ batchSize }) rows (for
 * workers that answer forkwire:batch requests).
 */
const SYSTEMS = {
  'fork-json': { label: 'fork() + WorkerClient, json', worker: 'Node', create: forkClients('json') },
  'fork-advanced': { label: 'fork() + WorkerClient, advanced', worker: 'Node', create: forkClients('advanced') },
  workerpool: { label: "workerpool (workerType: 'process')", worker: 'Node', create: workerpoolPool },
  tinypool: { label: "tinypool (runtime: 'child_process')", worker: 'Node', create: tinypoolPool },
  'jest-worker': { label: 'jest-worker (child processes)', worker: 'Node', create: jestWorkerPool },
  'forkwire-node': { label: 'forkwire WorkerPool({ script })', worker: 'Node', create: forkwirePool('node'), many: true },
  'forkwire-rust': { label: 'forkwire WorkerPool({ command })', worker: 'Rust', create: forkwirePool('rust'), many: true, batch: BATCH_SIZE },
  'forkwire-rust-advanced': {
    label: "forkwire WorkerPool({ command, serialization: 'advanced' })",
    worker: 'Rust',
    create: forkwirePool('rust', 'advanced'),
    many: true,
  },
  'forkwire-nats': {
    label: 'forkwire WorkerPool({ nats }): nats-server + 1 sidecar',
    worker: 'Rust',
    create: forkwireNats,
    many: true,
    batch: BATCH_SIZE,
  },
};

/** The JS pool rows forkwire is compared with. */
const JS_POOLS = ['fork-json', 'fork-advanced', 'workerpool', 'tinypool', 'jest-worker'];

module.exports = { SYSTEMS, JS_POOLS, WorkerClient };
