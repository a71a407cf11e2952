//! The worker pool and request-correlation engine.
//!
//! A [`Pool`] runs `size` worker processes (Rust programs on this crate, or
//! Node scripts) and sends each request to one of them as
//! `{id, type?, data}`; the worker's `{id, result}` or `{id, error}` settles
//! it. Queueing, dispatch (least busy, by role, by worker, or sticky by
//! key), correlation, deadlines and worker replacement all run on Rust
//! threads: one reader, one writer and one reaper per worker, and one timer
//! thread per pool. Every request settles exactly once: result, remote
//! error, timeout, abort, worker exit, or close.
//!
//! [`Pool::stats`] counts them (with latency percentiles), and
//! [`Pool::metrics`] gives the same figures, a latency histogram and each
//! worker's memory in the Prometheus text format ([`PoolMetrics`]).
//!
//! ```no_run
//! use forkwire::pool::{Pool, PoolOptions};
//! use forkwire::process::Command;
//!
//! let pool = Pool::new(PoolOptions::new(Command::new("target/release/examples/seed_worker")))?;
//! let doubled: f64 = pool.call(&serde_json::json!({ "n": 21 }))?;
//! assert_eq!(doubled, 42.0);
//! pool.close(Default::default());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod envelope;
mod error;
mod events;
mod handle;
mod histogram;
mod ids;
mod lifecycle;
mod metrics;
mod state;
mod stats;
mod timer;
mod worker;

pub use error::{ErrorCode, RequestError};
pub use events::{Completion, EventHandler, Outcome, Payload, PoolEvent, ReadGate, Settled};
pub use histogram::{
    LatencyHistogram, BUCKETS as LATENCY_BUCKETS, PROMETHEUS_BOUNDS as LATENCY_BOUNDS,
};
pub use lifecycle::{CloseOptions, RestartPolicy};
pub use metrics::{PoolMetrics, PROMETHEUS_CONTENT_TYPE};
pub use stats::{LatencyPercentiles, PoolStats, WorkerStats};

use crate::codec::{self, Mode};
use crate::process::Command;
use events::Done;
use parking_lot::{Condvar, Mutex};
use state::{Effects, Entry, Phase, State, Timer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A request with its frame built, on its way into the queue.
struct Queued {
    id: u64,
    frame: Vec<u8>,
    timeout: Option<Duration>,
    target: Target,
    retries: Option<u32>,
    done: Done,
    handle: Option<handle::PoolHandle>,
}

/// State shared by the pool handle and its threads.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Wakes the timer thread when an earlier deadline appears.
    timer_cv: Condvar,
    /// Signals progress to `close()`: requests settled, workers or threads
    /// gone.
    idle_cv: Condvar,
    on_event: EventHandler,
    /// Hears the requests of `submit_json_batch`.
    settled: Option<Settled>,
    options: PoolOptions,
    mode: Mode,
}

/// A pool of worker processes. See the [module docs](self).
pub struct Pool {
    shared: Arc<Shared>,
    next_id: AtomicU64,
}

impl Pool {
    /// Starts the pool's workers. Fails if the first worker cannot be
    /// started; later failures are reported as [`PoolEvent::Error`].
    pub fn new(options: PoolOptions) -> Result<Pool, RequestError> {
        Self::with_events(options, Arc::new(|_| {}))
    }

    /// Like [`Pool::new`], reporting events to `on_event`.
    pub fn with_events(options: PoolOptions, on_event: EventHandler) -> Result<Pool, RequestError> {
        Self::build(options, on_event, None)
    }

    /// Like [`Pool::with_events`], with the handler that hears every
    /// request of [`Pool::submit_json_batch`].
    pub fn with_settled(
        options: PoolOptions,
        on_event: EventHandler,
        settled: Settled,
    ) -> Result<Pool, RequestError> {
        Self::build(options, on_event, Some(settled))
    }

