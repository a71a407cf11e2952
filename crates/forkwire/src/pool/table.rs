//! Each worker's own table: the requests in flight on it, its way out
//! ([`Lane`]) and the tally of what settled on it, under a lock of its
//! own. A worker's reader settles replies here without the pool's lock,
//! and a submission that finds a worker with room (and nothing waiting in
//! the queue) hands its request over here without the pool's lock too.
//! The pool's lock is left for what must be shared: the wait queue,
//! sticky keys, roles, timers and the workers' lives.
//!
//! Lock order: the pool's lock, then one table's. A thread holding a
//! table's lock takes no other lock.
//!
//! Request ids are kept unique across the queue and every table by one
//! rule: an id larger than every id taken before ([`Tables::claim`]) is
//! new, and is claimed under the lock of the table it goes to (or the
//! pool's, for the queue); any other id is looked for everywhere under
//! the pool's lock before it is taken.

use super::error::RequestError;
use super::events::Outcome;
use super::handle::{OnAnswer, PoolHandle};
use super::ids::IdMap;
use super::lane::Lane;
use super::state::{Effects, Entry};
use super::tally::Tally;
use crate::channel::{HandleDone, Sender};
use parking_lot::{Mutex, MutexGuard};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Every worker slot's table, and what lets a submission pick one
/// without the pool's lock.
pub(crate) struct Tables {
    cells: Box<[Cell]>,
    concurrency: usize,
    /// The pool takes new requests (neither draining nor closed).
    open: AtomicBool,
    /// Requests waiting in the pool's queue.
    waiting: AtomicUsize,
    /// The largest request id taken so far.
    newest_id: AtomicU64,
    /// Where the search for the least busy worker starts.
    cursor: AtomicUsize,
}

struct Cell {
    table: Mutex<Table>,
    /// Requests in flight, as of the table's last release.
    load: AtomicUsize,
    /// Whether it took requests, as of its last release.
    accepting: AtomicBool,
}

/// One worker slot's requests in flight and its way out.
pub(crate) struct Table {
    slot: usize,
    /// Generation of the process it serves (0 before the first).
    pub gen: u64,
    /// The way out to that process while it runs.
    lane: Option<Lane>,
    /// Hears that process's answers to the handles sent to it.
    on_answer: Option<OnAnswer>,
    /// Its channel is open.
    pub connected: bool,
    /// Taking no new requests; disconnected once its last one settles.
    pub retiring: bool,
    /// The pool closed: nothing more is taken.
    closed: bool,
    entries: IdMap<Entry>,
    /// Replies received from the current process.
    pub tasks: u64,
    /// What settled on this slot (every process it ran).
    pub tally: Tally,
}

/// A table, locked; the hints submissions read are brought up to date
/// when it is released.
pub(crate) struct Locked<'a> {
    guard: MutexGuard<'a, Table>,
    cell: &'a Cell,
    /// Requests a worker may have in flight.
    concurrency: usize,
}

impl Locked<'_> {
    /// Whether it takes one more request now.
    pub fn has_room(&self) -> bool {
        self.accepting() && self.in_flight() < self.concurrency
    }
}

impl Deref for Locked<'_> {
    type Target = Table;
    fn deref(&self) -> &Table {
        &self.guard
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Table {
        &mut self.guard
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.cell
            .load
            .store(self.guard.entries.len(), Ordering::Relaxed);
        self.cell
            .accepting
            .store(self.guard.accepting(), Ordering::Relaxed);
    }
}

impl Tables {
    pub fn new(size: usize, concurrency: usize) -> Tables {
        let concurrency = concurrency.max(1);
        let cell = |slot| Cell {
            table: Mutex::new(Table {
                slot,
                gen: 0,
                lane: None,
                on_answer: None,
                connected: false,
                retiring: false,
                closed: false,
                entries: IdMap::default(),
                tasks: 0,
                tally: Tally::default(),
            }),
            load: AtomicUsize::new(0),
            accepting: AtomicBool::new(false),
        };
        Tables {
            cells: (0..size).map(cell).collect(),
            concurrency,
            open: AtomicBool::new(true),
            waiting: AtomicUsize::new(0),
            newest_id: AtomicU64::new(0),
            cursor: AtomicUsize::new(0),
        }
    }

