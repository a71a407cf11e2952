// A WorkerPool over the serve worker above (target/release/examples/readme_serve).
const { WorkerPool } = require('forkwire');

async function main() {
  const pool = new WorkerPool({ command: 'target/release/examples/readme_serve', size: 2 });
  console.log(await pool.request({ a: 2, b: 3 }, { type: 'add' })); // 5
  try {
    await pool.request({ a: 2, b: 3 }, { type: 'mul' });
  } catch (err) {
    console.log(err.name, err.code, err.message); // WorkerError E_UNKNOWN unknown request type
  }
  await pool.close();
}

main();