    fn build(
        mut options: PoolOptions,
        on_event: EventHandler,
        settled: Option<Settled>,
    ) -> Result<Pool, RequestError> {
        let mode = options.command.mode();
        options.command.limits(codec::Limits {
            max_frame: options.max_frame,
        });
        let size = options.size.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(size, options.concurrency)),
            timer_cv: Condvar::new(),
            idle_cv: Condvar::new(),
            on_event,
            settled,
            options,
            mode,
        });
        let mut fx = Effects::default();
        let mut first_error = None;
        {
            let mut st = shared.state.lock();
            for slot in 0..size {
                if let Err(e) = shared.start_worker(&mut st, slot, &mut fx) {
                    first_error.get_or_insert(e);
                }
            }
            st.threads += 1;
            let now = Instant::now();
            if let Some(hb) = shared.options.heartbeat {
                st.timers.push(std::cmp::Reverse((
                    timer::after(hb.interval),
                    Timer::Heartbeat,
                )));
            }
            if shared.options.max_memory.is_some() {
                st.timers.push(std::cmp::Reverse((now, Timer::MemoryCheck)));
            }
        }
        let timer = worker::spawn_thread("forkwire-timer".into(), &shared, timer::run)
            .ok_or_else(|| RequestError::new(ErrorCode::Spawn, "cannot start the timer thread"))?;
        shared.state.lock().handles.push(timer);
        let pool = Pool {
            shared,
            next_id: AtomicU64::new(1),
        };
        pool.shared.fire(fx);
        match first_error {
            Some(e) => {
                pool.close(CloseOptions::default());
                Err(e)
            }
            None => Ok(pool),
        }
    }

    /// The channel mode the workers speak.
    pub fn mode(&self) -> Mode {
        self.shared.mode
    }

    /// A fresh request id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Submits a request. `done` is called exactly once, possibly before
    /// this returns (queue full, pool closed).
    pub fn submit(&self, request: Request) {
        let mut fx = Effects::default();
        self.shared.submit(request, &mut fx);
        self.shared.fire(fx);
    }

    /// Submits many requests under one lock; each `done` is called once.
    pub fn submit_many(&self, requests: impl IntoIterator<Item = Request>) {
        let mut fx = Effects::default();
        self.shared.submit_many(requests, &mut fx);
        self.shared.fire(fx);
    }

    /// Submits json-mode requests with ids `first_id`, `first_id + 1`, ...,
    /// one per item of `data` (each the JSON text of a request's `data`),
    /// with no type, the pool's timeout and retries, to any worker, under
    /// one lock. The pool's [`Settled`] handler is called once per request
    /// with its id and outcome. The cheapest way to submit many requests:
    /// nothing per request beyond its frame and its entry. Returns false,
    /// and submits nothing, on a pool built without a handler
    /// ([`Pool::with_settled`]).
    ///
    /// The ids must not be open already: one that is, is refused with
    /// "duplicate request id", and the handler hears that refusal under
    /// the same id as the open request (take ids from one counter, as
    /// [`Pool::next_id`] does, to keep them apart).
    #[must_use]
    pub fn submit_json_batch<'a>(
        &self,
        first_id: u64,
        data: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        self.submit_json_batch_with(first_id, data, &BatchOptions::default())
    }

    /// [`Pool::submit_json_batch`] with a `type`, a timeout and retries
    /// shared by every request of the call (each request still has its
    /// own deadline, counted from this call, and settles on its own).
    #[must_use]
    pub fn submit_json_batch_with<'a>(
        &self,
        first_id: u64,
        data: impl IntoIterator<Item = &'a str>,
        options: &BatchOptions,
    ) -> bool {
        if self.shared.settled.is_none() {
            return false;
        }
        let mut fx = Effects::default();
        {
            let now = timer::monotonic_ns();
            let kind = options.kind.as_deref();
            let mut st = self.shared.state.lock();
            for (id, data) in (first_id..).zip(data) {
                let done = Done::Pool(id);
                if let Some(refused) = self.shared.refuse_json() {
                    st.reject(done, refused, &mut fx);
                    continue;
                }
                let queued = Queued {
                    id,
                    frame: self.shared.json_frame(id, kind, Some(data)),
                    timeout: options.timeout,
                    target: Target::Any,
                    retries: options.retries,
                    done,
                    handle: None,
                };
                self.shared.enqueue_frame(&mut st, queued, now, &mut fx);
            }
            st.pump();
        }
        self.shared.fire(fx);
        true
    }

    /// Sends `data` as a request and waits for the result, decoded as `R`.
    pub fn call<T, R>(&self, data: &T) -> Result<R, RequestError>
    where
        T: serde::Serialize + ?Sized,
        R: serde::de::DeserializeOwned,
    {
        self.call_with(data, None, Target::Any, None)
    }

    /// [`Pool::call`] with a `type`, a target and a timeout.
    pub fn call_with<T, R>(
        &self,
        data: &T,
        kind: Option<&str>,
        target: Target,
        timeout: Option<Duration>,
    ) -> Result<R, RequestError>
    where
        T: serde::Serialize + ?Sized,
        R: serde::de::DeserializeOwned,
    {
        let id = self.next_id();
        let body = self.encode_body(id, data, kind)?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.submit(Request {
            id,
            body,
            timeout,
            target,
            retries: None,
            done: Box::new(move |outcome| {
                let _ = tx.send(outcome);
            }),
        });
        let outcome = rx
            .recv()
            .map_err(|_| RequestError::new(ErrorCode::Closed, "the pool dropped the request"))?;
        self.decode_outcome(outcome)
    }

    fn encode_body<T: serde::Serialize + ?Sized>(
        &self,
        id: u64,
        data: &T,
        kind: Option<&str>,
    ) -> Result<Body, RequestError> {
        let serialize_err =
            |e: &dyn std::fmt::Display| RequestError::new(ErrorCode::Serialize, e.to_string());
        match self.shared.mode {
            Mode::Json => Ok(Body::Json {
                data: Some(serde_json::to_string(data).map_err(|e| serialize_err(&e))?),
                kind: kind.map(str::to_owned),
            }),
            Mode::Advanced => {
                #[derive(serde::Serialize)]
                struct Envelope<'a, T: ?Sized> {
                    id: u64,
                    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
                    kind: Option<&'a str>,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    version: Option<serde_json::Value>,
                    data: &'a T,
                }
                // `protocol_version` is JSON text, as in json mode's envelope.
                let version = match self.shared.options.protocol_version.as_deref() {
                    Some(text) => Some(
                        serde_json::from_str::<serde_json::Value>(text)
                            .map_err(|e| serialize_err(&e))?,
                    ),
                    None => None,
                };
                let envelope = Envelope {
                    id,
                    kind,
                    version,
                    data,
                };
                let mut frame = Vec::new();
                codec::encode_frame(self.shared.mode, &envelope, &mut frame)
                    .map_err(|e| serialize_err(&e))?;
                Ok(Body::Frame(frame))
            }
        }
    }

    fn decode_outcome<R: serde::de::DeserializeOwned>(
        &self,
        outcome: Outcome,
    ) -> Result<R, RequestError> {
        let decode = |payload: Payload, member: &str| -> Result<serde_json::Value, RequestError> {
            let bad =
                |e: &dyn std::fmt::Display| RequestError::new(ErrorCode::Protocol, e.to_string());
            match payload {
                Payload::Json(None) => Ok(serde_json::Value::Null),
                Payload::Json(Some(text)) => {
                    codec::json::decode(text.as_bytes()).map_err(|e| bad(&e))
                }
                Payload::Frame(bytes) => {
                    let whole: serde_json::Value =
                        codec::decode_frame(self.shared.mode, &bytes).map_err(|e| bad(&e))?;
                    Ok(whole
                        .get(member)
                        .cloned()
                        .unwrap_or(serde_json::Value::Null))
                }
            }
        };
        match outcome {
            Outcome::Result { result, .. } => serde_json::from_value(decode(result, "result")?)
                .map_err(|e| RequestError::new(ErrorCode::Protocol, e.to_string())),
            Outcome::RemoteError { error: p, .. } => {
                let value = decode(p, "error")?;
                let message = match &value {
                    serde_json::Value::String(s) => s.clone(),
                    v => v
                        .get("message")
                        .and_then(|m| m.as_str())
                        .map_or_else(|| v.to_string(), str::to_owned),
                };
                Err(RequestError::new(ErrorCode::Remote, message))
            }
            Outcome::Failed(e) => Err(e),
        }
    }

    /// Cancels request `id` (if still open): it settles with `code`
    /// ([`ErrorCode::Aborted`] or [`ErrorCode::Timeout`]) and, if a worker
    /// has it, the worker is sent `{type: 'cancel', id}`.
    pub fn cancel(&self, id: u64, code: ErrorCode) -> bool {
        self.cancel_many([id], code) == 1
    }

    /// Cancels each of `ids` that is still open, as [`Pool::cancel`], under
    /// one lock. Returns how many were.
    pub fn cancel_many(&self, ids: impl IntoIterator<Item = u64>, code: ErrorCode) -> usize {
        let message = match code {
            ErrorCode::Timeout => "the request timed out",
            _ => "the request was aborted",
        };
        let mut fx = Effects::default();
        let cancelled = {
            let mut st = self.shared.state.lock();
            let cancelled = ids
                .into_iter()
                .filter(|&id| self.shared.cancel_one(&mut st, id, code, message, &mut fx))
                .count();
            if cancelled > 0 {
                st.pump();
                self.shared.idle_cv.notify_all();
            }
            cancelled
        };
        self.shared.fire(fx);
        cancelled
    }

    /// Sends one complete frame to worker `worker`. Returns whether it was
    /// queued for writing (false: no such worker, or not connected).
    pub fn send_frame(&self, worker: usize, frame: Vec<u8>) -> bool {
        let st = self.shared.state.lock();
        st.slots
            .get(worker)
            .and_then(|s| s.live.as_ref())
            .is_some_and(|live| live.write(frame.into()))
    }

    /// Encodes `message` and sends it to `worker`, as [`Pool::send_frame`].
    pub fn send<T: serde::Serialize + ?Sized>(
        &self,
        worker: usize,
        message: &T,
    ) -> Result<bool, RequestError> {
        Ok(self.send_frame(worker, self.encode(message)?))
    }

    /// Sends one frame to every live worker, or to those holding `role`.
    /// Returns how many it was sent to.
    pub fn broadcast_frame(&self, frame: Vec<u8>, role: Option<&str>) -> usize {
        let frame: Arc<[u8]> = frame.into();
        let st = self.shared.state.lock();
        st.slots
            .iter()
            .filter(|s| role.is_none_or(|r| s.roles.contains(r)))
            .filter_map(|s| s.live.as_ref())
            .filter(|live| live.write(Arc::clone(&frame)))
            .count()
    }

    /// Encodes `message` and broadcasts it, as [`Pool::broadcast_frame`].
    pub fn broadcast<T: serde::Serialize + ?Sized>(
        &self,
        message: &T,
        role: Option<&str>,
    ) -> Result<usize, RequestError> {
        Ok(self.broadcast_frame(self.encode(message)?, role))
    }

    fn encode<T: serde::Serialize + ?Sized>(&self, message: &T) -> Result<Vec<u8>, RequestError> {
        let mut frame = Vec::new();
        codec::encode_frame(self.shared.mode, message, &mut frame)
            .map_err(|e| RequestError::new(ErrorCode::Serialize, e.to_string()))?;
        Ok(frame)
    }

    /// Gives worker slot `worker` a role. Returns false for no such slot.
    pub fn assign_role(&self, worker: usize, role: &str) -> bool {
        let mut fx = Effects::default();
        let ok = {
            let mut st = self.shared.state.lock();
            let ok = match st.slots.get_mut(worker) {
                Some(slot) => {
                    slot.roles.insert(role.to_owned());
                    true
                }
                None => false,
            };
            // Requests waiting for this role may run now.
            st.pump();
            ok
        };
        self.shared.fire(std::mem::take(&mut fx));
        ok
    }

    /// Takes a role from worker slot `worker`. Returns whether it had it.
    pub fn remove_role(&self, worker: usize, role: &str) -> bool {
        let mut st = self.shared.state.lock();
        st.slots
            .get_mut(worker)
            .is_some_and(|s| s.roles.remove(role))
    }

    /// A snapshot of the pool's counters and workers.
    pub fn stats(&self) -> PoolStats {
        self.shared.state.lock().stats()
    }

    /// A snapshot for monitoring: [`Pool::stats`], failures by code, the
    /// latency histogram (taken together, under one lock), and each live
    /// worker's resident memory (read from `/proc` after the lock is
    /// released). Its `Display` is the Prometheus text format:
    ///
    /// ```no_run
    /// # let pool: forkwire::pool::Pool = unimplemented!();
    /// let text = pool.metrics().to_string(); // serve it as PROMETHEUS_CONTENT_TYPE
    /// ```
    pub fn metrics(&self) -> PoolMetrics {
        let (stats, failures, latency) = {
            let st = self.shared.state.lock();
            (st.stats(), st.counters.by_code, st.latency.clone())
        };
        PoolMetrics::new(stats, failures, latency)
    }

    /// Closes the pool and waits for every worker process and thread to
    /// end. See [`CloseOptions`]. Idempotent.
    pub fn close(&self, options: CloseOptions) {
        self.shared.close(options);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.close(CloseOptions {
            drain: false,
            timeout: Duration::from_secs(1),
        });
    }
}

