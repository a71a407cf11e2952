//! The pool's shared state, guarded by the pool's lock: worker slots, the
//! wait queue, sticky keys and the counters of the pool's own. Requests in
//! flight live in their worker's table ([`super::table`]), under its own
//! lock. Nothing here does I/O beyond queueing frames to writer threads;
//! callbacks are collected in [`Effects`] and run after the locks are
//! released.

use super::error::{ErrorCode, RequestError};
use super::events::{Done, Outcome, PoolEvent};
use super::ids::IdMap;
use super::stats::{LatencyPercentiles, PoolStats, WorkerStats};
use super::table::{SlotSet, Tables};
use super::tally::Tally;
use super::worker::Live;
use super::Target;
use crate::channel::Sender;
use std::collections::{BTreeSet, HashMap, VecDeque};
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

impl Entry {
    /// Settles the request, taken out of the queue or a table, with
    /// `outcome` at `now` ([`super::timer::monotonic_ns`]), counted in
    /// the `tally` of where it was.
    pub fn settle(self, outcome: Outcome, now: u64, tally: &mut Tally, fx: &mut Effects) {
        tally.settled(&outcome, now.saturating_sub(self.submitted));
        if let Some(done) = self.done {
            fx.settle(done, outcome);
        }
    }
}

/// One worker slot: stable id, roles, the process running in it, if any.
#[derive(Default)]
pub(crate) struct Slot {
    pub roles: BTreeSet<String>,
    pub live: Option<Live>,
    /// Generation of the newest process started in this slot.
    pub gen: u64,
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

/// The pool's own counters (those of settlements are in [`Tally`]).
#[derive(Default)]
pub(crate) struct Counters {
    pub restarts: u64,
    pub retried: u64,
    pub unresponsive: u64,
    pub protocol_errors: u64,
    /// Requests refused at submission (also counted by code in the
    /// pool's tally).
    pub rejected: u64,
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
    /// Taken: queued, or sent if a worker was free.
    Taken,
    /// Refused and settled (counted as rejected).
    Refused,
}

pub(crate) struct State {
    phase: Phase,
    pub slots: Vec<Slot>,
    /// Requests waiting for a worker, oldest first.
    queue: VecDeque<u64>,
    /// Those requests.
    queued: IdMap<Entry>,
    pub keys: HashMap<String, usize>,
    pub counters: Counters,
    /// What settled while waiting in the queue, and refusals by code.
    pub tally: Tally,
    /// Threads (worker I/O and the timer) still running.
    pub threads: usize,
    /// Their handles, joined by `close()`.
    pub handles: Vec<std::thread::JoinHandle<()>>,
    /// Each worker's requests in flight and way out.
    tables: Arc<Tables>,
}

impl State {
    pub fn new(tables: Arc<Tables>) -> State {
        State {
            phase: Phase::Open,
            slots: (0..tables.len()).map(|_| Slot::default()).collect(),
            queue: VecDeque::new(),
            queued: IdMap::default(),
            keys: HashMap::new(),
            counters: Counters::default(),
            tally: Tally::default(),
            threads: 0,
            handles: Vec::new(),
            tables,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Moves the pool to `phase`; submissions that skip the lock see it.
    pub fn set_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.tables.set_open(phase == Phase::Open);
    }

    /// Whether any request is not settled yet.
    pub fn has_open_requests(&self) -> bool {
        !self.queued.is_empty() || self.tables.in_flight() > 0
    }

    /// Request `id`, if it waits in the queue.
    pub fn queued(&self, id: u64) -> Option<&Entry> {
        self.queued.get(&id)
    }

    /// Whether request `id` is open: queued or in flight anywhere.
    fn is_open(&self, id: u64) -> bool {
        self.queued.contains_key(&id) || self.tables.holds(id)
    }

    /// Takes request `id` (`entry`, not settled) into the queue if the
    /// pool may: it must be open, have a worker that can run the target
    /// now or later, and no open request with the same id. Past
    /// `max_queue` requests waiting for a worker, the queue is pumped
    /// first and the request refused only if it would still wait. A
    /// refused request is settled here with the reason. The caller arms
    /// its deadline.
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
        } else if !self.tables.claim(id) && self.is_open(id) {
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
        self.queued.insert(id, entry);
        self.queue.push_back(id);
        self.tables.set_waiting(self.queue.len());
        if self.queue.len() > max_queue {
            // The limit is on requests that must wait: send what can go now,
            // and refuse this one only if it would still wait.
            self.pump();
            if self.queue.len() > max_queue && self.queue.back() == Some(&id) {
                self.queue.pop_back();
                self.tables.set_waiting(self.queue.len());
                if let Some(done) = self.queued.remove(&id).and_then(|mut e| e.done.take()) {
                    let err = RequestError::new(ErrorCode::QueueFull, "the request queue is full");
                    self.reject(done, err, fx);
                }
                return Admission::Refused;
            }
        }
        Admission::Taken
    }

    /// Which slot should run a request with this target now, if any.
    fn pick(&mut self, target: &Target) -> Option<usize> {
        let tables = &self.tables;
        match target {
            Target::Any => tables.least_busy(|_| true),
            Target::Worker(w) => tables.free(*w).map(|_| *w),
            Target::Role(role) => {
                let slots = &self.slots;
                tables.least_busy(|i| slots[i].roles.contains(role))
            }
            Target::Key(key) => match self.keys.get(key) {
                Some(&w) => tables.free(w).map(|_| w),
                None => {
                    let w = tables.least_busy(|_| true)?;
                    self.keys.insert(key.clone(), w);
                    Some(w)
                }
            },
        }
    }