    /// Worker slots.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Locks slot `slot`'s table.
    pub fn lock(&self, slot: usize) -> Locked<'_> {
        self.get(slot).expect("a worker slot of this pool")
    }

    /// Locks slot `slot`'s table, if the pool has that slot (a caller's
    /// number).
    pub fn get(&self, slot: usize) -> Option<Locked<'_>> {
        let cell = self.cells.get(slot)?;
        Some(Locked {
            guard: cell.table.lock(),
            cell,
            concurrency: self.concurrency,
        })
    }

    /// Whether the pool takes new requests.
    pub fn open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    pub fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
    }

    /// Requests waiting in the queue.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    pub fn set_waiting(&self, n: usize) {
        self.waiting.store(n, Ordering::SeqCst);
    }

    /// Takes `id` into the ids seen; true if it is larger than every id
    /// before it, so no open request can have it. Call under the lock of
    /// the table (or the queue) the request goes to.
    pub fn claim(&self, id: u64) -> bool {
        self.newest_id.fetch_max(id, Ordering::AcqRel) < id
    }

    /// The load of slot `slot` if it takes one more request now (a hint:
    /// confirm under its lock).
    pub fn free(&self, slot: usize) -> Option<usize> {
        let cell = self.cells.get(slot)?;
        let load = cell.load.load(Ordering::Relaxed);
        (cell.accepting.load(Ordering::Relaxed) && load < self.concurrency).then_some(load)
    }

    /// Whether any slot takes one more request now (a hint).
    pub fn any_free(&self) -> bool {
        (0..self.len()).any(|slot| self.free(slot).is_some())
    }

    /// The least busy slot that takes a request now among those
    /// `allowed`, rotating among ties (a hint).
    pub fn least_busy(&self, allowed: impl Fn(usize) -> bool) -> Option<usize> {
        let n = self.len();
        let start = self.cursor.load(Ordering::Relaxed) % n;
        let mut best: Option<(usize, usize)> = None;
        for k in 0..n {
            let i = (start + k) % n;
            if !allowed(i) {
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
        self.cursor.store(i + 1, Ordering::Relaxed);
        Some(i)
    }

    /// Whether any table has request `id` in flight.
    pub fn holds(&self, id: u64) -> bool {
        (0..self.len()).any(|slot| self.lock(slot).entries.contains_key(&id))
    }

    /// Requests in flight on every worker.
    pub fn in_flight(&self) -> usize {
        (0..self.len())
            .map(|slot| self.lock(slot).in_flight())
            .sum()
    }
}

impl Table {
    /// Serves process `gen` of this slot, over `lane`.
    pub fn install(&mut self, gen: u64, lane: Lane, on_answer: OnAnswer) {
        self.gen = gen;
        self.lane = Some(lane);
        self.on_answer = Some(on_answer);
        self.connected = true;
        self.retiring = false;
        self.tasks = 0;
    }

    /// The process is gone: drops its way out (its writer ends) and
    /// returns the sending half, to shut the socket down.
    pub fn detach(&mut self) -> Option<Sender> {
        self.connected = false;
        self.on_answer = None;
        self.lane.take().map(|lane| lane.sender)
    }

    /// Whether it takes new requests.
    pub fn accepting(&self) -> bool {
        self.lane.is_some() && self.connected && !self.retiring && !self.closed
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.entries.len()
    }

    /// Whether request `id` is in flight here.
    pub fn holds(&self, id: u64) -> bool {
        self.entries.contains_key(&id)
    }

    /// Request `id`, in flight here, to change.
    pub fn entry_mut(&mut self, id: u64) -> Option<&mut Entry> {
        self.entries.get_mut(&id)
    }

    /// Sends request `id` to this worker: its frame is staged for the
    /// round ([`Table::flush`]), or written with its handle.
    pub fn dispatch(&mut self, id: u64, mut entry: Entry) {
        let idle = self.entries.is_empty();
        if let Some(lane) = self.lane.as_mut().filter(|_| self.connected) {
            match &entry.handle {
                Some(handle) => {
                    let done = answer_to(self.on_answer.as_ref(), handle, Some(id));
                    lane.write_handle(Arc::from(&*entry.frame), (**handle).clone(), done);
                }
                None => lane.stage(&entry.frame, idle),
            }
        }
        // Only a resend reads the frame again: without retries (or a
        // handle to send with it), its bytes go now, from the thread that
        // made them when it dispatches at once, and a request in flight
        // holds no copy of what its lane is writing.
        if entry.retries_left == 0 && entry.handle.is_none() {
            entry.frame = Box::default();
        }
        self.entries.insert(id, entry);
    }

    /// Writes the frames staged this round.
    pub fn flush(&mut self) {
        if let Some(lane) = self.lane.as_mut() {
            lane.flush_staged();
        }
    }

    /// Writes one or more complete frames after what was staged. False
    /// if the channel is closed.
    pub fn write(&mut self, frame: Arc<[u8]>) -> bool {
        let idle = self.entries.is_empty();
        match self.lane.as_mut().filter(|_| self.connected) {
            Some(lane) => {
                lane.flush_staged();
                lane.write(frame, idle)
            }
            None => false,
        }
    }

    /// Writes a `NODE_HANDLE` frame with its handle; `id` is the request
    /// it carries, if it is one.
    pub fn write_handle(&mut self, frame: Arc<[u8]>, handle: PoolHandle, id: Option<u64>) -> bool {
        let done = answer_to(self.on_answer.as_ref(), &handle, id);
        match self.lane.as_mut().filter(|_| self.connected) {
            Some(lane) => lane.write_handle(frame, handle, done),
            None => false,
        }
    }

    /// Asks the writer to write what a handle's answer released.
    pub fn resume(&self) -> bool {
        self.lane.as_ref().is_some_and(Lane::resume)
    }

    /// Closes the channel once everything before has been written.
    pub fn disconnect(&mut self) {
        self.flush();
        if let Some(lane) = &self.lane {
            lane.disconnect();
        }
    }

    /// Settles request `id` if it is in flight here; `now` is
    /// [`super::timer::monotonic_ns`].
    pub fn settle(&mut self, id: u64, outcome: Outcome, now: u64, fx: &mut Effects) -> bool {
        let Some(entry) = self.entries.remove(&id) else {
            return false;
        };
        entry.settle(outcome, now, &mut self.tally, fx);
        true
    }

    /// Takes every request in flight off this worker: those that may be
    /// resent are returned, oldest first; the others fail with `err`.
    pub fn evict(&mut self, err: &RequestError, fx: &mut Effects) -> Vec<(u64, Entry)> {
        let now = super::timer::monotonic_ns();
        let mut resend = Vec::new();
        for (id, entry) in self.entries.drain() {
            if entry.retries_left > 0 {
                resend.push((id, entry));
            } else {
                let err = err.clone().on_worker(self.slot);
                entry.settle(Outcome::Failed(err), now, &mut self.tally, fx);
            }
        }
        resend.sort_unstable_by_key(|(id, _)| *id);
        resend
    }

    /// The pool closed: every request in flight fails with `err`, nothing
    /// more is taken, and the channel closes once written out.
    pub fn close(&mut self, err: &RequestError, fx: &mut Effects) {
        self.closed = true;
        let now = super::timer::monotonic_ns();
        for (_, entry) in self.entries.drain() {
            entry.settle(Outcome::Failed(err.clone()), now, &mut self.tally, fx);
        }
        self.disconnect();
    }

    /// Counts a reply, and retires the worker once it has served
    /// `max_tasks`; a retiring worker is disconnected once idle.
    pub fn after_reply(&mut self, max_tasks: Option<u64>) {
        self.tasks += 1;
        if max_tasks.is_some_and(|max| self.tasks >= max) {
            self.retiring = true;
        }
        if self.retiring && self.entries.is_empty() {
            self.disconnect();
        }
    }
}

/// A set of worker slots, kept in one word for the first 64 (a pump or
/// a submission notes the tables it touched without allocating).
#[derive(Default)]
pub(crate) struct SlotSet {
    low: u64,
    high: Vec<usize>,
}

impl SlotSet {
    pub fn insert(&mut self, slot: usize) {
        match slot {
            0..64 => self.low |= 1 << slot,
            _ if !self.high.contains(&slot) => self.high.push(slot),
            _ => {}
        }
    }

    /// The slots in the set, the first 64 in order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let mut low = self.low;
        let lowest = move || {
            (low != 0).then(|| {
                let slot = low.trailing_zeros() as usize;
                low &= low - 1;
                slot
            })
        };
        std::iter::from_fn(lowest).chain(self.high.iter().copied())
    }
}

/// What hears the worker's answer to `handle`.
fn answer_to(on_answer: Option<&OnAnswer>, handle: &PoolHandle, id: Option<u64>) -> HandleDone {
    let on_answer = on_answer.cloned();
    let kind = handle.kind;
    Box::new(move |answer| {
        if let Some(on_answer) = on_answer {
            on_answer(id, kind, answer);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::SlotSet;

    #[test]
    fn a_slot_set_holds_each_slot_once() {
        let mut set = SlotSet::default();
        for slot in [3, 0, 63, 3, 64, 200, 64] {
            set.insert(slot);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 3, 63, 64, 200]);
        assert_eq!(SlotSet::default().iter().count(), 0);
    }
}