impl Shared {
    /// Runs collected side effects; call without the lock.
    fn fire(&self, fx: Effects) {
        for item in fx.items {
            match item {
                state::Effect::Settle(Done::Once(done), outcome) => done(outcome),
                state::Effect::Settle(Done::Pool(id), outcome) => {
                    if let Some(settled) = &self.settled {
                        settled(id, outcome);
                    }
                }
                state::Effect::Event(event) => (self.on_event)(event),
            }
        }
    }

    fn submit(&self, request: Request, fx: &mut Effects) {
        self.submit_many(std::iter::once(request), fx);
    }

    fn submit_many(&self, requests: impl IntoIterator<Item = Request>, fx: &mut Effects) {
        let now = timer::monotonic_ns();
        let mut st = self.state.lock();
        for request in requests {
            self.enqueue(&mut st, request, None, now, fx);
        }
        st.pump();
    }

    /// Validates and queues one request, with the handle it carries (the
    /// caller pumps).
    fn enqueue(
        &self,
        st: &mut State,
        request: Request,
        handle: Option<handle::PoolHandle>,
        now: u64,
        fx: &mut Effects,
    ) {
        let Request {
            id,
            body,
            timeout,
            target,
            retries,
            done,
        } = request;
        let done = Done::Once(done);
        let frame = match body {
            Body::Json { data, kind } => {
                if let Some(refused) = self.refuse_json() {
                    st.reject(done, refused, fx);
                    return;
                }
                let frame = self.json_frame(id, kind.as_deref(), data.as_deref());
                match &handle {
                    Some(h) => h.wrap_json(&frame),
                    None => frame,
                }
            }
            Body::Frame(frame) => frame,
        };
        let queued = Queued {
            id,
            frame,
            timeout,
            target,
            retries,
            done,
            handle,
        };
        self.enqueue_frame(st, queued, now, fx);
    }