    /// Sends queued requests to workers with room, oldest first. A
    /// request whose target is busy does not hold up those behind it.
    /// Each worker's frames of the round go out together.
    pub fn pump(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        let mut touched = SlotSet::default();
        let mut i = 0;
        while i < self.queue.len() && self.tables.any_free() {
            let id = self.queue[i];
            let Some(target) = self.queued.get(&id).map(|e| e.target.clone()) else {
                self.queue.remove(i);
                continue;
            };
            let Some(w) = self.pick(&target) else {
                i += 1;
                continue;
            };
            let mut table = self.tables.lock(w);
            // The pick was a hint; releasing the table corrects it.
            if !table.has_room() {
                continue;
            }
            self.queue.remove(i);
            if let Some(entry) = self.queued.remove(&id) {
                table.dispatch(id, entry);
                touched.insert(w);
            }
        }
        self.tables.set_waiting(self.queue.len());
        for w in touched.iter() {
            self.tables.lock(w).flush();
        }
    }

    /// Settles request `id` if it waits in the queue.
    pub fn settle_queued(&mut self, id: u64, outcome: Outcome, fx: &mut Effects) -> bool {
        let Some(entry) = self.queued.remove(&id) else {
            return false;
        };
        if let Some(pos) = self.queue.iter().position(|q| *q == id) {
            self.queue.remove(pos);
            self.tables.set_waiting(self.queue.len());
        }
        let now = super::timer::monotonic_ns();
        entry.settle(outcome, now, &mut self.tally, fx);
        true
    }

    /// Refuses a request the pool did not take (it never had an entry):
    /// counted as rejected, never as failed.
    pub fn reject(&mut self, done: Done, err: RequestError, fx: &mut Effects) {
        self.counters.rejected += 1;
        self.tally.by_code[err.code.index()] += 1;
        fx.settle(done, Outcome::Failed(err));
    }

    /// Worker `w`'s process is gone: its table takes nothing more, and
    /// every request that was in flight on it goes back to the front of
    /// the queue if it has retries left, or fails with `err`. Returns the
    /// sending half of its channel, to shut down.
    pub fn evict(&mut self, w: usize, err: &RequestError, fx: &mut Effects) -> Option<Sender> {
        let (sender, resend) = {
            let mut table = self.tables.lock(w);
            // Detached first, under the same lock: no submission can
            // reach the table between the two.
            let sender = table.detach();
            (sender, table.evict(err, fx))
        };
        self.counters.retried += resend.len() as u64;
        // Oldest first, so the queue keeps their order.
        for (id, mut entry) in resend.into_iter().rev() {
            entry.retries_left -= 1;
            self.queued.insert(id, entry);
            self.queue.push_front(id);
        }
        self.tables.set_waiting(self.queue.len());
        sender
    }

    /// Closes the pool: everything not settled yet fails with `err`, and
    /// every worker's channel closes once written out.
    pub fn close(&mut self, err: &RequestError, fx: &mut Effects) {
        self.set_phase(Phase::Closed);
        let ids: Vec<u64> = self.queue.iter().copied().collect();
        for id in ids {
            self.settle_queued(id, Outcome::Failed(err.clone()), fx);
        }
        for w in 0..self.tables.len() {
            self.tables.lock(w).close(err, fx);
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
                self.queued
                    .get(id)
                    .is_some_and(|e| !self.can_serve(&e.target))
            })
            .collect();
        for id in stranded {
            self.settle_queued(id, Outcome::Failed(no_worker_left()), fx);
        }
    }

    /// Forgets sticky keys bound to `w`.
    pub fn unbind_keys(&mut self, w: usize) {
        self.keys.retain(|_, bound| *bound != w);
    }

    /// A snapshot of the counters and workers, and the pool's whole
    /// tally (every worker's added to the queue's).
    pub fn snapshot(&self) -> (PoolStats, Tally) {
        let mut total = self.tally.clone();
        let mut stats = PoolStats {
            size: self.slots.len(),
            queued: self.queue.len(),
            restarts: self.counters.restarts,
            retried: self.counters.retried,
            unresponsive: self.counters.unresponsive,
            protocol_errors: self.counters.protocol_errors,
            rejected: self.counters.rejected,
            ..PoolStats::default()
        };
        for (id, slot) in self.slots.iter().enumerate() {
            let table = self.tables.lock(id);
            total.add(&table.tally);
            let in_flight = table.in_flight();
            stats.in_flight += in_flight;
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
                connected: slot.live.is_some() && table.connected,
                roles: slot.roles.iter().cloned().collect(),
                in_flight,
                completed: table.tally.completed,
                failed: table.tally.failed,
                restarts: slot.restarts,
            });
        }
        stats.completed = total.completed;
        stats.failed = total.failed;
        stats.timed_out = total.timed_out;
        stats.aborted = total.aborted;
        stats.late_replies = total.late_replies;
        stats.latency_ms = LatencyPercentiles::of(&total.latency);
        (stats, total)
    }

    pub fn stats(&self) -> PoolStats {
        self.snapshot().0
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
