// worker.js: a plain Node child, as fork() would run it; nothing from forkwire.
process.on('message', (msg) => {
  process.send({ id: msg.id, result: msg.data.n * 2 });
});
// Once the parent disconnects, nothing is left to wait for: the process exits.
