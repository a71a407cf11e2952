//! The napi-rs binding of forkwire: JS-facing types and conversions only.
//! The engine lives in the `forkwire` crate; `index.js` wraps these
//! classes in the documented API.

mod error;
mod handle;
mod inbox;
mod options;
mod pool;
mod remote;
mod wake;

// Exported to JS by #[napi]; public here so that test builds (where napi
// registers nothing) do not see them as unused.
pub use pool::{empty_metrics, empty_stats};

use napi_derive::napi;

/// The version of the native addon (the `forkwire` crate's version).
#[napi(catch_unwind)]
pub fn native_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// The `type`s of forkwire's control messages (`forkwire::vocabulary`), so
/// that `lib/` names them from the engine rather than restating them.
#[napi(object)]
pub struct Vocabulary {
    /// Parent → worker: stop request `id`.
    pub cancel: String,
    /// Parent → worker: answer with a heartbeat.
    pub heartbeat_request: String,
    /// Worker → parent: alive.
    pub heartbeat: String,
    /// Parent → worker: answer with a health status.
    pub health_check: String,
    /// Worker → parent: `{type, healthy, metrics}`.
    pub health_status: String,
    /// The type of a request carrying many items (`requestMany` batches).
    pub batch: String,
}

/// See [`Vocabulary`].
#[napi(catch_unwind)]
pub fn vocabulary() -> Vocabulary {
    use forkwire::vocabulary as v;
    Vocabulary {
        cancel: v::CANCEL.into(),
        heartbeat_request: v::HEARTBEAT_REQUEST.into(),
        heartbeat: v::HEARTBEAT.into(),
        health_check: v::HEALTH_CHECK.into(),
        health_status: v::HEALTH_STATUS.into(),
        batch: v::BATCH.into(),
    }
}

/// The codes of a `ForkwireError`, for `lib/errors.js` (a worker's own
/// `{id, error}` is a `WorkerError` and has none of them).
#[napi(catch_unwind)]
pub fn error_codes() -> Vec<&'static str> {
    use forkwire::pool::ErrorCode;
    ErrorCode::ALL
        .iter()
        .filter(|code| **code != ErrorCode::Remote)
        .map(|code| code.as_str())
        .collect()
}
