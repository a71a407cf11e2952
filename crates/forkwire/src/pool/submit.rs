//! Submission: requests into the queue (frames built, ids checked,
//! deadlines set), or straight to a worker's table when one has room and
//! nothing waits; and cancellation.

use super::events::Done;
use super::state::{Admission, Effects, Entry, State, Timer};
use super::table::SlotSet;
use super::{
    envelope, handle, timer, Body, ErrorCode, Outcome, Queued, Request, RequestError, Shared,
    Target,
};
use crate::codec::Mode;
use parking_lot::MutexGuard;
use std::time::Instant;

/// Requests submitted together: the tables they went straight to (whose
/// frames are written when the submission ends), and the pool's lock once
/// one of them had to go through the queue.
pub(super) struct Submission<'a> {
    shared: &'a Shared,
    state: Option<MutexGuard<'a, State>>,
    touched: SlotSet,
}

impl<'a> Submission<'a> {
    pub fn new(shared: &'a Shared) -> Submission<'a> {
        Submission {
            shared,
            state: None,
            touched: SlotSet::default(),
        }
    }

    /// The pool's state, locked until the submission ends.
    pub fn state(&mut self) -> &mut State {
        self.state.get_or_insert_with(|| self.shared.state.lock())
    }

    /// Sends what waited (if the queue was used) and writes the frames of
    /// the requests that went straight to a worker.
    pub fn finish(mut self) {
        if let Some(st) = self.state.as_mut() {
            st.pump();
        }
        for w in self.touched.iter() {
            self.shared.tables.lock(w).flush();
        }
    }
}

impl Shared {
    pub(super) fn submit_many(
        &self,
        requests: impl IntoIterator<Item = Request>,
        fx: &mut Effects,
    ) {
        let now = timer::monotonic_ns();
        let mut sub = Submission::new(self);
        for request in requests {
            self.enqueue(&mut sub, request, None, now, fx);
        }
        sub.finish();
    }

    /// Validates and submits one request, with the handle it carries.
    pub(super) fn enqueue(
        &self,
        sub: &mut Submission,
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
                    sub.state().reject(done, refused, fx);
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
        self.enqueue_frame(sub, queued, now, fx);
    }

    /// The failure of a JSON body sent to a pool in another mode.
    pub(super) fn refuse_json(&self) -> Option<RequestError> {
        (self.mode != Mode::Json)
            .then(|| RequestError::new(ErrorCode::Serialize, "a JSON body needs a json-mode pool"))
    }

    /// The json-mode frame of a request.
    pub(super) fn json_frame(&self, id: u64, kind: Option<&str>, data: Option<&str>) -> Vec<u8> {
        let version = self.options.protocol_version.as_deref();
        envelope::json_request(id, kind, version, data)
    }

    /// Submits one request whose frame is built. `now` is when it was
    /// submitted ([`timer::monotonic_ns`]).
    pub(super) fn enqueue_frame(
        &self,
        sub: &mut Submission,
        q: Queued,
        now: u64,
        fx: &mut Effects,
    ) {
        let timeout = q.timeout.or(self.options.timeout).filter(|t| !t.is_zero());
        let deadline = timeout.map(timer::after);
        let entry = Entry {
            frame: q.frame.into_boxed_slice(),
            target: q.target,
            deadline,
            done: Some(q.done),
            retries_left: q.retries.unwrap_or(self.options.retries),
            handle: q.handle.map(Box::new),
            submitted: now,
        };
        let taken = match self.send_direct(q.id, entry, &mut sub.touched) {
            Ok(()) => true,
            Err(entry) => {
                let max_queue = self.options.max_queue;
                sub.state().admit(q.id, entry, max_queue, fx) == Admission::Taken
            }
        };
        if let Some(at) = deadline.filter(|_| taken) {
            self.schedule(at, Timer::Deadline(q.id));
        }
    }

    /// Hands request `id` straight to a worker's table, without the
    /// pool's lock, when the pool is open, nothing waits in the queue,
    /// the request may run on any worker (or names one) and carries no
    /// handle, a worker has room, and the id is new. Gives the entry back
    /// otherwise, for the queue's rules to decide.
    fn send_direct(&self, id: u64, entry: Entry, touched: &mut SlotSet) -> Result<(), Entry> {
        let tables = &self.tables;
        if entry.handle.is_some() || !tables.open() || tables.waiting() > 0 {
            return Err(entry);
        }
        let slot = match entry.target {
            Target::Any => tables.least_busy(|_| true),
            Target::Worker(w) => tables.free(w).map(|_| w),
            Target::Role(_) | Target::Key(_) => None,
        };
        let Some(w) = slot else {
            return Err(entry);
        };
        let mut table = tables.lock(w);
        if !table.has_room() || !tables.claim(id) {
            return Err(entry);
        }
        table.dispatch(id, entry);
        touched.insert(w);
        Ok(())
    }

    /// Settles each of `ids` that is open with `code` (aborted or timed
    /// out), telling the workers that have them; then sends what waited
    /// and wakes `close()`. Returns how many were open.
    pub(super) fn cancel_ids(
        &self,
        st: &mut State,
        ids: impl IntoIterator<Item = u64>,
        code: ErrorCode,
        fx: &mut Effects,
    ) -> usize {
        let cancelled = ids
            .into_iter()
            .filter(|&id| self.cancel_one(st, id, code, None, fx))
            .count();
        if cancelled > 0 {
            st.pump();
            self.idle_cv.notify_all();
        }
        cancelled
    }

    /// A deadline of request `id` fired at `now`: it times out if that
    /// deadline is still its own.
    pub(super) fn cancel_due(&self, st: &mut State, id: u64, now: Instant, fx: &mut Effects) {
        if self.cancel_one(st, id, ErrorCode::Timeout, Some(now), fx) {
            st.pump();
            self.idle_cv.notify_all();
        }
    }

    /// Settles `id` (if open, and if `due` is given, only if its deadline
    /// has passed by then) with `code`, telling its worker.
    fn cancel_one(
        &self,
        st: &mut State,
        id: u64,
        code: ErrorCode,
        due: Option<Instant>,
        fx: &mut Effects,
    ) -> bool {
        let expired =
            |entry: &Entry| due.is_none_or(|now| entry.deadline.is_some_and(|d| d <= now));
        let err = RequestError::new(code, code.cancellation_message());
        if let Some(entry) = st.queued(id) {
            return expired(entry) && st.settle_queued(id, Outcome::Failed(err), fx);
        }
        for w in 0..self.tables.len() {
            let mut table = self.tables.lock(w);
            let Some(entry) = table.entry_mut(id) else {
                continue;
            };
            if !expired(entry) {
                return false;
            }
            let now = timer::monotonic_ns();
            table.settle(id, Outcome::Failed(err.on_worker(w)), now, fx);
            if let Some(frame) = envelope::cancel_frame(self.mode, id) {
                table.write(frame.into());
            }
            return true;
        }
        false
    }
}
