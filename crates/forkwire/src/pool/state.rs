//! The pool's state, guarded by one mutex: worker slots, the FIFO queue,
//! the correlation table and the timer heap. Everything here runs with the
//! lock held and does no I/O beyond queueing frames to writer threads;
//! callbacks are collected in [`Effects`] and run after the lock is
//! released.

use super::error::{ErrorCode, RequestError};
use super::events::{Done, Outcome, PoolEvent};
use super::histogram::LatencyHistogram;
use super::ids::IdMap;
use super::stats::{LatencyPercentiles, PoolStats, WorkerStats};
use super::worker::Live;
use super::Target;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// What a timer does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// A request's deadline.
    Deadline(u64),
    /// Start a worker in this slot (restart backoff).
    Respawn(usize),
    /// Kill this slot's process of this generation if it is still there.
    Kill(usize, u64),
    /// Send heartbeat requests and check for silent workers.
    Heartbeat,
    /// Read workers' RSS and retire those over the limit.
    MemoryCheck,
}

/// Where the pool is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Open,
    /// `close({drain: true})`: no new requests; the queue still runs.
    Draining,
    Closed,
}

/// A request that has not settled.
pub(crate) struct Entry {
    /// The request's frame (copied into the lane's round when dispatched:
    /// never shared, so owned rather than reference-counted). Empty once
    /// dispatched if it can never be resent (no retries, no handle).
    pub frame: Box<[u8]>,
    pub target: Target,
    pub deadline: Option<Instant>,
    pub done: Option<Done>,
    /// The slot it was sent to, while in flight.
    pub worker: Option<usize>,
    /// How many more times it may be resent if its worker dies.
    pub retries_left: u32,
    /// The handle sent with it, until a worker takes it (boxed: rare, and
    /// an entry stays within 128 bytes, which moves inline).
    pub handle: Option<Box<super::handle::PoolHandle>>,
    /// When the pool took it (its latency runs from here), in
    /// [`super::timer::monotonic_ns`] (8 bytes, where an `Instant` takes
    /// 16 and costs a `Timespec` subtraction to compare).
    pub submitted: u64,
}

/// One worker slot: stable id, roles, the process running in it, if any.
#[derive(Default)]
pub(crate) struct Slot {
    pub roles: BTreeSet<String>,
    pub live: Option<Live>,
    /// Generation of the newest process started in this slot.
    pub gen: u64,
    pub completed: u64,
    pub failed: u64,
    pub restarts: u64,
    /// Start times of recent restarts, for the restart window.
    pub recent_restarts: VecDeque<Instant>,
    /// Set once the restart policy gave up on this slot.
    pub given_up: bool,
    /// A restart is scheduled.
    pub restart_pending: bool,
}

impl Slot {
    /// Whether a process runs here now or will soon.
    fn serving(&self) -> bool {
        self.live.is_some() || self.restart_pending
    }
}

/// Side effects to run, in order, once the lock is released.
#[derive(Default)]
pub(crate) struct Effects {
    pub items: Vec<Effect>,
}

pub(crate) enum Effect {
    Settle(Done, Outcome),
    Event(PoolEvent),
}

impl Effects {
    pub fn settle(&mut self, done: Done, outcome: Outcome) {
        self.items.push(Effect::Settle(done, outcome));
    }

    pub fn event(&mut self, event: PoolEvent) {
        self.items.push(Effect::Event(event));
    }
}

/// Counters that only grow.
#[derive(Default)]
pub(crate) struct Counters {
    pub completed: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub aborted: u64,
    pub late_replies: u64,
    pub restarts: u64,
    pub retried: u64,
    pub unresponsive: u64,
    pub protocol_errors: u64,
    /// Requests refused at submission (also counted in `by_code`).
    pub rejected: u64,
    /// Failures, settled or refused, by code (`Remote` for `{id, error}`).
    pub by_code: [u64; ErrorCode::ALL.len()],
}

/// The failure of a request that no worker is left to run.
pub(crate) fn no_worker_left() -> RequestError {
    RequestError::new(
        ErrorCode::WorkerExited,
        "no worker is left to run the request (restarts are disabled or exhausted)",
    )
}

/// What [`State::admit`] did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Taken (queued, or sent if a worker was free); `earliest_deadline`:
    /// its deadline is now the first timer due, so the timer thread must
    /// be told.
    Taken { earliest_deadline: bool },
    /// Refused and settled (counted as rejected).
    Refused,
}

