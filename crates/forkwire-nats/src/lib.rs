//! forkwire across hosts, over NATS.
//!
//! A **sidecar** per host ([`sidecar`], the `forkwire-sidecar` binary)
//! runs forkwire's pool over that host's forked workers, unchanged, and
//! serves them to NATS as a micro service in a queue group: NATS spreads
//! requests over the sidecars, the sidecars supervise their workers.
//! A **remote pool** ([`client::RemotePool`], and `WorkerPool` with a
//! `nats` option in JavaScript) sends requests to them with the local
//! pool's promises: timeouts, cancellation, retries of idempotent work,
//! exactly one settlement per request. What crosses NATS is defined once,
//! in [`protocol`] and [`micro`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), forkwire::pool::RequestError> {
//! use forkwire_nats::{NatsOptions, RemoteOptions, RemotePool};
//! let nats = NatsOptions { servers: vec!["nats://127.0.0.1:4222".into()], ..Default::default() };
//! let pool = RemotePool::connect(RemoteOptions::new(nats, "resize")).await?;
//! let answer: serde_json::Value = pool.call(Some("echo"), &serde_json::json!({"n": 1})).await?;
//! # let _ = answer;
//! pool.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! NATS core delivers at most once: a request lost with its sidecar is
//! resent only when it has `retries`, so give them only to work that may
//! run twice.

pub mod client;
pub mod connect;
pub mod micro;
pub mod protocol;
pub mod sidecar;

pub use client::{
    RemoteEvent, RemoteOptions, RemotePool, RemoteRequest, RemoteStats, SidecarHealth,
};
pub use connect::NatsOptions;