    /// The failure of a JSON body sent to a pool in another mode.
    fn refuse_json(&self) -> Option<RequestError> {
        (self.mode != Mode::Json)
            .then(|| RequestError::new(ErrorCode::Serialize, "a JSON body needs a json-mode pool"))
    }

    /// The json-mode frame of a request.
    fn json_frame(&self, id: u64, kind: Option<&str>, data: Option<&str>) -> Vec<u8> {
        let version = self.options.protocol_version.as_deref();
        envelope::json_request(id, kind, version, data)
    }

    /// Queues one request whose frame is built (the caller pumps). `now`
    /// is when it was submitted ([`timer::monotonic_ns`]).
    fn enqueue_frame(&self, st: &mut State, q: Queued, now: u64, fx: &mut Effects) {
        let (id, done) = (q.id, q.done);
        if st.phase != Phase::Open {
            st.reject(
                done,
                RequestError::new(ErrorCode::Closed, "the pool is closed"),
                fx,
            );
            return;
        }
        if !st.can_serve(&q.target) {
            st.reject(done, state::no_worker_left(), fx);
            return;
        }
        if st.requests.contains_key(&id) {
            let err = RequestError::new(ErrorCode::Serialize, "duplicate request id");
            st.reject(done, err, fx);
            return;
        }
        let timeout = q.timeout.or(self.options.timeout).filter(|t| !t.is_zero());
        let deadline = timeout.map(timer::after);
        if let Some(at) = deadline {
            let earliest = st.timers.peek().map(|t| t.0 .0);
            st.timers.push(std::cmp::Reverse((at, Timer::Deadline(id))));
            if earliest.is_none_or(|e| at < e) {
                self.timer_cv.notify_one();
            }
        }
        st.requests.insert(
            id,
            Entry {
                frame: q.frame.into(),
                target: q.target,
                deadline,
                done: Some(done),
                worker: None,
                retries_left: q.retries.unwrap_or(self.options.retries),
                handle: q.handle.map(Box::new),
                submitted: now,
            },
        );
        st.queue.push_back(id);
        if st.queue.len() > self.options.max_queue {
            // The limit is on requests that must wait: send what can go now,
            // and refuse this one only if it would still wait.
            st.pump();
            if st.queue.len() > self.options.max_queue && st.queue.back() == Some(&id) {
                st.queue.pop_back();
                if let Some(mut entry) = st.requests.remove(&id) {
                    if let Some(done) = entry.done.take() {
                        let err =
                            RequestError::new(ErrorCode::QueueFull, "the request queue is full");
                        st.reject(done, err, fx);
                    }
                }
            }
        }
    }

