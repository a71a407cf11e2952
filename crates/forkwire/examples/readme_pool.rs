// The pool engine from a Rust parent: workers started and replaced, requests
// queued, correlated and timed out, as WorkerPool does for Node.
use forkwire::pool::{Pool, PoolOptions, Target};
use forkwire::process::Command;
use serde_json::json;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The readme_serve worker, built next to this example (cargo build --examples).
    let worker = std::env::current_exe()?.with_file_name("readme_serve");
    let mut options = PoolOptions::new(Command::new(worker));
    options.size = 2;
    options.timeout = Some(Duration::from_secs(5));
    let pool = Pool::new(options)?;

    let add = json!({ "a": 2, "b": 3 });
    let sum: f64 = pool.call_with(&add, Some("add"), Target::Any, None)?;
    println!("2 + 3 = {sum}"); // 2 + 3 = 5
    if let Err(e) = pool.call_with::<_, f64>(&add, Some("mul"), Target::Any, None) {
        println!("{e}"); // unknown request type (ERR_FORKWIRE_REMOTE)
    }

    pool.close(Default::default());
    Ok(())
}
