//! A worker in a few lines with `forkwire::serve`: typed requests,
//! errors with codes, progress, cancellation; heartbeats, health checks
//! and batches (`requestMany(items, { batchSize })`) are answered for you.

use forkwire::serve::{serve, Request, ServeError};
use serde_json::{json, Value};

fn main() -> Result<(), forkwire::ChannelError> {
    serve(|req: Request| -> Result<Value, ServeError> {
        match req.kind() {
            Some("add") => {
                let (a, b): (f64, f64) = req.data()?;
                Ok(json!(a + b))
            }
            Some("count") => {
                let to: u64 = req.data()?;
                for i in 0..to {
                    if req.is_cancelled() {
                        return Err(ServeError::new("cancelled").code("E_CANCELLED"));
                    }
                    req.progress(&i)?;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Ok(json!(to))
            }
            Some("echo") => Ok(req.raw().clone()),
            // Untyped: `{fail: message}` fails, anything else is echoed.
            None => match req.raw().get("fail").and_then(Value::as_str) {
                Some(message) => Err(ServeError::new(message).code("E_FAILED")),
                None => Ok(req.raw().clone()),
            },
            Some(other) => Err(ServeError::new(format!("unknown type {other}")).code("E_UNKNOWN")),
        }
    })
}