    fn cancel_locked(
        &self,
        st: &mut State,
        id: u64,
        code: ErrorCode,
        message: &str,
        fx: &mut Effects,
    ) -> bool {
        if !self.cancel_one(st, id, code, message, fx) {
            return false;
        }
        st.pump();
        self.idle_cv.notify_all();
        true
    }

    /// Settles `id` (if open) with `code`, telling its worker; the caller
    /// pumps and wakes `close()`.
    fn cancel_one(
        &self,
        st: &mut State,
        id: u64,
        code: ErrorCode,
        message: &str,
        fx: &mut Effects,
    ) -> bool {
        let worker = match st.requests.get(&id) {
            Some(entry) => entry.worker,
            None => return false,
        };
        let mut err = RequestError::new(code, message);
        if let Some(w) = worker {
            err = err.on_worker(w);
            if let (Some(live), Some(frame)) = (
                st.slots[w].live.as_ref(),
                envelope::cancel_frame(self.mode, id),
            ) {
                live.write(frame.into());
            }
        }
        st.settle(id, Outcome::Failed(err), fx)
    }

    /// Frames from worker `slot` (process generation `gen`), handled under
    /// one lock.
    fn on_incoming(&self, slot: usize, gen: u64, batch: &mut Vec<envelope::Incoming>) {
        let mut fx = Effects::default();
        {
            let mut st = self.state.lock();
            // One clock reading for the batch: the replies came together.
            let now = timer::monotonic_ns();
            let current = st.slots[slot].live.as_ref().is_some_and(|l| l.gen == gen);
            let mut replies = false;
            for incoming in batch.drain(..) {
                replies |= self.on_one(&mut st, slot, current, incoming, now, &mut fx);
            }
            if replies {
                st.pump();
                if st.phase == Phase::Draining {
                    self.idle_cv.notify_all();
                }
            }
        }
        self.fire(fx);
    }