pub(crate) struct State {
    pub phase: Phase,
    pub slots: Vec<Slot>,
    /// Requests waiting for a worker, oldest first.
    queue: VecDeque<u64>,
    /// Every request not settled yet, queued or in flight.
    requests: IdMap<Entry>,
    pub keys: HashMap<String, usize>,
    /// Timers by due time, earliest first.
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    pub counters: Counters,
    /// Submission-to-settlement times of the requests settled here.
    pub latency: LatencyHistogram,
    /// Threads (worker I/O and the timer) still running.
    pub threads: usize,
    /// Their handles, joined by `close()`.
    pub handles: Vec<std::thread::JoinHandle<()>>,
    pub concurrency: usize,
    /// Round-robin start for picking among equally busy workers.
    cursor: usize,
}

impl State {
    pub fn new(size: usize, concurrency: usize) -> State {
        State {
            phase: Phase::Open,
            slots: (0..size).map(|_| Slot::default()).collect(),
            queue: VecDeque::new(),
            requests: IdMap::default(),
            keys: HashMap::new(),
            timers: BinaryHeap::new(),
            counters: Counters::default(),
            latency: LatencyHistogram::new(),
            threads: 0,
            handles: Vec::new(),
            concurrency: concurrency.max(1),
            cursor: 0,
        }
    }

    pub fn in_flight(&self) -> usize {
        self.requests.len() - self.queue.len()
    }

    /// Whether any request is not settled yet.
    pub fn has_open_requests(&self) -> bool {
        !self.requests.is_empty()
    }

    /// The open request `id`.
    pub fn request(&self, id: u64) -> Option<&Entry> {
        self.requests.get(&id)
    }

    /// The open request `id`, to change.
    pub fn request_mut(&mut self, id: u64) -> Option<&mut Entry> {
        self.requests.get_mut(&id)
    }

    /// Takes request `id` (`entry`, not settled) if the pool may: it must
    /// be open, have a worker that can run the target now or later, and
    /// no open request with the same id. Its deadline is armed. Past
    /// `max_queue` requests waiting for a worker, the queue is pumped
    /// first and the request refused only if it would still wait. A
    /// refused request is settled here with the reason.
    pub fn admit(
        &mut self,
        id: u64,
        mut entry: Entry,
        max_queue: usize,
        fx: &mut Effects,
    ) -> Admission {
        let refusal = if self.phase != Phase::Open {
            Some(RequestError::new(ErrorCode::Closed, "the pool is closed"))
        } else if !self.can_serve(&entry.target) {
            Some(no_worker_left())
        } else if self.requests.contains_key(&id) {
            Some(RequestError::new(
                ErrorCode::Serialize,
                "duplicate request id",
            ))
        } else {
            None
        };
        if let Some(err) = refusal {
            if let Some(done) = entry.done.take() {
                self.reject(done, err, fx);
            }
            return Admission::Refused;
        }
        let deadline = entry.deadline;
        self.requests.insert(id, entry);
        self.queue.push_back(id);
        if self.queue.len() > max_queue {
            // The limit is on requests that must wait: send what can go now,
            // and refuse this one only if it would still wait.
            self.pump();
            if self.queue.len() > max_queue && self.queue.back() == Some(&id) {
                self.queue.pop_back();
                if let Some(done) = self.requests.remove(&id).and_then(|mut e| e.done.take()) {
                    let err = RequestError::new(ErrorCode::QueueFull, "the request queue is full");
                    self.reject(done, err, fx);
                }
                return Admission::Refused;
            }
        }
        let earliest_deadline = deadline.is_some_and(|at| self.schedule(at, Timer::Deadline(id)));
        Admission::Taken { earliest_deadline }
    }

    /// Arms `timer` for `at`; true if it is now the first one due.
    pub fn schedule(&mut self, at: Instant, timer: Timer) -> bool {
        let earliest = self.timers.peek().is_none_or(|t| at < t.0 .0);
        self.timers.push(Reverse((at, timer)));
        earliest
    }

