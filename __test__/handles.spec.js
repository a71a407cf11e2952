'use strict';
// Handle passing, as child.send(message, handle) does it, with real
// sockets on loopback: Node parents hand connections and servers to Rust
// workers (plain child_process, then through the pool), a Rust worker
// hands a server back, and whatever a peer refuses fails the way Node
// fails it. Every test counts descriptors on both sides.
const fs = require('fs');
const net = require('net');
const http = require('http');
const dgram = require('dgram');
const { fork } = require('child_process');
const { once } = require('events');
const { codes } = require('..');
const { example, fixture } = require('./fixtures/paths');
const { usePools } = require('./fixtures/pools');
const { within, nextEvent, waitUntil } = require('./fixtures/bounded');

const handleWorker = example('handle_worker');
const httpWorker = example('http_worker');
const seedWorker = example('seed_worker');
/** fixtures/refusing-worker.js, run with its channel at fd 3 but no IPC. */
const refusingWorker = { command: 'env', args: ['-u', 'NODE_CHANNEL_FD', process.execPath], script: fixture('refusing-worker.js') };

const LIMIT = 10000;

/** Open descriptors of a process (this one by default). */
function fdCount(pid = 'self') {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Waits until `pid` has `want` descriptors open again. */
async function fdsSettle(want, pid = 'self') {
  await waitUntil(() => fdCount(pid) === want, { limit: 3000, what: `/proc/${pid}/fd back to ${want} (now ${fdCount(pid)})` }).catch(
    () => undefined,
  );
  expect(fdCount(pid)).toBe(want);
}

/**
 * This process's real `process`: jest gives tests a copy whose listeners
 * never hear what Node's internals emit, such as the warning of a handle
 * that did not reach its receiver. A function of Node's own realm
 * reaches the original.
 */
const realProcess = require('util').inspect.constructor('return process')();

/** Process warnings during a test: there must be none unless expected. */
function watchWarnings() {
  const seen = [];
  const listener = (w) => seen.push(w);
  realProcess.on('warning', listener);
  return { seen, stop: () => realProcess.off('warning', listener) };
}

/** A worker's descriptors at rest, once it has answered `{type: 'fds'}` (its own count includes the directory it reads). */
async function restingFds(child, box) {
  child.send({ type: 'fds' });
  const { count } = await box.type('fds');
  expect(fdCount(child.pid)).toBe(count - 1);
  return count - 1;
}

/** Collects a child's messages; `next(pred)` resolves with the next match. */
function inbox(child) {
  const queue = [];
  const waiters = [];
  child.on('message', (msg, handle) => {
    const item = { msg, handle };
    const i = waiters.findIndex((w) => w.pred(msg));
    if (i >= 0) waiters.splice(i, 1)[0].resolve(item);
    else queue.push(item);
  });
  return {
    next(pred = () => true, what = 'a message') {
      const i = queue.findIndex((item) => pred(item.msg));
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]);
      return within(new Promise((resolve) => waiters.push({ pred, resolve })), LIMIT, what);
    },
    type(type) {
      return this.next((m) => m?.type === type, `a '${type}' message`).then((item) => item.msg);
    },
  };
}

function forkWorker(execPath, options = {}) {
  const child = fork(__filename, [], { execPath, ...options });
  return { child, box: inbox(child) };
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) child.disconnect();
  await within(exited, LIMIT, 'the worker exiting');
}

/**
 * A net.Server listening on loopback (made with `options`), a client
 * connected to it and the server's side of that connection.
 */
async function connectedPair(options = {}) {
  const server = net.createServer(options);
  const port = await listen(server);
  const accepted = once(server, 'connection');
  const client = await connect(port);
  const [conn] = await accepted;
  return { server, port, client, conn };
}

/** A listening net.Server on loopback and its port. */
async function listen(server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server.address().port;
}

/** Connects and resolves with the socket once connected. */
async function connect(port) {
  const socket = net.connect(port, '127.0.0.1');
  await within(once(socket, 'connect'), LIMIT, 'connecting');
  return socket;
}

/** Resolves with everything `socket` receives until it ends. */
function readAll(socket) {
  const chunks = [];
  socket.on('data', (d) => chunks.push(d));
  return within(once(socket, 'end'), LIMIT, 'the end of the stream').then(() => Buffer.concat(chunks).toString());
}

/** Writes `data` and resolves with the first `length` bytes that come back. */
function exchange(socket, data, length = data.length) {
  return within(
    new Promise((resolve) => {
      let got = Buffer.alloc(0);
      const onData = (d) => {
        got = Buffer.concat([got, d]);
        if (got.length >= length) {
          socket.off('data', onData);
          resolve(got.toString());
        }
      };
      socket.on('data', onData);
      socket.write(data);
    }),
    LIMIT,
    'an answer on the connection',
  );
}

