//! {{name}}: a Rust worker for forkwire's `WorkerPool`.
//!
//! Node sends requests with `pool.request(data, { type })`; `serve` runs
//! `handle` for each one on a worker thread and sends back what it returns:
//! `Ok(value)` resolves the request with `value`, `Err(ServeError)` rejects
//! it with a `WorkerError` that has the error's message and `code`.
//! Heartbeats, health checks, cancellation and batches are taken care of.

use forkwire::serve::{serve, Request, ServeError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `pool.request({ a: 7, b: 2 }, { type: 'divide' })`
#[derive(Deserialize)]
struct Divide {
    a: f64,
    b: f64,
}

/// ... resolves to `{ quotient: 3.5 }`.
#[derive(Serialize)]
struct Quotient {
    quotient: f64,
}

/// `pool.request({ text: 'to be or not' }, { type: 'words' })`
#[derive(Deserialize)]
struct Words {
    text: String,
}

/// ... resolves to `{ count: 4, longest: 'not' }`.
#[derive(Serialize)]
struct WordCount {
    count: usize,
    longest: String,
}

fn handle(req: Request) -> Result<Value, ServeError> {
    match req.kind() {
        Some("divide") => {
            let Divide { a, b } = data(&req)?;
            if b == 0.0 {
                // In Node: a WorkerError with code 'E_DIVIDE_BY_ZERO'.
                return Err(ServeError::new("division by zero").code("E_DIVIDE_BY_ZERO"));
            }
            reply(Quotient { quotient: a / b })
        }
        Some("words") => {
            let Words { text } = data(&req)?;
            let words: Vec<&str> = text.split_whitespace().collect();
            // The first of the longest words.
            let longest = words.iter().fold("", |best, w| if w.len() > best.len() { w } else { best });
            reply(WordCount { count: words.len(), longest: longest.to_string() })
        }
        other => Err(ServeError::new(format!("unknown request type {other:?}")).code("E_UNKNOWN_TYPE")),
    }
}

/// The request's `data` as `T`; data of the wrong shape rejects with `E_BAD_DATA`.
fn data<T: DeserializeOwned>(req: &Request) -> Result<T, ServeError> {
    req.data().map_err(|e| ServeError::new(format!("bad data: {e}")).code("E_BAD_DATA"))
}

/// A typed reply, as the JSON value `serve` sends.
fn reply<T: Serialize>(value: T) -> Result<Value, ServeError> {
    serde_json::to_value(value).map_err(|e| ServeError::new(e.to_string()).code("E_REPLY"))
}

fn main() -> Result<(), forkwire::ChannelError> {
    serve(handle)
}
