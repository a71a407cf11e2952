//! The way out to one worker: frames are written straight from the thread
//! that dispatches them when the socket takes them at once, and otherwise
//! by the lane's writer thread, which may block on a full socket and
//! coalesces what queues up behind it into few writes.
//!
//! Only a lane that was idle (no request in flight on it) is written from
//! the dispatching thread: that is the one-request-at-a-time case, where
//! waking the writer thread would be most of the round trip. A busy lane
//! hands its frames to the writer, which gathers whatever queues behind a
//! write into the next one, and the dispatching thread (the JS thread, or
//! a reader that just settled a reply) never spends a syscall per request.
//!
//! Order is kept by one rule: the dispatching thread writes itself only
//! while the writer has nothing left to write ([`Lane::drained`]); once
//! anything is handed to the writer, everything after it goes the same
//! way until the writer has written it all.

use super::handle::PoolHandle;
use crate::channel::{ChannelError, Direct, HandleDone, Sender};
use crossbeam_channel as cb;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes written per syscall at most when coalescing.
const WRITE_BATCH: usize = 1 << 20;

/// Staged bytes past which the buffer's memory is given back.
const STAGE_KEEP: usize = 64 * 1024;

/// What the writer thread is asked to do.
pub(crate) enum Outgoing {
    Frame(Arc<[u8]>),
    /// Frames gathered by a dispatch.
    Frames(Vec<u8>),
    /// Write what a direct write left over (and internal answers).
    Flush,
    /// A `NODE_HANDLE` frame and its descriptor: written alone, with the
    /// descriptor on its first byte, after what came before.
    Handle(Arc<[u8]>, PoolHandle, HandleDone),
    /// The worker answered a handle: write what was held back behind it.
    Resume,
    /// Flush what came before, then close the channel.
    Disconnect,
}

/// One worker's way out: its channel's sending half and its writer thread.
pub(crate) struct Lane {
    /// The channel's sending half (also to shut the socket down when the
    /// process is gone: a grandchild may hold the other end open).
    pub sender: Sender,
    writer: cb::Sender<Outgoing>,
    /// Messages handed to the writer and not fully written yet.
    pending: Arc<AtomicUsize>,
    /// Frames dispatched in the current round, written together by
    /// [`Lane::flush_staged`].
    staged: Vec<u8>,
    /// The round's first frame found the lane idle: write it directly.
    staged_direct: bool,
}

