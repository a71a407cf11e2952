//! What a pool is built from and what it is asked: its options, and one
//! request (body, target, timeout, retries, completion).

use super::{Completion, ReadGate, RestartPolicy};
use crate::process::Command;
use std::time::Duration;

/// Which worker may run a request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Target {
    /// The least busy worker.
    #[default]
    Any,
    /// This worker slot only.
    Worker(usize),
    /// A worker holding this role.
    Role(String),
    /// The same worker as every other request with this key, while it lives.
    Key(String),
}

/// How to build a pool.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    /// The program each worker runs, with its channel mode and environment.
    pub command: Command,
    /// Number of workers. Default: the number of CPUs.
    pub size: usize,
    /// Requests in flight per worker. Default 1.
    pub concurrency: usize,
    /// Default per-request timeout; `None` (the default) for none.
    pub timeout: Option<Duration>,
    /// Requests that may wait for a worker; past it submissions fail with
    /// [`ErrorCode::QueueFull`]. Default: unbounded.
    pub max_queue: usize,
    /// When to replace workers that end.
    pub restart: RestartPolicy,
    /// How many times a request is resent to another worker when its
    /// worker dies; per request with [`Request::retries`]. Default 0.
    pub retries: u32,
    /// Heartbeats: `None` (the default) for none.
    pub heartbeat: Option<Heartbeat>,
    /// Retire a worker after this many replies. Default: never.
    pub max_tasks_per_worker: Option<u64>,
    /// Retire a worker whose resident memory exceeds this many bytes
    /// (read from `/proc` once a second). Default: no limit.
    pub max_memory: Option<u64>,
    /// Recycle a worker after this many bad frames. Default: never.
    pub max_protocol_errors: Option<usize>,
    /// Protocol version: sent as `version` in every request; a reply whose
    /// `version` differs fails with [`ErrorCode::Version`]. JSON text,
    /// e.g. `"\"1.0\""`. Default: none.
    pub protocol_version: Option<String>,
    /// The largest frame accepted from a worker, in bytes (json: a line;
    /// advanced: a payload). A larger one is skipped as it arrives and
    /// reported as [`PoolEvent::ProtocolError`]; it never occupies more
    /// than one read's worth of memory. It replaces the limit set with
    /// [`Command::limits`]. Default: [`DEFAULT_MAX_FRAME`] (16 MiB).
    pub max_frame: usize,
    /// Asked before each frame a reader takes; see [`ReadGate`].
    /// Default: none (readers never wait).
    pub read_gate: Option<ReadGate>,
}

/// The default [`PoolOptions::max_frame`]: 16 MiB, far above real messages
/// (a few KB to a few MB) and small enough that a worker cannot make the
/// parent hold much for it.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// Heartbeat settings: every `interval` each worker is sent
/// `{type: 'heartbeat-request'}`; one that has not answered
/// `{type: 'heartbeat'}` for `timeout` is killed and replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// Time between requests.
    pub interval: Duration,
    /// Silence after which a worker is declared unresponsive.
    pub timeout: Duration,
}

impl PoolOptions {
    /// Defaults for `command`.
    pub fn new(command: Command) -> PoolOptions {
        PoolOptions {
            command,
            size: std::thread::available_parallelism().map_or(1, |n| n.get()),
            concurrency: 1,
            timeout: None,
            max_queue: usize::MAX,
            restart: RestartPolicy::default(),
            retries: 0,
            heartbeat: None,
            max_tasks_per_worker: None,
            max_memory: None,
            max_protocol_errors: None,
            protocol_version: None,
            max_frame: DEFAULT_MAX_FRAME,
            read_gate: None,
        }
    }
}

/// What to send: a request body in one of two forms.
#[derive(Clone, Debug)]
pub enum Body {
    /// json mode: the JSON text of `data` (as `JSON.stringify` writes it,
    /// `None` for `undefined`) and an optional `type`; the pool writes the
    /// envelope around it.
    Json {
        /// JSON text of `data`.
        data: Option<String>,
        /// The `type` member.
        kind: Option<String>,
    },
    /// A complete frame in the pool's mode, framing included, whose
    /// envelope already carries the request's id (how advanced-mode
    /// callers send).
    Frame(Vec<u8>),
}

/// What every request of one [`Pool::submit_json_batch_with`] call shares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOptions {
    /// The `type` member of each request's envelope; `None` for none.
    pub kind: Option<String>,
    /// Each request's timeout, as [`Request::timeout`]: `None` uses the
    /// pool's, `Some(Duration::ZERO)` means none.
    pub timeout: Option<Duration>,
    /// Resends of each request if its worker dies, as [`Request::retries`]:
    /// `None` uses the pool's.
    pub retries: Option<u32>,
}

/// One request.
pub struct Request {
    /// Correlation id, unique among this pool's open requests
    /// (see [`Pool::next_id`]).
    pub id: u64,
    /// What to send.
    pub body: Body,
    /// Per-request timeout: `None` uses the pool's, `Some(Duration::ZERO)`
    /// means none.
    pub timeout: Option<Duration>,
    /// Which worker may run it.
    pub target: Target,
    /// Resends if its worker dies: `None` uses the pool's `retries`.
    pub retries: Option<u32>,
    /// Called once with the outcome.
    pub done: Completion,
}

impl Request {
    /// A json-mode request with `data` (the JSON text of its `data`
    /// member), no type, to any worker, with the pool's timeout and
    /// retries; `done` hears its outcome. Change the rest with struct
    /// update syntax:
    ///
    /// ```
    /// use forkwire::pool::{Request, Target};
    ///
    /// let request = Request {
    ///     target: Target::Worker(0),
    ///     ..Request::json(7, r#"{"n":21}"#, |outcome| println!("{outcome:?}"))
    /// };
    /// assert_eq!(request.id, 7);
    /// ```
    pub fn json(
        id: u64,
        data: impl Into<String>,
        done: impl FnOnce(super::Outcome) + Send + 'static,
    ) -> Request {
        Request {
            id,
            body: Body::Json {
                data: Some(data.into()),
                kind: None,
            },
            timeout: None,
            target: Target::Any,
            retries: None,
            done: Box::new(done),
        }
    }
}
