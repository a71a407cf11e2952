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
//! Each worker slot owns a table of its requests in flight, its way out
//! and the tally of what settled on it, under a lock of its own: a reply
//! settles there without touching the rest of the pool, and a request for
//! any worker (or a named one) goes straight to a table with room when
//! nothing waits in the queue. The pool's own lock keeps what is shared:
//! the queue of requests waiting for room, sticky keys, roles and the
//! workers' lives (see `table.rs` for the lock order and how ids stay
//! unique).
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

mod client;
mod envelope;
mod error;
mod events;
mod handle;
mod health;
mod histogram;
mod ids;
mod lane;
mod lifecycle;
mod metrics;
mod options;
mod replies;
mod state;
#[cfg(test)]
mod state_tests;
mod stats;
mod submit;
mod table;
mod tally;
mod timer;
mod worker;

pub use error::{ErrorCode, RequestError};
pub use events::{Completion, EventHandler, Outcome, Payload, PoolEvent, ReadGate, Settled};
pub use health::WorkerHealth;
pub use histogram::{
    LatencyHistogram, BUCKETS as LATENCY_BUCKETS, PROMETHEUS_BOUNDS as LATENCY_BOUNDS,
};
pub use lifecycle::{CloseOptions, RestartPolicy};
pub use metrics::{PoolMetrics, PROMETHEUS_CONTENT_TYPE};
pub use options::{BatchOptions, Body, Heartbeat, PoolOptions, Request, Target, DEFAULT_MAX_FRAME};
pub use stats::{LatencyPercentiles, PoolStats, WorkerStats};

use crate::codec::{self, Mode};
use events::Done;
use parking_lot::{Condvar, Mutex};
use state::{Effects, State, Timer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use submit::Submission;
use table::Tables;

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
    /// Each worker's requests in flight and way out, under locks of their
    /// own (taken after `state` when both are).
    tables: Arc<Tables>,
    /// Deadlines and the pool's other timers (taken after `state` or a
    /// table when both are).
    timers: Mutex<timer::Timers>,
    /// Wakes the timer thread when an earlier timer appears.
    timer_cv: Condvar,
    /// Signals progress to `close()`: requests settled, workers or threads
    /// gone.
    idle_cv: Condvar,
    on_event: EventHandler,
    /// Hears the requests of `submit_json_batch`.
    settled: Option<Settled>,
    options: PoolOptions,
    mode: Mode,
    /// The `health()` calls waiting for answers.
    probes: health::Probes,
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
        let tables = Arc::new(Tables::new(size, options.concurrency));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(Arc::clone(&tables))),
            tables,
            timers: Mutex::new(timer::Timers::default()),
            timer_cv: Condvar::new(),
            idle_cv: Condvar::new(),
            on_event,
            settled,
            options,
            mode,
            probes: health::Probes::default(),
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
            if let Some(hb) = shared.options.heartbeat {
                shared.schedule(timer::after(hb.interval), Timer::Heartbeat);
            }
            if shared.options.max_memory.is_some() {
                shared.schedule(Instant::now(), Timer::MemoryCheck);
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
        self.shared.submit_many(std::iter::once(request), &mut fx);
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
        let kind = options.kind.as_deref();
        let frames = data
            .into_iter()
            .map(|data| match self.shared.refuse_json() {
                Some(refused) => Err(refused),
                None => Ok(|id| self.shared.json_frame(id, kind, Some(data))),
            });
        self.submit_batch(first_id, frames, options)
    }

    /// Submits whole frames (in the pool's mode, each envelope already
    /// carrying its id: `first_id`, `first_id + 1`, ...) as requests to
    /// any worker, under one lock, settled through the pool's handler as
    /// [`Pool::submit_json_batch`]; `options.kind` is not used (the
    /// envelope has its type). False if the pool has no handler.
    #[must_use]
    pub fn submit_frame_batch_with<'a>(
        &self,
        first_id: u64,
        frames: impl IntoIterator<Item = &'a [u8]>,
        options: &BatchOptions,
    ) -> bool {
        let frames = frames
            .into_iter()
            .map(|frame| Ok::<_, RequestError>(|_| frame.to_vec()));
        self.submit_batch(first_id, frames, options)
    }

    /// Queues one request per item, ids from `first_id`: each item makes
    /// its frame from the id, or is the reason it is refused.
    fn submit_batch<F: FnOnce(u64) -> Vec<u8>>(
        &self,
        first_id: u64,
        items: impl IntoIterator<Item = Result<F, RequestError>>,
        options: &BatchOptions,
    ) -> bool {
        if self.shared.settled.is_none() {
            return false;
        }
        let mut fx = Effects::default();
        {
            let now = timer::monotonic_ns();
            let mut sub = Submission::new(&self.shared);
            for (id, item) in (first_id..).zip(items) {
                let done = Done::Pool(id);
                let frame = match item {
                    Ok(frame) => frame(id),
                    Err(refused) => {
                        sub.state().reject(done, refused, &mut fx);
                        continue;
                    }
                };
                let queued = Queued {
                    id,
                    frame,
                    timeout: options.timeout,
                    target: Target::Any,
                    retries: options.retries,
                    done,
                    handle: None,
                };
                self.shared.enqueue_frame(&mut sub, queued, now, &mut fx);
            }
            sub.finish();
        }
        self.shared.fire(fx);
        true
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
        let mut fx = Effects::default();
        let cancelled = {
            let mut st = self.shared.state.lock();
            self.shared.cancel_ids(&mut st, ids, code, &mut fx)
        };
        self.shared.fire(fx);
        cancelled
    }

    /// Sends one complete frame to worker `worker`. Returns whether it was
    /// queued for writing (false: no such worker, or not connected).
    pub fn send_frame(&self, worker: usize, frame: Vec<u8>) -> bool {
        self.shared
            .tables
            .get(worker)
            .is_some_and(|mut table| table.write(frame.into()))
    }

    /// Sends one frame to every live worker, or to those holding `role`.
    /// Returns how many it was sent to.
    pub fn broadcast_frame(&self, frame: Vec<u8>, role: Option<&str>) -> usize {
        let frame: Arc<[u8]> = frame.into();
        let st = self.shared.state.lock();
        st.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| role.is_none_or(|r| s.roles.contains(r)))
            .filter(|(w, _)| self.shared.tables.lock(*w).write(Arc::clone(&frame)))
            .count()
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
        let (stats, tally) = self.shared.state.lock().snapshot();
        PoolMetrics::new(stats, tally.by_code, tally.latency)
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

    fn thread_done(&self) {
        let mut st = self.state.lock();
        st.threads -= 1;
        self.idle_cv.notify_all();
    }
}
