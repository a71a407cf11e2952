//! The napi-rs binding of forkwire: JS-facing types and conversions only.
//! The engine lives in the `forkwire` crate; `index.js` wraps these
//! classes in the documented API.

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
