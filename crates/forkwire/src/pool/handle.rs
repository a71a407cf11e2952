//! Requests and messages that carry a handle: a socket or server handed to
//! a worker in a `NODE_HANDLE` frame, as `child.send(msg, handle)` does, so
//! a front end can spread accepted connections over its workers.
//!
//! The pool keeps its own duplicate of the descriptor until a worker takes
//! it (`NODE_HANDLE_ACK`), then closes it, so the connection lives exactly
//! as long as the worker keeps it. A worker that refuses it
//! (`NODE_HANDLE_NACK`, after Node's retransmissions) fails the request
//! with [`ErrorCode::HandleRefused`], or reports a
//! [`PoolEvent::Error`] for a one-way message.

use super::error::{ErrorCode, RequestError};
use super::events::{Outcome, PoolEvent};
use super::state::Effects;
use super::submit::Submission;
use super::{Pool, Request, Shared};
use crate::channel::{self, ChannelError, HandleKind, Sender};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

/// A handle on its way to a worker: the pool's duplicate and its kind.
#[derive(Clone, Debug)]
pub(crate) struct PoolHandle {
    pub fd: Arc<OwnedFd>,
    pub kind: HandleKind,
}

impl PoolHandle {
    /// A json-mode request frame wrapped as the `msg` of a `NODE_HANDLE`
    /// frame.
    pub fn wrap_json(&self, frame: &[u8]) -> Vec<u8> {
        channel::wrap_json_frame(frame, self.kind, self.fd.as_fd())
    }
}

/// Hears a worker's final answer to a handle: the request it came with
/// (`None` for a one-way message), its kind, and the answer.
pub(crate) type OnAnswer =
    Arc<dyn Fn(Option<u64>, HandleKind, Result<(), ChannelError>) + Send + Sync>;

/// Connects a worker's channel to the pool: what its answers to handles
/// release is written by its writer thread (never by its reader, which
/// must keep reading), and the answers themselves reach the pool.
pub(crate) fn hook_up(shared: &Arc<Shared>, sender: &Sender, slot: usize, gen: u64) -> OnAnswer {
    let weak = Arc::downgrade(shared);
    let resume = weak.clone();
    sender.set_resume_hook(Box::new(move || {
        resume
            .upgrade()
            .is_some_and(|shared| shared.resume_writer(slot, gen))
    }));
    Arc::new(move |id, kind, answer| {
        if let Some(shared) = weak.upgrade() {
            shared.on_handle_answer(slot, gen, id, kind, answer);
        }
    })
}

impl Shared {
    /// Asks the writer of `slot` to write what was held back; false if
    /// that process or its writer is gone.
    fn resume_writer(&self, slot: usize, gen: u64) -> bool {
        let table = self.tables.lock(slot);
        table.gen == gen && table.resume()
    }

    fn on_handle_answer(
        &self,
        slot: usize,
        gen: u64,
        id: Option<u64>,
        kind: HandleKind,
        answer: Result<(), ChannelError>,
    ) {
        let mut fx = Effects::default();
        {
            let mut st = self.state.lock();
            let mut table = self.tables.lock(slot);
            let current = table.gen == gen;
            match (id, answer) {
                (Some(id), Ok(())) => {
                    // The worker owns the handle now: close ours, so the
                    // connection ends when the worker closes it. Should the
                    // worker die, the request cannot go elsewhere with it.
                    if let Some(entry) = table.entry_mut(id).filter(|_| current) {
                        entry.handle = None;
                        entry.retries_left = 0;
                    }
                }
                (Some(id), Err(ChannelError::HandleRefused(_))) if current && table.holds(id) => {
                    let err = RequestError::new(
                        ErrorCode::HandleRefused,
                        format!(
                            "worker {slot} did not take the {kind} handle sent with the request"
                        ),
                    )
                    .on_worker(slot);
                    let now = super::timer::monotonic_ns();
                    table.settle(id, Outcome::Failed(err), now, &mut fx);
                    drop(table);
                    st.pump();
                    self.idle_cv.notify_all();
                }
                (None, Err(ChannelError::HandleRefused(_))) => {
                    fx.event(PoolEvent::Error(
                        RequestError::new(
                            ErrorCode::HandleRefused,
                            format!("worker {slot} did not take the {kind} handle sent to it"),
                        )
                        .on_worker(slot),
                    ));
                }
                // The worker went away first: its exit settles the request.
                _ => {}
            }
        }
        self.fire(fx);
    }
}

impl Pool {
    /// Submits a request that carries a handle (a connection or a server
    /// to run it on), as `child.send({id, data}, handle)` would: the worker
    /// gets it with the request ([`crate::serve::Request::take_handle`]).
    ///
    /// The pool owns `handle` from here on and closes it once a worker has
    /// taken it (or the request settles first). A request whose handle was
    /// taken is not resent if its worker dies. With [`super::Body::Json`]
    /// the pool wraps the envelope in the `NODE_HANDLE` frame; a
    /// [`super::Body::Frame`] must already be that whole frame (see
    /// [`channel::handle_frame`]).
    pub fn submit_with_handle(&self, request: Request, handle: OwnedFd, kind: HandleKind) {
        let mut fx = Effects::default();
        let now = super::timer::monotonic_ns();
        let handle = PoolHandle {
            fd: Arc::new(handle),
            kind,
        };
        let mut sub = Submission::new(&self.shared);
        self.shared
            .enqueue(&mut sub, request, Some(handle), now, &mut fx);
        sub.finish();
        self.shared.fire(fx);
    }

    /// Sends a complete `NODE_HANDLE` frame (see [`channel::handle_frame`])
    /// with `handle` to worker `worker`. Returns whether it was queued for
    /// writing. The pool owns `handle` and closes it once the worker has
    /// answered; a refusal is reported as a [`PoolEvent::Error`] with
    /// [`ErrorCode::HandleRefused`].
    pub fn send_frame_with_handle(
        &self,
        worker: usize,
        frame: Vec<u8>,
        handle: OwnedFd,
        kind: HandleKind,
    ) -> bool {
        let handle = PoolHandle {
            fd: Arc::new(handle),
            kind,
        };
        self.shared
            .tables
            .get(worker)
            .is_some_and(|mut table| table.write_handle(frame.into(), handle, None))
    }

    /// Sends `message` with a duplicate of `handle` to worker `worker`, as
    /// `child.send(message, handle)`; see [`Pool::send_frame_with_handle`].
    /// The caller keeps its own descriptor: drop it unless it should stay
    /// open here too (Node's `keepOpen`).
    pub fn send_with_handle<T: serde::Serialize + ?Sized>(
        &self,
        worker: usize,
        message: &T,
        handle: impl AsFd,
        kind: HandleKind,
    ) -> Result<bool, RequestError> {
        let serialize = |e: &dyn std::fmt::Display| {
            RequestError::new(ErrorCode::Serialize, format!("cannot send the handle: {e}"))
        };
        let frame = channel::handle_frame(self.shared.mode, message, kind, handle.as_fd())
            .map_err(|e| serialize(&e))?;
        let fd = handle
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| serialize(&e))?;
        Ok(self.send_frame_with_handle(worker, frame, fd, kind))
    }
}
