//! The `type`s of forkwire's control messages, defined once: the pool
//! (Rust and, through the addon, JavaScript), `forkwire::serve` and the
//! checks of bad requests all name them from here.

/// Parent → worker: stop request `id` (`{type, id}`).
pub const CANCEL: &str = "cancel";
/// Parent → worker: answer with [`HEARTBEAT`] (`{type}`).
pub const HEARTBEAT_REQUEST: &str = "heartbeat-request";
/// Worker → parent: alive (`{type, timestamp}`).
pub const HEARTBEAT: &str = "heartbeat";
/// Parent → worker: answer with [`HEALTH_STATUS`] (`{type}`).
pub const HEALTH_CHECK: &str = "health-check";
/// Worker → parent: `{type, healthy, metrics}`.
pub const HEALTH_STATUS: &str = "health-status";
/// The `type` of a request whose `data` holds many items (`[item, ...]`
/// or `{type, items: [item, ...]}`), answered `{results: [...]}`.
pub const BATCH: &str = "forkwire:batch";
