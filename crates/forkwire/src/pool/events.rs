//! What the pool hands back: settled requests and events.

use super::error::RequestError;
use crate::process::ExitStatus;
use std::sync::Arc;

/// Bytes from a worker, undecoded, in the pool's mode.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// json mode: JSON text (for a reply, of the `result` or `error` member;
    /// for an event, of the whole message). `None` when the member was
    /// absent (`undefined` in JavaScript).
    Json(Option<String>),
    /// advanced mode: the whole V8 payload of the message (without the
    /// length prefix); the member is picked after decoding.
    Frame(Vec<u8>),
}

/// How a request settled.
#[derive(Debug)]
pub enum Outcome {
    /// `{id, result}`.
    Result {
        /// The `result` member.
        result: Payload,
        /// The worker slot that answered.
        worker: usize,
    },
    /// `{id, error}`: the worker's own failure.
    RemoteError {
        /// The `error` member.
        error: Payload,
        /// The worker slot that answered.
        worker: usize,
    },
    /// Settled by the pool: timeout, abort, exit, close, ...
    Failed(RequestError),
}

/// Called once with each request's outcome, on a pool thread.
pub type Completion = Box<dyn FnOnce(Outcome) + Send>;

/// Called once per request, with its id and outcome, for every request of
/// [`super::Pool::submit_json_batch`]: one handler for the pool (given to
/// [`super::Pool::with_settled`]) instead of a [`Completion`] each.
pub type Settled = Box<dyn Fn(u64, Outcome) + Send + Sync>;

/// Who hears a request's outcome.
pub(crate) enum Done {
    /// Its own completion.
    Once(Completion),
    /// The pool's [`Settled`] handler, with this id.
    Pool(u64),
}

impl Payload {
    /// What it holds, as a JSON value: the member's text (json mode) or
    /// the whole message (advanced mode); `Null` for an absent member.
    pub(crate) fn value(&self, mode: crate::codec::Mode) -> Result<serde_json::Value, String> {
        match self {
            Payload::Json(None) => Ok(serde_json::Value::Null),
            Payload::Json(Some(text)) => {
                crate::codec::json::decode(text.as_bytes()).map_err(|e| e.to_string())
            }
            Payload::Frame(bytes) => {
                crate::codec::decode_frame(mode, bytes).map_err(|e| e.to_string())
            }
        }
    }
}

/// Something that happened in the pool besides a request settling.
#[derive(Debug)]
pub enum PoolEvent {
    /// A worker (re)started.
    Spawn {
        /// The worker's slot id.
        worker: usize,
        /// Its process id.
        pid: u32,
    },
    /// A worker sent a message that is not a reply (`pool.on('message')`).
    Message {
        /// The worker's slot id.
        worker: usize,
        /// The message.
        payload: Payload,
    },
    /// A reply reported progress: `{id, progress}`.
    Progress {
        /// The request.
        id: u64,
        /// The `progress` member.
        payload: Payload,
    },
    /// A worker process ended.
    Exit {
        /// The worker's slot id.
        worker: usize,
        /// Its process id.
        pid: u32,
        /// How it ended.
        status: ExitStatus,
    },
    /// A worker missed its heartbeats and was killed.
    Unresponsive {
        /// The worker's slot id.
        worker: usize,
        /// Its process id.
        pid: u32,
    },
    /// A worker sent a frame that could not be read.
    ProtocolError {
        /// The worker's slot id.
        worker: usize,
        /// What was wrong.
        message: String,
    },
    /// A pool-level failure (a worker cannot be started or replaced).
    Error(RequestError),
}

/// Receives pool events, on pool threads.
pub type EventHandler = Arc<dyn Fn(PoolEvent) + Send + Sync>;

/// Lets whoever consumes a pool's outcomes and events push back on the
/// threads that read from workers: each reader calls [`ReadGate::wait`]
/// before it takes the next frame, and the gate may block until the
/// consumer has caught up. A pool that hands its deliveries to a bounded
/// queue (as the Node binding does) uses it to keep that queue bounded
/// without dropping anything: the workers then block on their writes.
///
/// Only reader threads wait here; requests, timers and exits never do, so
/// the gate must not wait for anything those threads are doing.
#[derive(Clone)]
pub struct ReadGate(Arc<dyn Fn() + Send + Sync>);

impl ReadGate {
    /// A gate that calls `wait` before each frame a reader takes.
    pub fn new(wait: impl Fn() + Send + Sync + 'static) -> ReadGate {
        ReadGate(Arc::new(wait))
    }

    /// Blocks while the consumer has no room.
    pub fn wait(&self) {
        (self.0)()
    }
}

impl std::fmt::Debug for ReadGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadGate")
    }
}
