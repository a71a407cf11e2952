// A worker on `forkwire::serve`: requests {id, type, data} in, {id, result} or
// {id, error} out; heartbeats, health checks and batches are answered for you.
// Cargo.toml: forkwire = "0.1", serde = { version = "1", features = ["derive"] }, serde_json = "1"
use forkwire::serve::{serve, Request, ServeError};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Add {
    a: f64,
    b: f64,
}

fn main() -> Result<(), forkwire::ChannelError> {
    serve(|req: Request| -> Result<Value, ServeError> {
        match req.kind() {
            Some("add") => {
                let Add { a, b } = req.data()?; // other data: an error with code ERR_INVALID_DATA
                Ok(json!(a + b))
            }
            _ => Err(ServeError::new("unknown request type").code("E_UNKNOWN")),
        }
    })
}
