//! Node.js's `child_process.fork()` IPC channel, spoken from Rust: as a child
//! that a Node parent forks, as a parent that spawns Node children, and as a
//! worker pool on top of it.
//!
//! A Rust program built on this crate looks exactly like a Node child to a
//! plain Node parent: what the parent passes to `child.send(x)` arrives here
//! as `x`, and what is sent from here arrives at `child.on('message')`. The
//! other way round, a Node script spawned by a Rust parent finds
//! `process.send` and `process.on('message')` as under `fork()`. The wire
//! format is Node's, byte for byte: one `JSON.stringify` text per line in
//! `serialization: 'json'` mode ([`codec::json`]), V8's serializer format in
//! `serialization: 'advanced'` mode ([`codec::v8`]). Node's internal
//! `NODE_*` messages are answered here and never reach your code.
//!
//! Linux only (x86_64 and aarch64): the channel is an `AF_UNIX` socket pair.
//!
//! ```toml
//! [dependencies]
//! forkwire = "0.1"
//! serde = { version = "1", features = ["derive"] }
//! serde_json = "1"
//! ```
//!
//! Messages are anything serde can write and read; `serde_json` is not
//! re-exported, because its types are part of this crate's API
//! ([`serve::Request::raw`] is a `serde_json::Value`, handlers return one)
//! and your own `serde_json = "1"` is the same crate as forkwire's (Cargo
//! unifies 1.x). forkwire turns on serde_json's `preserve_order` (object
//! keys stay in the order JavaScript wrote them), `raw_value` and
//! `float_roundtrip` features, and Cargo unifies features too: they are on
//! for your uses of serde_json as well.
//!
//! # A child forked by Node
//!
//! [`Channel::from_env`] takes the channel that `fork()` (or
//! `spawn(..., { stdio: [..., 'ipc'] })`) set up, from `NODE_CHANNEL_FD` and
//! `NODE_CHANNEL_SERIALIZATION_MODE`, and removes both variables so that
//! this process's own children do not inherit it. [`Channel::recv`] gives
//! the next message, `Ok(None)` once the parent disconnected;
//! [`Channel::send`] sends one. Both take serde types:
//!
//! ```no_run
//! use forkwire::Channel;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Job {
//!     id: u64,
//!     n: f64,
//! }
//!
//! #[derive(Serialize)]
//! struct Done {
//!     id: u64,
//!     result: f64,
//! }
//!
//! fn main() -> Result<(), forkwire::ChannelError> {
//!     let mut channel = Channel::from_env()?;
//!     loop {
//!         match channel.recv::<Job>() {
//!             Ok(Some(job)) => channel.send(&Done { id: job.id, result: job.n * 2.0 })?,
//!             Ok(None) => return Ok(()), // the parent disconnected
//!             // A message that is not a Job: the channel goes on with the next one.
//!             Err(e) if e.is_recoverable() => eprintln!("skipped: {e}"),
//!             Err(e) => return Err(e),
//!         }
//!     }
//! }
//! ```
//!
//! On the Node side: `fork(anyScript, [], { execPath: './target/release/my-worker' })`,
//! then `child.send({ id: 1, n: 21 })` and `child.on('message', ...)`.
//! [`Channel::sender`] gives a [`Sender`] that any number of threads may
//! clone and use while one thread receives; [`Channel::split`] separates the
//! halves for good.
//!
//! # A parent spawning Node children
//!
//! [`process::Command`] starts a child with the channel at descriptor 3,
//! as `fork()` does: [`Command::node`] runs a Node script (what `fork(script)`
//! does), [`Command::new`] any program that speaks the channel (a Rust worker
//! on this crate, for one). [`ChildProcess::channel`] is the parent's end.
//!
//! ```no_run
//! use forkwire::process::Command;
//! use forkwire::Mode;
//! use serde_json::{json, Value};
//!
//! // worker.js: process.on('message', (m) => process.send({ id: m.id, result: m.n * 2 }));
//! let mut child = Command::node("worker.js").serialization(Mode::Json).spawn()?;
//! child.channel().send(&json!({ "id": 1, "n": 21 }))?;
//! let reply: Option<Value> = child.channel().recv()?; // Some({"id":1,"result":42})
//! child.channel().disconnect(); // the child's 'disconnect' event; it exits
//! let status = child.wait()?; // code or signal, as Node's 'exit' event gives them
//! assert_eq!((reply, status.code), (Some(json!({ "id": 1, "result": 42 })), Some(0)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The pool
//!
//! [`pool::Pool`] runs `size` workers and sends each request to one of them
//! as `{id, type?, data}`; the worker's `{id, result}` or `{id, error}`
//! settles it. Queueing, dispatch (least busy, by role, by worker, sticky by
//! key), deadlines, cancellation, retries and replacing workers that die all
//! run on the pool's threads; every request settles exactly once. It is the
//! engine behind the npm package's `WorkerPool`, usable directly from Rust:
//!
//! ```no_run
//! use forkwire::pool::{ErrorCode, Pool, PoolOptions, Target};
//! use forkwire::process::Command;
//! use serde_json::json;
//! use std::time::Duration;
//!
//! let mut options = PoolOptions::new(Command::new("target/release/my-worker"));
//! options.size = 4;
//! options.concurrency = 64; // requests in flight per worker
//! options.timeout = Some(Duration::from_secs(5));
//! let pool = Pool::new(options)?;
//!
//! let sum: f64 = pool.call_with(&json!({ "a": 2, "b": 3 }), Some("add"), Target::Any, None)?;
//! match pool.call::<_, f64>(&json!("not a number")) {
//!     Ok(n) => println!("{sum} {n}"),
//!     Err(e) if e.code == ErrorCode::Remote => println!("the worker said: {}", e.message),
//!     Err(e) => println!("{} ({})", e.message, e.code), // timeout, worker exited, ...
//! }
//! pool.close(Default::default()); // ends the workers and the pool's threads
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`pool::Pool::submit`] is the asynchronous form (a callback per request),
//! [`pool::Pool::with_events`] hears worker messages, exits and protocol
//! errors, and [`pool::Pool::stats`] counts everything.
//!
//! # Workers with `serve`
//!
//! [`serve::serve`] is the worker side of the pool's envelope: it reads
//! requests, runs a handler on a fixed set of threads, and answers
//! `{id, result}` or `{id, error}`. Heartbeats, health checks, cancellation
//! and batches (`requestMany(items, { batchSize })` in Node) are handled for
//! you. A [`serve::ServeError`] reaches Node as a `WorkerError` with its
//! `message`, `name` and `code`:
//!
//! ```no_run
//! use forkwire::serve::{Request, ServeError, Worker};
//! use serde::Deserialize;
//! use serde_json::{json, Value};
//!
//! #[derive(Deserialize)]
//! struct Add {
//!     a: f64,
//!     b: f64,
//! }
//!
//! fn main() -> Result<(), forkwire::ChannelError> {
//!     Worker::from_env()?.concurrency(4).serve(|req: Request| -> Result<Value, ServeError> {
//!         match req.kind() {
//!             // Data of another shape: an error with code ERR_INVALID_DATA.
//!             Some("add") => {
//!                 let Add { a, b } = req.data()?;
//!                 Ok(json!(a + b))
//!             }
//!             Some("count") => {
//!                 let to: u64 = req.data()?;
//!                 for i in 0..to {
//!                     if req.is_cancelled() {
//!                         return Err(ServeError::new("cancelled").code("E_CANCELLED"));
//!                     }
//!                     req.progress(&i)?; // `onProgress` in Node
//!                 }
//!                 Ok(json!(to))
//!             }
//!             _ => Err(ServeError::new("unknown request type").code("E_UNKNOWN")),
//!         }
//!     })
//! }
//! ```
//!
//! From Node: `new WorkerPool({ command: 'target/release/my-worker' })`, then
//! `await pool.request({ a: 2, b: 3 }, { type: 'add' })` gives `5`.
//!
//! # Advanced serialization
//!
//! With `serialization: 'advanced'` (in `fork()`, in `WorkerPool`, or
//! [`Command::serialization`]`(`[`Mode::Advanced`]`)` here) messages are in
//! V8's serializer format. A child picks the mode up from its environment,
//! so the same worker serves both. [`codec::v8::Value`] holds everything
//! that format carries (undefined, NaN and -0, BigInt, Date, RegExp, Map,
//! Set, Buffers and typed arrays, sparse arrays, Errors, shared and circular
//! references) and sends it back byte for byte; serde types and
//! `serde_json::Value` go over it too.
//!
//! ```
//! use forkwire::codec::v8::Value;
//! use forkwire::codec::{Limits, Mode};
//! use forkwire::Channel;
//! use std::os::unix::net::UnixStream;
//!
//! // Both ends of an advanced-mode channel, in one process for the example.
//! let (a, b) = UnixStream::pair()?;
//! let parent = Channel::from_stream(a, Mode::Advanced, Limits::default())?;
//! let mut child = Channel::from_stream(b, Mode::Advanced, Limits::default())?;
//!
//! let sent = Value::object([
//!     ("when", Value::date(0.0)),                 // a Date
//!     ("tags", Value::set(["a", "b"])),           // a Set
//!     ("bytes", Value::buffer(*b"\x00\xff")),     // a Buffer
//!     ("missing", Value::Undefined),              // kept, not dropped
//! ]);
//! parent.send(&sent)?;
//! let got: Value = child.recv()?.expect("a message");
//! assert_eq!(got, sent);
//! assert!(got.get("missing").is_some_and(Value::is_undefined));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`codec::v8::decode`], [`codec::v8::encode`], [`codec::v8::to_vec`] and
//! [`codec::v8::from_slice`] work on payloads without a channel.
//!
//! # Handles
//!
//! A socket or server crosses the channel with its message, as with
//! `child.send(message, handle)` in Node, in either direction.
//! [`Channel::recv_with_handle`] gives the message with a [`Handle`] (a
//! `TcpStream`, `TcpListener`, `UnixStream`, `UdpSocket`, ...), and answers
//! Node's ACK/NACK handshake as a Node child does; [`Channel::recv`] takes
//! such a handle and closes it, as a Node child that ignores it would.
//!
//! ```no_run
//! use forkwire::channel::Handle;
//! use std::io::Write;
//!
//! // A worker behind a Node front end that hands it accepted connections:
//! // server.on('connection', (socket) => child.send({ type: 'conn' }, socket)).
//! let mut channel = forkwire::Channel::from_env()?;
//! while let Some((_msg, handle)) = channel.recv_with_handle::<serde_json::Value>()? {
//!     if let Some(Handle::TcpStream(mut conn)) = handle {
//!         // Node's sockets are non-blocking; sent without keepOpen, this one is ours alone.
//!         conn.set_nonblocking(false)?;
//!         conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nhi\n")?;
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The other way, [`Channel::send_with_handle`] hands over a listener or a
//! connection and returns a [`channel::HandleReceipt`] that tells whether
//! the peer took it:
//!
//! ```no_run
//! use forkwire::process::Command;
//! use forkwire::HandleKind;
//! use serde_json::{json, Value};
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! // server.js: process.on('message', (m, server) => server.on('connection', ...))
//! let mut child = Command::node("server.js").spawn()?;
//! let receipt = child
//!     .channel()
//!     .send_with_handle(&json!({ "type": "listen" }), &listener, HandleKind::NetServer)?;
//! let _reply: Option<Value> = child.channel().recv()?; // reads the child's ACK on the way
//! receipt.wait()?; // Err(HandleRefused) if the child would not take it
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Bad input
//!
//! A frame that is not JSON, not UTF-8, larger than [`codec::Limits`]
//! allows, or cut off at the end of the stream, is an error value, never a
//! panic; after a recoverable one ([`ChannelError::is_recoverable`]) the
//! channel goes on with the next frame. Decoding advanced-mode payloads is
//! bounded in depth and memory ([`codec::v8`]).

#![warn(missing_docs)]

pub mod channel;
pub mod codec;
pub mod pool;
pub mod process;
pub mod serve;
pub mod vocabulary;

pub use channel::{Channel, ChannelError, Handle, HandleKind, Receiver, Sender};
pub use codec::Mode;
pub use process::{ChildProcess, Command, ExitStatus, Reaper, SpawnError};