/** One HTTP/1.1 GET on a keep-alive connection; resolves with the body. */
function get(socket) {
  return within(
    new Promise((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const onData = (d) => {
        buf = Buffer.concat([buf, d]);
        const head = buf.indexOf('\r\n\r\n');
        if (head < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(buf.subarray(0, head).toString())?.[1] ?? 0);
        if (buf.length < head + 4 + length) return;
        socket.off('data', onData);
        socket.off('end', onEnd);
        resolve(buf.subarray(head + 4, head + 4 + length).toString());
      };
      const onEnd = () => reject(new Error('the connection ended before the response'));
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    }),
    LIMIT,
    'an HTTP response',
  );
}

async function closed(socket) {
  if (socket.destroyed && socket.closed) return;
  await within(once(socket, 'close'), LIMIT, 'the socket closing');
}

describe('Node parent → Rust worker with plain child_process', () => {
  let warnings;
  beforeEach(() => {
    warnings = watchWarnings();
  });
  afterEach(() => warnings.stop());

  /**
   * Forks the handle worker, runs `body(child, box)`, stops the worker,
   * and checks that the parent holds no more descriptors than before and
   * that Node warned about nothing.
   */
  async function withHandleWorker(body) {
    const before = fdCount();
    const { child, box } = forkWorker(handleWorker);
    await body(child, box);
    await stop(child);
    await fdsSettle(before);
    expect(warnings.seen).toEqual([]);
  }

  test.each(['json', 'advanced'])('a connection from a net server (%s): the worker echoes on it', async (serialization) => {
    const before = fdCount();
    const { child, box } = forkWorker(handleWorker, { serialization });
    const workerBefore = await restingFds(child, box);
    const { server, client, conn } = await connectedPair({ pauseOnConnect: true });
    const sent = new Promise((resolve, reject) => child.send({ type: 'echo', n: 1 }, conn, (err) => (err ? reject(err) : resolve())));
    await within(sent, LIMIT, 'the send callback');
    expect(await box.type('took')).toEqual({ type: 'took', as: 'TcpStream', msg: { type: 'echo', n: 1 } });
    // Node detached its copy, as for a Node child.
    expect(conn._handle).toBe(null);
    expect(server._connections).toBe(0);
    expect(await exchange(client, 'ping pong')).toBe('ping pong');
    client.end();
    await closed(client);
    await within(new Promise((resolve) => server.close(resolve)), LIMIT, 'server.close()');
    await fdsSettle(workerBefore, child.pid);
    await stop(child);
    await fdsSettle(before);
    expect(warnings.seen).toEqual([]);
  });

  test('a connection from an HTTP server: the worker answers, and server.close() waits for it', async () => {
    await withHandleWorker(async (child, box) => {
      const server = http.createServer(() => {
        throw new Error('the parent must not see the request');
      });
      server.on('connection', (conn) => child.send({ type: 'http' }, conn));
      const port = await listen(server);
      const client = await connect(port);
      // Once the worker says it has the connection, Node has its ACK and
      // has closed its own copy: nothing here can read the request.
      expect((await box.type('took')).as).toBe('TcpStream');
      expect(await get(client)).toBe('hello world\n');
      expect(await get(client)).toBe('hello world\n');
      // The server asks the worker how many of its connections are open.
      const count = await within(new Promise((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n)))));
      expect(count).toBe(1);
      let serverClosed = false;
      const closing = new Promise((resolve) => server.close(resolve)).then(() => (serverClosed = true));
      await new Promise((r) => setTimeout(r, 100));
      expect(serverClosed).toBe(false);
      client.end();
      await closed(client);
      await within(closing, LIMIT, 'server.close() after the worker closed the connection');
    });
  });

  test('keepOpen: both processes hold the connection', async () => {
    await withHandleWorker(async (child, box) => {
      const { server, client, conn } = await connectedPair({ pauseOnConnect: true });
      child.send({ type: 'keep' }, conn, { keepOpen: true });
      expect((await box.type('took')).as).toBe('TcpStream');
      expect(conn._handle).not.toBe(null);
      const got = exchange(client, '', 'still here\n'.length);
      conn.write('still here\n');
      expect(await got).toBe('still here\n');
      child.send({ type: 'drop-kept' });
      await box.type('dropped');
      // Ours is the last copy: closing it ends the connection.
      const rest = readAll(client);
      conn.resume();
      conn.end();
      expect(await rest).toBe('');
      await closed(client);
      await within(new Promise((resolve) => server.close(resolve)));
    });
  });

  test('a listening net.Server passed once: the worker accepts on it', async () => {
    await withHandleWorker(async (child, box) => {
      const server = net.createServer();
      const port = await listen(server);
      child.send({ type: 'accept', count: 3 }, server);
      expect((await box.type('took')).as).toBe('TcpListener');
      // The parent stops accepting; the worker's copy keeps listening.
      await within(new Promise((resolve) => server.close(resolve)));
      for (let i = 0; i < 3; i++) {
        const client = await connect(port);
        expect(await readAll(client)).toBe(`rust ${child.pid}\n`);
        await closed(client);
      }
      expect(await box.type('accepted')).toEqual({ type: 'accepted', count: 3 });
      // The worker closed the last copy: nothing listens there any more.
      const refused = net.connect(port, '127.0.0.1');
      const [err] = await within(once(refused, 'error'));
      expect(err.code).toBe('ECONNREFUSED');
    });
  });

  test('a dgram.Socket: the worker answers a datagram', async () => {
    await withHandleWorker(async (child, box) => {
      const socket = dgram.createSocket('udp4');
      socket.bind(0, '127.0.0.1');
      await once(socket, 'listening');
      const { port } = socket.address();
      child.send({ type: 'udp' }, socket);
      expect((await box.type('took')).as).toBe('UdpSocket');
      socket.close();
      const me = dgram.createSocket('udp4');
      const answer = once(me, 'message');
      me.send('hi', port, '127.0.0.1');
      const [reply] = await within(answer);
      expect(reply.toString()).toBe('echo:hi');
      me.close();
    });
  });

  test('a Rust worker passes a server to its Node parent', async () => {
    await withHandleWorker(async (child, box) => {
      const workerBefore = await restingFds(child, box);
      child.send({ type: 'give-server' });
      const { msg, handle: server } = await box.next((m) => m?.type === 'server', 'the server');
      expect(server).toBeInstanceOf(net.Server);
      expect(server.address().port).toBe(msg.port);
      const gave = await box.type('gave');
      expect(gave.ok).toBe(true);
      // The worker closed its copy once the parent took it.
      expect(gave.fds - 1).toBe(workerBefore);
      server.on('connection', (c) => c.end('node\n'));
      const client = await connect(msg.port);
      expect(await readAll(client)).toBe('node\n');
      await within(new Promise((resolve) => server.close(resolve)));
    });
  });

  test('a worker that refuses handles gets them as Node sends them: NACK, retries, warning, closed', async () => {
    const before = fdCount();
    const child = fork(refusingWorker.script, [], { execPath: refusingWorker.command, execArgv: refusingWorker.args });
    const box = inbox(child);
    child.send({ id: 0, data: { n: 1 } });
    await box.next((m) => m?.id === 0);
    const workerBefore = fdCount(child.pid);
    const { server, client, conn } = await connectedPair({ pauseOnConnect: true });
    const ended = readAll(client);
    child.send({ type: 'conn' }, conn);
    // Later messages wait behind the handle, then go through.
    child.send({ id: 1, data: { n: 5 } });
    expect((await box.next((m) => m?.id === 1)).msg).toEqual({ id: 1, result: 10 });
    await waitUntil(() => warnings.seen.length > 0, { limit: LIMIT, what: 'the warning' });
    expect(warnings.seen.map((w) => w.name)).toEqual(['SentHandleNotReceivedWarning']);
    // Node closed the connection; the worker kept nothing.
    expect(await ended).toBe('');
    await fdsSettle(workerBefore, child.pid);
    await within(new Promise((resolve) => server.close(resolve)));
    await stop(child);
    await fdsSettle(before);
  });
});

