//! The worker side of the pool's envelope: [`serve`] reads
//! `{id, type?, data}` requests from the channel, runs a handler on up to
//! `concurrency` threads, and answers `{id, result}` or `{id, error}`.
//! Heartbeat and health-check requests are answered on the reading thread,
//! so a busy handler never looks like a dead worker; `{type: 'cancel', id}`
//! sets the request's [`Request::is_cancelled`].
//!
//! A request of type [`BATCH_TYPE`] (what `requestMany(items, { batchSize })`
//! sends) carries many items: the handler runs once per item, in order,
//! each seen as a request of its own (same id, same cancellation), and one
//! reply `{id, result: {results: [...]}}` answers them all, or `{id,
//! error}` with the first item's error (the items after it are not run).
//! Its `data` takes one of two forms:
//!
//! - `{type, items: [item, ...]}`: each item's [`Request::kind`] is `type`
//!   (what `requestMany(items, { batchSize, type })` sends);
//! - `[item, ...]`: the items have no type (what `requestMany(items, {
//!   batchSize })` sends without a `type`, and all that workers before the
//!   typed form understood; a worker that knows only this form answers the
//!   typed one with an error rather than running its items untyped).
//!
//! Any other `data` is answered with an `ERR_BAD_REQUEST` error.
//!
//! A request that does not decode never reaches the handler and is never
//! dropped silently: it is answered `{id, error}` with code
//! `ERR_BAD_REQUEST` whenever its `id` can be read (see [`Worker::serve`]
//! and [`request_id`]).
//!
//! A whole worker:
//!
//! ```no_run
//! use forkwire::serve::{serve, Request, ServeError};
//! use serde_json::{json, Value};
//!
//! fn main() -> Result<(), forkwire::ChannelError> {
//!     serve(|req: Request| -> Result<Value, ServeError> {
//!         match req.kind() {
//!             Some("add") => {
//!                 let (a, b): (f64, f64) = req.data()?;
//!                 Ok(json!(a + b))
//!             }
//!             _ => Err(ServeError::new("unknown request type").code("E_UNKNOWN")),
//!         }
//!     })
//! }
//! ```

mod bad_request;
mod error;
mod request;
mod worker;

pub use bad_request::{request_id, RequestId};
pub use error::ServeError;
pub use request::{Events, Request};
pub use worker::{serve, Worker};

/// The `type` of a request whose `data` holds many items (`[item, ...]` or
/// `{type, items: [item, ...]}`), each to be handled as a request of its
/// own and answered together; see the [module docs](self).
pub const BATCH_TYPE: &str = crate::vocabulary::BATCH;
