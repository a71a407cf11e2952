// The Node parent: fork() with the Rust program as execPath.
const { fork } = require('child_process');

const child = fork(__filename, [], { execPath: './target/release/examples/readme_worker' });
// or: spawn('./target/release/examples/readme_worker', [], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] })
child.on('message', (msg) => {
  console.log(msg); // { id: 1, result: 42 }
  child.disconnect(); // the worker's loop ends, it exits, and so does this process
});
child.send({ id: 1, data: { n: 21 } });
