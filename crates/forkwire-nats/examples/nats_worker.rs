//! The worker the NATS tests and bench run behind their sidecars: a plain
//! `forkwire::serve` worker, as users write them, nothing NATS-specific.
//!
//! Types: `echo` (the data back), `whoami` (the `WORKER_TAG` variable and
//! the pid), `sleep` (waits `data` ms; stops early when cancelled and
//! appends the request's data to the file named by `CANCEL_LOG`), `fail`
//! (an error with code `E_FAILED`), `big` (a string of `data` bytes),
//! `exit` (the process exits at once).

use forkwire::serve::{serve, Request, ServeError};
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

fn main() -> Result<(), forkwire::ChannelError> {
    serve(|req: Request| -> Result<Value, ServeError> {
        match req.kind() {
            Some("whoami") => Ok(json!({
                "tag": std::env::var("WORKER_TAG").unwrap_or_default(),
                "pid": std::process::id(),
            })),
            Some("sleep") => {
                let ms: u64 = req.data()?;
                let until = Instant::now() + Duration::from_millis(ms);
                while Instant::now() < until {
                    if req.is_cancelled() {
                        note_cancel(ms);
                        return Err(ServeError::new("cancelled").code("E_CANCELLED"));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(json!(ms))
            }
            Some("fail") => Err(ServeError::new("it failed").code("E_FAILED")),
            Some("big") => {
                let n: usize = req.data()?;
                Ok(json!("x".repeat(n)))
            }
            Some("exit") => std::process::exit(3),
            _ => Ok(req.raw().clone()),
        }
    })
}

fn note_cancel(ms: u64) {
    if let Ok(path) = std::env::var("CANCEL_LOG") {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{ms}");
        }
    }
}
