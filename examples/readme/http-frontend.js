// A Node HTTP front end spreading accepted connections over Rust workers
// (crates/forkwire/examples/http_worker.rs): Node only accepts; each worker
// answers on the connections it is given, with no hop back through Node.
const http = require('http');
const net = require('net');
const { once } = require('events');
const { WorkerPool } = require('forkwire');

async function main() {
  const pool = new WorkerPool({ command: 'target/release/examples/http_worker', size: 2 });
  await pool.ready();

  // Node accepts; a Rust worker gets each connection and answers on it itself.
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    // The pool sends the worker its own copy of the socket and closes this one,
    // as child.send(msg, socket) does; the least busy worker gets it.
    pool.request(null, { handle: socket }).catch((err) => console.error(err.message));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');

  // One request through it, then everything closes.
  const [res] = await once(http.get({ port: server.address().port, agent: false }), 'response');
  let body = '';
  for await (const chunk of res) body += chunk;
  console.log(res.statusCode, body.trim()); // 200 hello world
  server.close();
  await pool.close();
}

main();
