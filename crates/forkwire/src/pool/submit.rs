//! Submission: requests into the queue (frames built, ids checked,
//! deadlines set), dispatch to workers, and cancellation.

use super::events::Done;
use super::state::{Admission, Effects, Entry, State};
use super::{
    envelope, handle, timer, Body, ErrorCode, Outcome, Queued, Request, RequestError, Shared,
};
use crate::codec::Mode;

impl Shared {
    pub(super) fn submit(&self, request: Request, fx: &mut Effects) {
        self.submit_many(std::iter::once(request), fx);
    }

    pub(super) fn submit_many(
        &self,
        requests: impl IntoIterator<Item = Request>,
        fx: &mut Effects,
    ) {
        let now = timer::monotonic_ns();
        let mut st = self.state.lock();
        for request in requests {
            self.enqueue(&mut st, request, None, now, fx);
        }
        st.pump();
    }

    /// Validates and queues one request, with the handle it carries (the
    /// caller pumps).
    pub(super) fn enqueue(
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
    pub(super) fn refuse_json(&self) -> Option<RequestError> {
        (self.mode != Mode::Json)
            .then(|| RequestError::new(ErrorCode::Serialize, "a JSON body needs a json-mode pool"))
    }

    /// The json-mode frame of a request.
    pub(super) fn json_frame(&self, id: u64, kind: Option<&str>, data: Option<&str>) -> Vec<u8> {
        let version = self.options.protocol_version.as_deref();
        envelope::json_request(id, kind, version, data)
    }

    /// Queues one request whose frame is built (the caller pumps). `now`
    /// is when it was submitted ([`timer::monotonic_ns`]).
    pub(super) fn enqueue_frame(&self, st: &mut State, q: Queued, now: u64, fx: &mut Effects) {
        let timeout = q.timeout.or(self.options.timeout).filter(|t| !t.is_zero());
        let entry = Entry {
            frame: q.frame.into_boxed_slice(),
            target: q.target,
            deadline: timeout.map(timer::after),
            done: Some(q.done),
            worker: None,
            retries_left: q.retries.unwrap_or(self.options.retries),
            handle: q.handle.map(Box::new),
            submitted: now,
        };
        if let Admission::Taken {
            earliest_deadline: true,
        } = st.admit(q.id, entry, self.options.max_queue, fx)
        {
            self.timer_cv.notify_one();
        }
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
            .filter(|&id| self.cancel_one(st, id, code, fx))
            .count();
        if cancelled > 0 {
            st.pump();
            self.idle_cv.notify_all();
        }
        cancelled
    }

    /// Settles `id` (if open) with `code`, telling its worker.
    fn cancel_one(&self, st: &mut State, id: u64, code: ErrorCode, fx: &mut Effects) -> bool {
        let worker = match st.request(id) {
            Some(entry) => entry.worker,
            None => return false,
        };
        let mut err = RequestError::new(code, code.cancellation_message());
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
}
