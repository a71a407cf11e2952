//! The sending half: encodes under a lock so frames from several threads
//! never interleave on the socket, and passes handles as Node does: a
//! `NODE_HANDLE` frame goes with its descriptor on its first byte, and
//! every later message waits until the peer has answered it.
//!
//! Two locks: one serialises writes (and holds deferred frames), the other
//! the handles in flight and what waits behind them. The second is never
//! held across a write, so the receiving thread can always record an
//! answer, even while another thread is blocked writing to a full socket.

use super::handle::{self, HandleDone, HandleKind, HandleReceipt};
use super::{socket, ChannelError};
use crate::codec::{self, Mode};
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Deferred bytes that force a write.
const DEFER_LIMIT: usize = 64 * 1024;

/// Times a refused handle is sent again before the sender gives up, as
/// Node's `MAX_HANDLE_RETRANSMISSIONS`.
const MAX_HANDLE_RETRANSMISSIONS: u32 = 3;

/// The sending half of a channel. Cheap to clone; every clone writes to the
/// same socket, one whole frame at a time.
#[derive(Clone, Debug)]
pub struct Sender {
    inner: Arc<Inner>,
}

/// Asked to write what is held once a handle is answered; true if it
/// will (see [`Sender::set_resume_hook`]).
type ResumeHook = Box<dyn Fn() -> bool + Send + Sync>;

struct Inner {
    stream: UnixStream,
    mode: Mode,
    /// Frames encoded and not yet written (see [`Sender::send_deferred`]);
    /// holding the lock also serialises writes.
    write: Mutex<Vec<u8>>,
    /// Handles in flight and what waits behind them.
    handles: Mutex<Handles>,
    /// What `process.connected` says: false once either side disconnects.
    connected: AtomicBool,
    /// Nothing more may be written: shut down here, or the peer is gone.
    shut: AtomicBool,
    resume: Mutex<Option<Arc<ResumeHook>>>,
    /// Internal answers (`NODE_HANDLE_ACK`/`_NACK`) not written yet: they
    /// go out before the next frame, whoever writes it.
    urgent: Mutex<Vec<u8>>,
    /// The rest of frames that [`Sender::try_send_frames_now`] wrote only
    /// in part: written before anything else, urgent answers included.
    tail: Mutex<Vec<u8>>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("stream", &self.stream)
            .field("mode", &self.mode)
            .field("connected", &self.connected)
            .finish_non_exhaustive()
    }
}

/// The handle written last and what was sent after it.
#[derive(Default)]
struct Handles {
    /// The handle written last, until the peer answers it.
    in_flight: Option<PassedHandle>,
    /// Everything sent after it, in order (Node holds these back too).
    held: VecDeque<Held>,
    /// A held item was taken out and is being written.
    draining: bool,
    /// `disconnect()` came while frames were held: shut down once they
    /// are written.
    disconnect_when_drained: bool,
}

impl Handles {
    /// Whether the socket is not free for new frames yet.
    fn holding(&self) -> bool {
        self.in_flight.is_some() || !self.held.is_empty() || self.draining
    }

    fn hold_frames(&mut self, bytes: &[u8]) {
        match self.held.back_mut() {
            Some(Held::Frames(last)) => last.extend_from_slice(bytes),
            _ => self.held.push_back(Held::Frames(bytes.to_vec())),
        }
    }

    /// Gives up on every handle: the socket cannot be written.
    fn fail(&mut self, fin: &mut Finished) {
        if let Some(passed) = self.in_flight.take() {
            passed.finish(Err(ChannelError::Disconnected), fin);
        }
        for item in self.held.drain(..) {
            if let Held::Handle(passed) = item {
                passed.finish(Err(ChannelError::Disconnected), fin);
            }
        }
        self.draining = false;
    }
}

enum Held {
    Frames(Vec<u8>),
    Handle(PassedHandle),
}

/// A handle frame and its descriptor, kept until the peer answers so it
/// can be sent again after a refusal.
pub(crate) struct PassedHandle {
    frame: Arc<[u8]>,
    fd: Arc<OwnedFd>,
    kind: HandleKind,
    retransmissions: u32,
    done: Option<HandleDone>,
}