    /// Takes the timers due at `now`, earliest first.
    pub fn take_due(&mut self, now: Instant) -> Vec<Timer> {
        let mut due = Vec::new();
        while let Some(Reverse((at, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            due.push(timer);
        }
        due
    }

    /// When the next timer is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.timers.peek().map(|t| t.0 .0)
    }

    /// A live, connected slot that can take one more request now.
    fn free(&self, slot: usize) -> Option<usize> {
        let live = self.slots.get(slot)?.live.as_ref()?;
        (live.connected && !live.retiring && live.in_flight.len() < self.concurrency)
            .then_some(live.in_flight.len())
    }

    /// The least busy free slot among those `allowed`, rotating among ties.
    fn least_busy(&mut self, allowed: impl Fn(usize, &Slot) -> bool) -> Option<usize> {
        let n = self.slots.len();
        let mut best: Option<(usize, usize)> = None;
        for k in 0..n {
            let i = (self.cursor + k) % n;
            if !allowed(i, &self.slots[i]) {
                continue;
            }
            if let Some(load) = self.free(i) {
                if best.is_none_or(|(_, b)| load < b) {
                    best = Some((i, load));
                    if load == 0 {
                        break;
                    }
                }
            }
        }
        let (i, _) = best?;
        self.cursor = (i + 1) % n;
        Some(i)
    }

    /// Which slot should run a request with this target now, if any.
    fn pick(&mut self, target: &Target) -> Option<usize> {
        match target {
            Target::Any => self.least_busy(|_, _| true),
            Target::Worker(w) => self.free(*w).map(|_| *w),
            Target::Role(role) => self.least_busy(|_, s| s.roles.contains(role)),
            Target::Key(key) => match self.keys.get(key) {
                Some(&w) => self.free(w).map(|_| w),
                None => {
                    let w = self.least_busy(|_, _| true)?;
                    self.keys.insert(key.clone(), w);
                    Some(w)
                }
            },
        }
    }

    /// Sends queued requests to free workers, oldest first. A request whose
    /// target is busy does not hold up those behind it. Each worker's
    /// frames of the round go out together.
    pub fn pump(&mut self) {
        self.dispatch_queued();
        for live in self.slots.iter_mut().filter_map(|s| s.live.as_mut()) {
            live.lane.flush_staged();
        }
    }

    fn dispatch_queued(&mut self) {
        let mut i = 0;
        while i < self.queue.len() {
            if !self
                .slots
                .iter()
                .enumerate()
                .any(|(s, _)| self.free(s).is_some())
            {
                return;
            }
            let id = self.queue[i];
            let Some(target) = self.requests.get(&id).map(|e| e.target.clone()) else {
                self.queue.remove(i);
                continue;
            };
            match self.pick(&target) {
                Some(w) => {
                    self.queue.remove(i);
                    self.dispatch(id, w);
                }
                None => i += 1,
            }
        }
    }

    fn dispatch(&mut self, id: u64, w: usize) {
        let Some(entry) = self.requests.get_mut(&id) else {
            return;
        };
        let Some(live) = self.slots[w].live.as_mut() else {
            return;
        };
        entry.worker = Some(w);
        let idle = live.in_flight.is_empty();
        live.in_flight.insert(id);
        match &entry.handle {
            Some(handle) => {
                live.write_handle(Arc::from(&*entry.frame), (**handle).clone(), Some(id));
            }
            None if live.connected => live.lane.stage(&entry.frame, idle),
            None => {}
        }
        // Only a resend reads the frame again: without retries (or a
        // handle to send with it), its bytes go now, from the thread that
        // made them when it dispatches at once, and a request in flight
        // holds no copy of what its lane is writing.
        if entry.retries_left == 0 && entry.handle.is_none() {
            entry.frame = Box::default();
        }
    }

    /// Settles request `id` (if it is still open) with `outcome`.
    pub fn settle(&mut self, id: u64, outcome: Outcome, fx: &mut Effects) -> bool {
        self.settle_at(id, outcome, super::timer::monotonic_ns(), fx)
    }

    /// [`State::settle`] at `now` ([`super::timer::monotonic_ns`], read once
    /// for a batch of replies).
    pub fn settle_at(&mut self, id: u64, outcome: Outcome, now: u64, fx: &mut Effects) -> bool {
        let Some(mut entry) = self.requests.remove(&id) else {
            return false;
        };
        self.latency
            .record_nanos(now.saturating_sub(entry.submitted));
        match entry.worker {
            Some(w) => {
                if let Some(live) = self.slots[w].live.as_mut() {
                    live.in_flight.remove(&id);
                }
                match &outcome {
                    Outcome::Result { .. } => self.slots[w].completed += 1,
                    _ => self.slots[w].failed += 1,
                }
            }
            None => {
                if let Some(pos) = self.queue.iter().position(|q| *q == id) {
                    self.queue.remove(pos);
                }
            }
        }
        match &outcome {
            Outcome::Result { .. } => self.counters.completed += 1,
            Outcome::RemoteError { .. } => {
                self.counters.failed += 1;
                self.counters.by_code[ErrorCode::Remote.index()] += 1;
            }
            Outcome::Failed(e) => {
                self.counters.failed += 1;
                self.counters.by_code[e.code.index()] += 1;
                match e.code {
                    ErrorCode::Timeout => self.counters.timed_out += 1,
                    ErrorCode::Aborted => self.counters.aborted += 1,
                    _ => {}
                }
            }
        }
        if let Some(done) = entry.done.take() {
            fx.settle(done, outcome);
        }
        true
    }

    /// Refuses a request the pool did not take (it never had an entry):
    /// counted as rejected, never as failed.
    pub fn reject(&mut self, done: Done, err: RequestError, fx: &mut Effects) {
        self.counters.rejected += 1;
        self.counters.by_code[err.code.index()] += 1;
        fx.settle(done, Outcome::Failed(err));
    }

    /// Takes every request in flight off `w`: those with retries left go
    /// back to the front of the queue, the rest fail with `err`. Returns
    /// how many were requeued.
    pub fn fail_in_flight(&mut self, w: usize, err: &RequestError, fx: &mut Effects) -> usize {
        let mut ids: Vec<u64> = match self.slots[w].live.as_mut() {
            Some(live) => live.in_flight.drain().collect(),
            None => return 0,
        };
        // Oldest first, so the queue keeps their order.
        ids.sort_unstable();
        let mut requeued = 0;
        for &id in ids.iter().rev() {
            let Some(entry) = self.requests.get_mut(&id) else {
                continue;
            };
            entry.worker = None;
            if entry.retries_left > 0 {
                entry.retries_left -= 1;
                self.queue.push_front(id);
                self.counters.retried += 1;
                requeued += 1;
            } else {
                self.slots[w].failed += 1;
                self.settle(id, Outcome::Failed(err.clone().on_worker(w)), fx);
            }
        }
        requeued
    }

    /// Fails everything not settled yet.
    pub fn fail_all(&mut self, err: &RequestError, fx: &mut Effects) {
        let ids: Vec<u64> = self.requests.keys().copied().collect();
        for id in ids {
            self.settle(id, Outcome::Failed(err.clone()), fx);
        }
    }

    /// Whether any worker that may run `target` is running or coming back.
    /// (A role may still be given to a worker later, so any worker will do.)
    pub fn can_serve(&self, target: &Target) -> bool {
        match target {
            Target::Worker(w) => self.slots.get(*w).is_some_and(Slot::serving),
            _ => self.slots.iter().any(Slot::serving),
        }
    }

    /// Fails queued requests that no worker is left to run.
    pub fn fail_stranded(&mut self, fx: &mut Effects) {
        let stranded: Vec<u64> = self
            .queue
            .iter()
            .copied()
            .filter(|id| {
                self.requests
                    .get(id)
                    .is_some_and(|e| !self.can_serve(&e.target))
            })
            .collect();
        for id in stranded {
            self.settle(id, Outcome::Failed(no_worker_left()), fx);
        }
    }

    /// Forgets sticky keys bound to `w`.
    pub fn unbind_keys(&mut self, w: usize) {
        self.keys.retain(|_, bound| *bound != w);
    }

    pub fn stats(&self) -> PoolStats {
        let mut stats = PoolStats {
            size: self.slots.len(),
            queued: self.queue.len(),
            in_flight: self.in_flight(),
            completed: self.counters.completed,
            failed: self.counters.failed,
            timed_out: self.counters.timed_out,
            aborted: self.counters.aborted,
            late_replies: self.counters.late_replies,
            restarts: self.counters.restarts,
            retried: self.counters.retried,
            unresponsive: self.counters.unresponsive,
            protocol_errors: self.counters.protocol_errors,
            rejected: self.counters.rejected,
            latency_ms: LatencyPercentiles::of(&self.latency),
            ..PoolStats::default()
        };
        for (id, slot) in self.slots.iter().enumerate() {
            let in_flight = slot.live.as_ref().map_or(0, |l| l.in_flight.len());
            if slot.live.is_some() {
                if in_flight == 0 {
                    stats.idle += 1;
                } else {
                    stats.busy += 1;
                }
            }
            stats.workers.push(WorkerStats {
                id,
                pid: slot.live.as_ref().map(|l| l.pid),
                connected: slot.live.as_ref().is_some_and(|l| l.connected),
                roles: slot.roles.iter().cloned().collect(),
                in_flight,
                completed: slot.completed,
                failed: slot.failed,
                restarts: slot.restarts,
            });
        }
        stats
    }
}

#[cfg(test)]
#[test]
fn an_entry_moves_inline() {
    // Past 128 bytes, moving an entry in and out of the table becomes a
    // memcpy call: measurably slower per request.
    assert!(
        std::mem::size_of::<Entry>() <= 128,
        "{}",
        std::mem::size_of::<Entry>()
    );
}