describe('Node front end → Rust workers through the pool', () => {
  const start = usePools();
  let warnings;
  beforeEach(() => {
    warnings = watchWarnings();
  });
  afterEach(() => warnings.stop());

  const workerPids = (pool) => pool.stats().workers.map((w) => w.pid).filter((p) => p !== null);

  test.each(['json', 'advanced'])('pool.request(data, { handle }) spreads HTTP connections over Rust workers (%s)', async (serialization) => {
    const pool = start({ command: httpWorker, size: 2, serialization });
    await pool.ready();
    await waitUntil(() => workerPids(pool).length === 2);
    // A round trip to each, so both are at rest (no handle: an error).
    await Promise.all([0, 1].map((workerId) => pool.request(null, { workerId }).catch(() => undefined)));
    const before = fdCount();
    const workersBefore = workerPids(pool).map((pid) => fdCount(pid));
    const handed = [];
    const server = http.createServer(() => {
      throw new Error('the front end must not see requests');
    });
    server.on('connection', (socket) => handed.push(pool.request({ from: 'front' }, { handle: socket, type: 'connection' })));
    const port = await listen(server);
    const clients = [];
    for (let i = 0; i < 6; i++) clients.push(await connect(port));
    await waitUntil(() => handed.length === 6);
    expect(await within(Promise.all(handed))).toEqual([true, true, true, true, true, true]);
    for (const client of clients) {
      for (let i = 0; i < 3; i++) expect(await get(client)).toBe('hello world\n');
    }
    // Both workers got connections (each request settles as soon as one is taken).
    const completed = pool.stats().workers.map((w) => w.completed);
    expect(completed.every((n) => n > 0)).toBe(true);
    // The front end let go of every connection, as child.send() does.
    expect(server._connections).toBe(0);
    for (const client of clients) client.end();
    await Promise.all(clients.map(closed));
    await within(new Promise((resolve) => server.close(resolve)), LIMIT, 'server.close()');
    await fdsSettle(before);
    const pids = workerPids(pool);
    for (let i = 0; i < pids.length; i++) await fdsSettle(workersBefore[i], pids[i]);
    expect(warnings.seen).toEqual([]);
  });

  test('pool.send(workerId, message, socket) hands a connection to that worker', async () => {
    const pool = start({ command: handleWorker, size: 2 });
    await pool.ready();
    const before = fdCount();
    const { server, client, conn } = await connectedPair();
    const took = nextEvent(pool, 'message', { filter: (m) => m?.type === 'took', limit: LIMIT });
    expect(pool.send(1, { type: 'echo' }, conn)).toBe(true);
    expect(conn._handle).toBe(null);
    const [msg, workerId] = await took;
    expect(msg).toEqual({ type: 'took', as: 'TcpStream', msg: { type: 'echo' } });
    expect(workerId).toBe(1);
    expect(await exchange(client, 'through the pool')).toBe('through the pool');
    client.end();
    await closed(client);
    await within(new Promise((resolve) => server.close(resolve)));
    await fdsSettle(before);
    expect(warnings.seen).toEqual([]);
  });

  test('Node script workers get the socket as the second argument of message', async () => {
    const pool = start({ script: fixture('handle-worker.js'), size: 1 });
    const before = fdCount();
    const { server, client, conn } = await connectedPair();
    expect(await within(pool.request('hello', { handle: conn }))).toEqual({ handle: 'Socket', data: 'hello' });
    expect(await exchange(client, 'to node')).toBe('to node');
    client.end();
    await closed(client);
    await within(new Promise((resolve) => server.close(resolve)));
    await fdsSettle(before);
    expect(warnings.seen).toEqual([]);
  });

  test('a worker that refuses the handle: the request rejects, send() emits error, nothing leaks', async () => {
    const { command, args, script } = refusingWorker;
    const pool = start({ command, args: [...args, script], size: 1 });
    await pool.ready();
    await waitUntil(() => workerPids(pool).length === 1);
    const [pid] = workerPids(pool);
    await within(pool.request({ n: 1 }));
    const workerBefore = fdCount(pid);
    const before = fdCount();
    const { server, port, client, conn } = await connectedPair();
    const ended = readAll(client);
    const err = await within(pool.request({ n: 1 }, { handle: conn }).catch((e) => e));
    expect(err.code).toBe(codes.HANDLE_REFUSED);
    expect(err.workerId).toBe(0);
    expect(await ended).toBe('');

    const accepted2 = once(server, 'connection');
    const client2 = await connect(port);
    const [conn2] = await accepted2;
    const ended2 = readAll(client2);
    const failure = nextEvent(pool, 'error', { limit: LIMIT });
    expect(pool.send(0, { type: 'conn' }, conn2)).toBe(true);
    const [error] = await failure;
    expect(error.code).toBe(codes.HANDLE_REFUSED);
    expect(await ended2).toBe('');
    // The worker goes on answering.
    expect(await within(pool.request({ n: 21 }))).toBe(42);
    await Promise.all([closed(client), closed(client2)]);
    await within(new Promise((resolve) => server.close(resolve)));
    await fdsSettle(before);
    await fdsSettle(workerBefore, pid);
    expect(warnings.seen).toEqual([]);
  });

  test('what child.send() refuses, the pool refuses', async () => {
    const pool = start({ command: handleWorker, size: 1 });
    await pool.ready();
    expect(() => pool.send(0, { x: 1 }, { fd: 3 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_HANDLE_TYPE' }));
    await expect(pool.request(1, { handle: 42 })).rejects.toMatchObject({ code: 'ERR_INVALID_HANDLE_TYPE' });
    const socket = new net.Socket();
    await expect(pool.request(1, { handle: socket })).rejects.toMatchObject({ code: codes.SERIALIZE });
  });
});