/// What [`Sender::try_send_frames_now`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direct {
    /// Every byte went out.
    Written,
    /// Some went out; the rest is owed and must be flushed.
    Partial,
    /// Nothing went out.
    Refused,
}

/// Answers to run once the locks are released.
type Finished = Vec<(HandleDone, Result<(), ChannelError>)>;

impl PassedHandle {
    fn finish(mut self, answer: Result<(), ChannelError>, fin: &mut Finished) {
        if let Some(done) = self.done.take() {
            fin.push((done, answer));
        }
    }
}

impl Drop for PassedHandle {
    fn drop(&mut self) {
        // The sender went away with the handle unanswered.
        if let Some(done) = self.done.take() {
            done(Err(ChannelError::Disconnected));
        }
    }
}

fn run(fin: Finished) {
    for (done, answer) in fin {
        done(answer);
    }
}

impl Sender {
    pub(crate) fn new(stream: UnixStream, mode: Mode) -> Sender {
        Sender {
            inner: Arc::new(Inner {
                stream,
                mode,
                write: Mutex::new(Vec::new()),
                handles: Mutex::new(Handles::default()),
                connected: AtomicBool::new(true),
                shut: AtomicBool::new(false),
                resume: Mutex::new(None),
                urgent: Mutex::new(Vec::new()),
                tail: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The serialization mode frames are written in.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// Whether the channel is still open, like `process.connected`.
    pub fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// Encodes `message` and writes it as one frame, like `process.send`.
    ///
    /// Blocks while the socket's buffer is full (the peer is not reading).
    /// While a handle sent earlier waits for the peer's answer the frame is
    /// held back and written after it, as Node does. Fails with
    /// [`ChannelError::Encode`] if the value cannot be written in this mode
    /// (nothing is sent), and with [`ChannelError::Disconnected`] once the
    /// channel is closed.
    pub fn send<T: Serialize + ?Sized>(&self, message: &T) -> Result<(), ChannelError> {
        let mut fin = Finished::new();
        let res = {
            let mut deferred = self.inner.write.lock();
            self.encode(&mut deferred, message)
                .and_then(|()| self.flush_locked(&mut deferred, &mut fin))
        };
        run(fin);
        res
    }

    /// Encodes `message` behind any frames already waiting, and writes
    /// them all only once [`Sender::flush`] is called (or 64 KiB wait, or
    /// any thread calls [`Sender::send`]). Many replies then cost one
    /// write: call `flush` when there is nothing more to answer right now.
    pub fn send_deferred<T: Serialize + ?Sized>(&self, message: &T) -> Result<(), ChannelError> {
        let mut fin = Finished::new();
        let res = {
            let mut deferred = self.inner.write.lock();
            self.encode(&mut deferred, message).and_then(|()| {
                if deferred.len() >= DEFER_LIMIT {
                    self.flush_locked(&mut deferred, &mut fin)
                } else {
                    Ok(())
                }
            })
        };
        run(fin);
        res
    }

    /// Writes every deferred frame.
    pub fn flush(&self) -> Result<(), ChannelError> {
        let mut fin = Finished::new();
        let res = {
            let mut deferred = self.inner.write.lock();
            self.flush_locked(&mut deferred, &mut fin)
        };
        run(fin);
        res
    }

    /// Writes bytes that already hold one or more complete frames in this
    /// channel's mode (framing included), after any deferred frames.
    pub fn send_frames(&self, frames: &[u8]) -> Result<(), ChannelError> {
        let mut fin = Finished::new();
        let res = {
            let mut deferred = self.inner.write.lock();
            self.flush_locked(&mut deferred, &mut fin).and_then(|()| {
                if self.is_connected() {
                    self.emit(frames, &mut fin)
                } else {
                    Err(ChannelError::Disconnected)
                }
            })
        };
        run(fin);
        res
    }

    /// Writes complete frames now, from the calling thread, if that cannot
    /// block or overtake anything: nobody else is writing, nothing is
    /// deferred, held behind a handle or owed from an earlier write, and
    /// the socket takes at least their first byte.
    ///
    /// [`Direct::Partial`] means the socket took only part of them: the
    /// rest is kept and goes out before anything else, with the next write
    /// or [`Sender::flush_pending`], which the caller must arrange on a
    /// thread that may block. [`Direct::Refused`] means nothing was
    /// written; the caller writes them the usual way.
    pub(crate) fn try_send_frames_now(&self, frames: &[u8]) -> Result<Direct, ChannelError> {
        let Some(deferred) = self.inner.write.try_lock() else {
            return Ok(Direct::Refused);
        };
        if !self.is_connected() {
            return Err(ChannelError::Disconnected);
        }
        if !deferred.is_empty()
            || self.inner.handles.lock().holding()
            || !self.write_pending(libc::MSG_DONTWAIT)?
        {
            return Ok(Direct::Refused);
        }
        let written = self.send_all(frames, libc::MSG_DONTWAIT)?;
        Ok(if written == frames.len() {
            Direct::Written
        } else if written == 0 {
            Direct::Refused
        } else {
            self.inner.tail.lock().extend_from_slice(&frames[written..]);
            Direct::Partial
        })
    }

    /// Writes what [`Sender::try_send_frames_now`] left over, and pending
    /// internal answers; blocks while the socket is full.
    pub(crate) fn flush_pending(&self) -> Result<(), ChannelError> {
        let _write = self.inner.write.lock();
        self.write_pending(0).map(drop)
    }

    /// Sends `message` with a handle, like `child.send(message, handle)`:
    /// the frame is `{cmd: 'NODE_HANDLE', type, msg}` and the descriptor
    /// goes with its first byte.
    ///
    /// `handle` is duplicated: the caller keeps its own descriptor (drop
    /// it for Node's default, keep it for `keepOpen`), and the duplicate is
    /// closed once the peer answers. Later messages wait for that answer,
    /// as Node's do. A refused handle is sent again three times, as Node
    /// does, then the [`HandleReceipt`] reports
    /// [`ChannelError::HandleRefused`].
    ///
    /// ```no_run
    /// use forkwire::channel::HandleKind;
    /// use forkwire::process::Command;
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut child = Command::node("server.js").spawn()?;
    /// // The child gets a net.Server as the second argument of 'message'.
    /// let receipt = child
    ///     .channel()
    ///     .send_with_handle(&serde_json::json!({ "type": "listen" }), &listener, HandleKind::NetServer)?;
    /// let reply: Option<serde_json::Value> = child.channel().recv()?; // reads the ACK too
    /// # drop((receipt, reply));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_with_handle<T: Serialize + ?Sized>(
        &self,
        message: &T,
        handle: impl AsFd,
        kind: HandleKind,
    ) -> Result<HandleReceipt, ChannelError> {
        let frame = handle::handle_frame(self.mode(), message, kind, handle.as_fd())
            .map_err(ChannelError::Encode)?;
        let fd = handle
            .as_fd()
            .try_clone_to_owned()
            .map_err(ChannelError::Io)?;
        let (receipt, done) = HandleReceipt::new();
        self.send_frame_with_handle(frame.into(), Arc::new(fd), kind, done)?;
        Ok(receipt)
    }

    /// Sends a complete `NODE_HANDLE` frame with `fd`. `done` is called once
    /// with the peer's final answer (also when this fails).
    pub(crate) fn send_frame_with_handle(
        &self,
        frame: Arc<[u8]>,
        fd: Arc<OwnedFd>,
        kind: HandleKind,
        done: HandleDone,
    ) -> Result<(), ChannelError> {
        let passed = PassedHandle {
            frame,
            fd,
            kind,
            retransmissions: 0,
            done: Some(done),
        };
        let mut fin = Finished::new();
        let res = {
            let mut deferred = self.inner.write.lock();
            let res = if self.is_connected() {
                self.flush_locked(&mut deferred, &mut fin)
            } else {
                Err(ChannelError::Disconnected)
            };
            match res {
                Ok(()) => {
                    self.inner
                        .handles
                        .lock()
                        .held
                        .push_back(Held::Handle(passed));
                    self.emit(&[], &mut fin)
                }
                Err(e) => {
                    passed.finish(Err(same_error(&e)), &mut fin);
                    Err(e)
                }
            }
        };
        run(fin);
        res
    }

    /// Writes one of Node's internal replies (`NODE_HANDLE_ACK` / `_NACK`)
    /// ahead of anything held: the peer may itself be holding everything
    /// back until it gets it.
    ///
    /// With a resume hook (a writer thread, see [`Sender::set_resume_hook`])
    /// the receiving thread that calls this never waits: not for a writer
    /// blocked on a full socket, nor for the socket. The answer is written
    /// at once if the socket takes it; otherwise it waits in front of the
    /// next frame and the writer thread is asked to write it.
    pub(crate) fn send_internal(&self, message: &serde_json::Value) -> Result<(), ChannelError> {
        let mut frame = Vec::new();
        self.encode(&mut frame, message)?;
        self.inner.urgent.lock().extend_from_slice(&frame);
        let hook = self.inner.resume.lock().clone();
        if let Some(hook) = hook {
            if let Some(_write) = self.inner.write.try_lock() {
                if self.write_pending(libc::MSG_DONTWAIT)? {
                    return Ok(());
                }
            }
            if hook() {
                return Ok(());
            }
        }
        let _write = self.inner.write.lock();
        self.write_pending(0).map(drop)
    }

    /// Writes what is owed before any new frame: the rest of a frame
    /// written in part, then pending internal answers. With `MSG_DONTWAIT`
    /// in `flags`, as much as the socket takes now. True once none is
    /// left. Call with the write lock.
    fn write_pending(&self, flags: libc::c_int) -> Result<bool, ChannelError> {
        for owed in [&self.inner.tail, &self.inner.urgent] {
            let mut owed = owed.lock();
            if owed.is_empty() {
                continue;
            }
            let written = self.send_all(&owed, flags)?;
            owed.drain(..written);
            if !owed.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The peer answered the handle in flight: `NODE_HANDLE_ACK` (`true`)
    /// or `NODE_HANDLE_NACK`. An answer with no handle in flight is
    /// ignored, as Node ignores it.
    pub(crate) fn answered(&self, accepted: bool) {
        let mut fin = Finished::new();
        let release = {
            let mut hs = self.inner.handles.lock();
            let Some(mut passed) = hs.in_flight.take() else {
                return;
            };
            if accepted {
                passed.finish(Ok(()), &mut fin);
            } else if passed.retransmissions < MAX_HANDLE_RETRANSMISSIONS {
                passed.retransmissions += 1;
                hs.held.push_front(Held::Handle(passed));
            } else {
                let kind = passed.kind;
                passed.finish(Err(ChannelError::HandleRefused(kind)), &mut fin);
            }
            !hs.held.is_empty() || hs.disconnect_when_drained
        };
        run(fin);
        if release {
            let hook = self.inner.resume.lock().clone();
            if !hook.is_some_and(|resume| resume()) {
                self.resume();
            }
        }
    }

    /// Writes pending internal answers, then what was held back, up to the
    /// next handle.
    pub(crate) fn resume(&self) {
        let mut fin = Finished::new();
        {
            let _write = self.inner.write.lock();
            if self.write_pending(0).is_ok() {
                let _ = self.emit(&[], &mut fin);
            }
        }
        run(fin);
    }

    /// Lets another thread write what a handle's answer releases: when the
    /// answer comes, `hook` is called (on the receiving thread) and, if it
    /// returns true, promises a call to [`Sender::resume`]. Without a hook
    /// the receiving thread writes it, which is fine when the peer always
    /// reads (as Node does) but could deadlock two peers that both block.
    pub(crate) fn set_resume_hook(&self, hook: ResumeHook) {
        *self.inner.resume.lock() = Some(Arc::new(hook));
    }

    fn encode<T: Serialize + ?Sized>(
        &self,
        buf: &mut Vec<u8>,
        message: &T,
    ) -> Result<(), ChannelError> {
        codec::encode_frame(self.inner.mode, message, buf).map_err(ChannelError::Encode)
    }

    /// Writes (or holds) the deferred frames. Call with the write lock.
    fn flush_locked(&self, deferred: &mut Vec<u8>, fin: &mut Finished) -> Result<(), ChannelError> {
        if deferred.is_empty() {
            return Ok(());
        }
        let res = if self.is_connected() {
            self.emit(deferred, fin)
        } else {
            Err(ChannelError::Disconnected)
        };
        deferred.clear();
        if deferred.capacity() > 1 << 20 {
            *deferred = Vec::new();
        }
        res
    }

    /// Writes `bytes` after everything held, or holds them too while a
    /// handle awaits its answer. Call with the write lock.
    fn emit(&self, bytes: &[u8], fin: &mut Finished) -> Result<(), ChannelError> {
        loop {
            let mut hs = self.inner.handles.lock();
            hs.draining = false;
            if hs.in_flight.is_some() {
                if !bytes.is_empty() {
                    hs.hold_frames(bytes);
                }
                return Ok(());
            }
            let Some(item) = hs.held.pop_front() else {
                let shut_down = hs.disconnect_when_drained;
                drop(hs);
                let res = if bytes.is_empty() {
                    Ok(())
                } else {
                    self.write_raw(bytes)
                };
                if shut_down {
                    self.shutdown();
                }
                return res;
            };
            hs.draining = true;
            let res = match item {
                Held::Frames(held) => {
                    drop(hs);
                    self.write_raw(&held)
                }
                Held::Handle(passed) => {
                    // In flight before the first byte goes: the answer
                    // may come before the write returns.
                    let (frame, fd) = (Arc::clone(&passed.frame), Arc::clone(&passed.fd));
                    hs.in_flight = Some(passed);
                    drop(hs);
                    self.write_with_fd(&frame, fd.as_raw_fd())
                }
            };
            if let Err(e) = res {
                self.inner.handles.lock().fail(fin);
                return Err(e);
            }
        }
    }

    fn write_with_fd(&self, frame: &[u8], fd: i32) -> Result<(), ChannelError> {
        if self.inner.shut.load(Ordering::Acquire) {
            return Err(ChannelError::Disconnected);
        }
        self.write_pending(0)?;
        match socket::send_with_fd(&self.inner.stream, frame, fd) {
            // The rest of this frame: nothing may come between.
            Ok(n) => self.send_all(&frame[n..], 0).map(drop),
            Err(e) => Err(self.write_error(e)),
        }
    }

    /// Writes whole frames, after any pending internal answers. Call with
    /// the write lock.
    fn write_raw(&self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.write_pending(0)?;
        self.send_all(bytes, 0).map(drop)
    }

    /// Writes `bytes`; returns how many were written: all of them, unless
    /// `flags` has `MSG_DONTWAIT` and the socket is full.
    fn send_all(&self, bytes: &[u8], flags: libc::c_int) -> Result<usize, ChannelError> {
        if self.inner.shut.load(Ordering::Acquire) {
            return Err(ChannelError::Disconnected);
        }
        let mut done = 0;
        while done < bytes.len() {
            let rest = &bytes[done..];
            // SAFETY: the pointer and length describe `rest`.
            let n = unsafe {
                libc::send(
                    self.inner.stream.as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_NOSIGNAL | flags,
                )
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => return Ok(done),
                    _ => return Err(self.write_error(err)),
                }
            }
            done += n as usize;
        }
        Ok(done)
    }

    fn write_error(&self, err: io::Error) -> ChannelError {
        match err.kind() {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::NotConnected => {
                self.inner.shut.store(true, Ordering::Release);
                self.inner.connected.store(false, Ordering::Release);
                ChannelError::Disconnected
            }
            _ => ChannelError::Io(err),
        }
    }

    /// Closes the channel in both directions, like `process.disconnect()`.
    /// Idempotent. As in Node, frames held back behind a handle that the
    /// peer has not answered yet are written first, and the channel closes
    /// after them.
    pub fn disconnect(&self) {
        let mut hs = self.inner.handles.lock();
        self.inner.connected.store(false, Ordering::Release);
        if hs.holding() {
            hs.disconnect_when_drained = true;
        } else {
            drop(hs);
            self.shutdown();
        }
    }

    fn shutdown(&self) {
        if !self.inner.shut.swap(true, Ordering::AcqRel) {
            let _ = self.inner.stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Shuts the socket down now, whatever is held back: a read or write
    /// in progress on either half ends, and nothing more is written. For a
    /// peer known to be gone, whose end may still be held open by others
    /// (a child's own children that inherited it).
    pub(crate) fn close_now(&self) {
        self.inner.connected.store(false, Ordering::Release);
        self.shutdown();
        self.mark_disconnected();
    }

    /// The peer is gone: nothing more can be written, and handles waiting
    /// for an answer never get one.
    pub(crate) fn mark_disconnected(&self) {
        let mut fin = Finished::new();
        self.inner.shut.store(true, Ordering::Release);
        self.inner.connected.store(false, Ordering::Release);
        self.inner.handles.lock().fail(&mut fin);
        run(fin);
    }
}

/// The same failure again, for a second party to hear about it.
fn same_error(e: &ChannelError) -> ChannelError {
    match e {
        ChannelError::Io(e) => ChannelError::Io(io::Error::new(e.kind(), e.to_string())),
        _ => ChannelError::Disconnected,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{socket, Channel, HandleKind};
    use crate::codec::{Limits, Mode};
    use std::net::TcpListener;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    /// What the peer reads in one go: bytes and descriptors.
    fn read_raw(peer: &UnixStream) -> (Vec<u8>, Vec<OwnedFd>) {
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = vec![0; 64 * 1024];
        let mut fds = Vec::new();
        let n = socket::recv_with_fds(peer, &mut buf, &mut fds).unwrap();
        buf.truncate(n);
        (buf, fds)
    }

    fn nothing_more(peer: &UnixStream) {
        peer.set_nonblocking(true).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut fds = Vec::new();
        let err = socket::recv_with_fds(peer, &mut [0; 16], &mut fds).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        peer.set_nonblocking(false).unwrap();
    }

    /// A channel on one end of a pair, its receiver running on a thread.
    fn channel_with_raw_peer() -> (super::Sender, UnixStream, std::thread::JoinHandle<()>) {
        let (ours, peer) = UnixStream::pair().unwrap();
        let channel = Channel::from_stream(ours, Mode::Json, Limits::default()).unwrap();
        let (sender, mut receiver) = channel.split();
        let reader =
            std::thread::spawn(
                move || while let Ok(Some(_)) = receiver.recv::<serde_json::Value>() {},
            );
        (sender, peer, reader)
    }

    #[test]
    fn internal_answers_do_not_wait_for_a_blocked_writer() {
        use std::io::Read;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let (ours, mut peer) = UnixStream::pair().unwrap();
        let sender = super::Sender::new(ours, Mode::Json);
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&asked);
        sender.set_resume_hook(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            true
        }));
        // A writer blocked on a full socket, holding the write lock.
        let mut big = vec![b'7'; 8 << 20];
        big.push(b'\n');
        let writer = {
            let sender = sender.clone();
            std::thread::spawn(move || sender.send_frames(&big))
        };
        std::thread::sleep(Duration::from_millis(100));
        // The answer neither waits for the lock nor for the socket: it is
        // queued and the writer thread asked to write it.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        {
            let sender = sender.clone();
            std::thread::spawn(move || {
                let res = sender.send_internal(&serde_json::json!({ "cmd": "NODE_HANDLE_ACK" }));
                let _ = done_tx.send(res.is_ok());
            });
        }
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        // Drain the big frame; the writer finishes, then the answer goes out
        // at the next write, whole, after the frame it did not cut.
        let mut got = vec![0u8; (8 << 20) + 1];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(got.last(), Some(&b'\n'));
        assert!(writer.join().unwrap().is_ok());
        sender.resume();
        let mut ack = [0u8; 26];
        peer.read_exact(&mut ack).unwrap();
        assert_eq!(&ack, b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n");
    }

    #[test]
    fn a_direct_write_cut_short_finishes_before_anything_else() {
        use super::Direct;
        use std::io::Read;
        let (ours, mut peer) = UnixStream::pair().unwrap();
        let sender = super::Sender::new(ours, Mode::Json);
        // More than the socket holds: only part of it goes at once.
        let mut big = vec![b'7'; 8 << 20];
        big.push(b'\n');
        assert_eq!(sender.try_send_frames_now(&big).unwrap(), Direct::Partial);
        // The socket is full and the rest is owed: a second direct write
        // is refused, and an internal answer waits behind the rest.
        assert_eq!(
            sender.try_send_frames_now(b"\"next\"\n").unwrap(),
            Direct::Refused
        );
        sender.set_resume_hook(Box::new(|| true));
        sender
            .send_internal(&serde_json::json!({ "cmd": "NODE_HANDLE_ACK" }))
            .unwrap();
        let flusher = {
            let sender = sender.clone();
            std::thread::spawn(move || sender.flush_pending())
        };
        let mut got = vec![0u8; big.len()];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(got, big);
        let mut ack = [0u8; 26];
        peer.read_exact(&mut ack).unwrap();
        assert_eq!(&ack, b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n");
        flusher.join().unwrap().unwrap();
        // Nothing owed: a small frame goes straight out.
        assert_eq!(
            sender.try_send_frames_now(b"\"next\"\n").unwrap(),
            Direct::Written
        );
        let mut next = [0u8; 7];
        peer.read_exact(&mut next).unwrap();
        assert_eq!(&next, b"\"next\"\n");
    }

    #[test]
    fn no_direct_write_overtakes_a_handle_awaiting_its_answer() {
        use super::Direct;
        let (sender, peer, reader) = channel_with_raw_peer();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _receipt = sender
            .send_with_handle(&1, &listener, HandleKind::NetServer)
            .unwrap();
        read_raw(&peer);
        assert_eq!(sender.try_send_frames_now(b"2\n").unwrap(), Direct::Refused);
        nothing_more(&peer);
        drop(peer);
        reader.join().unwrap();
    }

    #[test]
    fn messages_after_a_handle_wait_for_its_ack() {
        let (sender, peer, reader) = channel_with_raw_peer();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut receipt = sender
            .send_with_handle(
                &serde_json::json!({ "h": 1 }),
                &listener,
                HandleKind::NetServer,
            )
            .unwrap();
        sender.send(&"after").unwrap();
        let (bytes, fds) = read_raw(&peer);
        assert_eq!(
            bytes,
            b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Server\",\"msg\":{\"h\":1}}\n"
        );
        assert_eq!(fds.len(), 1);
        nothing_more(&peer);
        assert!(receipt.try_wait().is_none());
        (&peer)
            .write_all(b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n")
            .unwrap();
        assert_eq!(read_raw(&peer).0, b"\"after\"\n");
        assert!(matches!(
            receipt.wait_timeout(Duration::from_secs(5)),
            Some(Ok(()))
        ));
        drop(peer);
        reader.join().unwrap();
    }

    #[test]
    fn a_refused_handle_is_sent_again_three_times() {
        let (sender, peer, reader) = channel_with_raw_peer();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let receipt = sender
            .send_with_handle(&1, &listener, HandleKind::NetServer)
            .unwrap();
        sender.send(&"after").unwrap();
        for _ in 0..4 {
            let (bytes, fds) = read_raw(&peer);
            assert!(bytes.starts_with(b"{\"cmd\":\"NODE_HANDLE\""));
            assert_eq!(fds.len(), 1);
            (&peer)
                .write_all(b"{\"cmd\":\"NODE_HANDLE_NACK\"}\n")
                .unwrap();
        }
        assert_eq!(read_raw(&peer).0, b"\"after\"\n");
        assert!(matches!(
            receipt.wait(),
            Err(super::ChannelError::HandleRefused(HandleKind::NetServer))
        ));
        drop(peer);
        reader.join().unwrap();
    }

    #[test]
    fn disconnect_waits_for_held_frames() {
        let (sender, peer, reader) = channel_with_raw_peer();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let receipt = sender
            .send_with_handle(&1, &listener, HandleKind::NetServer)
            .unwrap();
        sender.send(&"last").unwrap();
        sender.disconnect();
        assert!(!sender.is_connected());
        read_raw(&peer);
        (&peer)
            .write_all(b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n")
            .unwrap();
        assert_eq!(read_raw(&peer).0, b"\"last\"\n");
        // Then the end of the stream.
        assert!(read_raw(&peer).0.is_empty());
        receipt.wait().unwrap();
        reader.join().unwrap();
    }

    use std::io::Write;
}