    /// One frame; true if it settled a request.
    fn on_one(
        &self,
        st: &mut State,
        slot: usize,
        current: bool,
        incoming: envelope::Incoming,
        now: u64,
        fx: &mut Effects,
    ) -> bool {
        match incoming {
            envelope::Incoming::Reply {
                id,
                kind,
                payload,
                version,
            } => {
                let ours = current && st.requests.get(&id).is_some_and(|e| e.worker == Some(slot));
                if !ours {
                    // A reply to a request that already settled (timed
                    // out, aborted) is dropped, never delivered twice.
                    st.counters.late_replies += 1;
                } else if kind == envelope::ReplyKind::Progress {
                    fx.event(PoolEvent::Progress { id, payload });
                } else {
                    let expected = self.options.protocol_version.as_deref();
                    let outcome = match (expected, version.as_deref()) {
                        (Some(want), Some(got)) if want != got => Outcome::Failed(
                            RequestError::new(
                                ErrorCode::Version,
                                format!(
                                    "worker {slot} speaks protocol version {got}, the pool {want}"
                                ),
                            )
                            .on_worker(slot),
                        ),
                        _ if kind == envelope::ReplyKind::Error => Outcome::RemoteError {
                            error: payload,
                            worker: slot,
                        },
                        _ => Outcome::Result {
                            result: payload,
                            worker: slot,
                        },
                    };
                    st.settle_at(id, outcome, now, fx);
                    self.after_reply(st, slot);
                    return true;
                }
            }
            envelope::Incoming::Heartbeat(payload) => match st.slots[slot].live.as_mut() {
                Some(live) if current && self.options.heartbeat.is_some() => {
                    live.last_heartbeat = Instant::now();
                }
                _ => fx.event(PoolEvent::Message {
                    worker: slot,
                    payload,
                }),
            },
            envelope::Incoming::Event(payload) => fx.event(PoolEvent::Message {
                worker: slot,
                payload,
            }),
        }
        false
    }

    /// `count` bad frames from worker `slot`, reported as one event.
    fn on_protocol_error(
        &self,
        slot: usize,
        gen: u64,
        count: usize,
        message: String,
        frame: &[u8],
    ) {
        {
            let mut st = self.state.lock();
            st.counters.protocol_errors += count as u64;
            let limit = self.options.max_protocol_errors;
            if let Some(live) = st.slots[slot].live.as_mut().filter(|l| l.gen == gen) {
                live.protocol_errors += count;
                if limit.is_some_and(|max| live.protocol_errors > max) {
                    self.recycle(&mut st, slot);
                }
            }
        }
        const SHOWN: usize = 120;
        let sample = String::from_utf8_lossy(&frame[..frame.len().min(SHOWN)]);
        let message = if frame.is_empty() {
            format!("worker {slot}: {message}")
        } else {
            format!("worker {slot}: {message} (frame starts {sample:?})")
        };
        (self.on_event)(PoolEvent::ProtocolError {
            worker: slot,
            message,
        });
    }

    fn thread_done(&self) {
        let mut st = self.state.lock();
        st.threads -= 1;
        self.idle_cv.notify_all();
    }
}
