//! forkwire speaks Node.js's own `child_process.fork()` IPC channel from Rust.
//!
//! A Rust program built on this crate can be forked from any Node parent and
//! look exactly like a Node child ([`Channel::from_env`]), or spawn Node (or
//! Rust) children with the channel set up as `fork()` does ([`process`]).
//! The wire format is Node's, byte for byte: newline-delimited JSON in
//! `serialization: 'json'` mode ([`codec::json`]).
//!
//! ```no_run
//! use forkwire::Channel;
//!
//! let mut channel = Channel::from_env()?;
//! while let Some(msg) = channel.recv::<serde_json::Value>()? {
//!     channel.send(&serde_json::json!({ "echo": msg }))?;
//! }
//! # Ok::<(), forkwire::ChannelError>(())
//! ```

#![warn(missing_docs)]

pub mod channel;
pub mod codec;
pub mod pool;
pub mod process;
pub mod serve;

pub use channel::{Channel, ChannelError, Handle, HandleKind, Receiver, Sender};
pub use codec::Mode;
pub use process::{ChildProcess, Command, ExitStatus, Reaper, SpawnError};