impl Lane {
    /// A lane over `sender`, and the writer loop to run on its own thread.
    pub fn new(sender: Sender) -> (Lane, impl FnOnce() + Send + 'static) {
        let (tx, rx) = cb::unbounded();
        let pending = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (sender, pending) = (sender.clone(), Arc::clone(&pending));
            move || write_loop(rx, sender, pending)
        };
        let lane = Lane {
            sender,
            writer: tx,
            pending,
            staged: Vec::new(),
            staged_direct: false,
        };
        (lane, writer)
    }

    /// Whether the writer has written everything handed to it.
    fn drained(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }

    /// Hands `msg` to the writer thread; false if it is gone.
    fn hand_over(&self, msg: Outgoing) -> bool {
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.writer.send(msg).is_ok() {
            return true;
        }
        self.pending.fetch_sub(1, Ordering::AcqRel);
        false
    }

    /// Writes `bytes` from this thread if the socket takes them now and
    /// nothing waits before them. `Ok(true)`: done (or owed and the
    /// writer asked to finish); `Ok(false)`: nothing written.
    fn write_now(&self, bytes: &[u8]) -> Result<bool, ChannelError> {
        if !self.drained() {
            return Ok(false);
        }
        match self.sender.try_send_frames_now(bytes)? {
            Direct::Written => Ok(true),
            Direct::Partial => Ok(self.hand_over(Outgoing::Flush)),
            Direct::Refused => Ok(false),
        }
    }

    /// Writes one or more complete frames: now if the lane is `idle` (no
    /// request in flight on it) and the socket takes them, else through
    /// the writer. False if the channel is gone.
    pub fn write(&self, frame: Arc<[u8]>, idle: bool) -> bool {
        let now = if idle {
            self.write_now(&frame)
        } else {
            Ok(false)
        };
        match now {
            Ok(true) => true,
            Ok(false) => self.hand_over(Outgoing::Frame(frame)),
            Err(_) => false,
        }
    }

    /// Adds a frame to this round's, written by [`Lane::flush_staged`];
    /// `idle`: no request was in flight on the lane before it.
    pub fn stage(&mut self, frame: &[u8], idle: bool) {
        if self.staged.is_empty() {
            self.staged_direct = idle;
        }
        self.staged.extend_from_slice(frame);
    }

    /// Writes the frames staged this round, now or through the writer.
    pub fn flush_staged(&mut self) {
        if self.staged.is_empty() {
            return;
        }
        let now = if self.staged_direct {
            self.write_now(&self.staged)
        } else {
            Ok(false)
        };
        match now {
            Ok(true) | Err(_) => {
                self.staged.clear();
                if self.staged.capacity() > STAGE_KEEP {
                    self.staged = Vec::new();
                }
            }
            Ok(false) => {
                // The next round is likely the size of this one: start it
                // at that capacity rather than growing from nothing.
                let next = Vec::with_capacity(self.staged.len().min(STAGE_KEEP));
                let frames = std::mem::replace(&mut self.staged, next);
                self.hand_over(Outgoing::Frames(frames));
            }
        }
    }

    /// Queues a `NODE_HANDLE` frame and its descriptor, after what was
    /// staged; `done` hears the worker's answer.
    pub fn write_handle(&mut self, frame: Arc<[u8]>, handle: PoolHandle, done: HandleDone) -> bool {
        self.flush_staged();
        self.hand_over(Outgoing::Handle(frame, handle, done))
    }

    /// Asks the writer to write what a handle's answer released.
    pub fn resume(&self) -> bool {
        self.hand_over(Outgoing::Resume)
    }

    /// Closes the channel once everything before has been written.
    pub fn disconnect(&self) {
        self.hand_over(Outgoing::Disconnect);
    }
}

fn write_loop(rx: cb::Receiver<Outgoing>, sender: Sender, pending: Arc<AtomicUsize>) {
    let mut buf: Vec<u8> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut stop = false;
        let mut taken = 0;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            taken += 1;
            // Everything but plain frames goes out on its own, after the
            // bytes gathered before it.
            match msg {
                Outgoing::Frame(f) => buf.extend_from_slice(&f),
                Outgoing::Frames(f) if buf.is_empty() => buf = f,
                Outgoing::Frames(f) => buf.extend_from_slice(&f),
                Outgoing::Flush => {
                    stop = !write_frames(&sender, &mut buf) || sender.flush_pending().is_err();
                }
                Outgoing::Handle(frame, handle, done) => {
                    stop = !write_frames(&sender, &mut buf)
                        || sender
                            .send_frame_with_handle(frame, handle.fd, handle.kind, done)
                            .is_err();
                }
                Outgoing::Resume => {
                    stop = !write_frames(&sender, &mut buf);
                    sender.resume();
                }
                Outgoing::Disconnect => {
                    write_frames(&sender, &mut buf);
                    sender.disconnect();
                    stop = true;
                }
            }
            if stop {
                break;
            }
            if buf.len() < WRITE_BATCH {
                next = rx.try_recv().ok();
            }
        }
        stop = stop || !write_frames(&sender, &mut buf);
        // Written: the dispatching threads may write for themselves again.
        pending.fetch_sub(taken, Ordering::AcqRel);
        if stop {
            break;
        }
    }
}

/// Writes the gathered frames; false if the channel is gone.
fn write_frames(sender: &Sender, buf: &mut Vec<u8>) -> bool {
    if buf.is_empty() {
        return true;
    }
    let ok = sender.send_frames(buf).is_ok();
    buf.clear();
    if buf.capacity() > 4 * WRITE_BATCH {
        *buf = Vec::new();
    }
    ok
}
