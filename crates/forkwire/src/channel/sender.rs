//! The sending half: encodes under a lock so frames from several threads
//! never interleave on the socket.

use super::ChannelError;
use crate::codec::{self, Mode};
use parking_lot::Mutex;
use serde::Serialize;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Deferred bytes that force a write.
const DEFER_LIMIT: usize = 64 * 1024;

/// The sending half of a channel. Cheap to clone; every clone writes to the
/// same socket, one whole frame at a time.
#[derive(Clone, Debug)]
pub struct Sender {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    stream: UnixStream,
    mode: Mode,
    /// Frames encoded and not yet written (see [`Sender::send_deferred`]);
    /// holding the lock also serialises writes.
    buf: Mutex<Vec<u8>>,
    connected: AtomicBool,
}

impl Sender {
    pub(crate) fn new(stream: UnixStream, mode: Mode) -> Sender {
        Sender {
            inner: Arc::new(Inner {
                stream,
                mode,
                buf: Mutex::new(Vec::new()),
                connected: AtomicBool::new(true),
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
    /// Fails with [`ChannelError::Encode`] if the value cannot be written in
    /// this mode (nothing is sent), and with [`ChannelError::Disconnected`]
    /// once the channel is closed.
    pub fn send<T: Serialize + ?Sized>(&self, message: &T) -> Result<(), ChannelError> {
        let mut buf = self.inner.buf.lock();
        self.encode(&mut buf, message)?;
        self.flush_locked(&mut buf)
    }

    /// Encodes `message` behind any frames already waiting, and writes
    /// them all only once [`Sender::flush`] is called (or 64 KiB wait, or
    /// any thread calls [`Sender::send`]). Many replies then cost one
    /// write: call `flush` when there is nothing more to answer right now.
    pub fn send_deferred<T: Serialize + ?Sized>(&self, message: &T) -> Result<(), ChannelError> {
        let mut buf = self.inner.buf.lock();
        self.encode(&mut buf, message)?;
        if buf.len() >= DEFER_LIMIT {
            self.flush_locked(&mut buf)?;
        }
        Ok(())
    }

    /// Writes every deferred frame.
    pub fn flush(&self) -> Result<(), ChannelError> {
        let mut buf = self.inner.buf.lock();
        if buf.is_empty() {
            return Ok(());
        }
        self.flush_locked(&mut buf)
    }

    /// Writes bytes that already hold one or more complete frames in this
    /// channel's mode (framing included), after any deferred frames.
    pub fn send_frames(&self, frames: &[u8]) -> Result<(), ChannelError> {
        let mut buf = self.inner.buf.lock();
        if !buf.is_empty() {
            self.flush_locked(&mut buf)?;
        }
        self.write_locked(frames)
    }

    fn encode<T: Serialize + ?Sized>(
        &self,
        buf: &mut Vec<u8>,
        message: &T,
    ) -> Result<(), ChannelError> {
        codec::encode_frame(self.inner.mode, message, buf).map_err(ChannelError::Encode)
    }

    fn flush_locked(&self, buf: &mut Vec<u8>) -> Result<(), ChannelError> {
        let res = self.write_locked(buf);
        buf.clear();
        if buf.capacity() > 1 << 20 {
            *buf = Vec::new();
        }
        res
    }

    fn write_locked(&self, mut bytes: &[u8]) -> Result<(), ChannelError> {
        if !self.is_connected() {
            return Err(ChannelError::Disconnected);
        }
        while !bytes.is_empty() {
            // SAFETY: the pointer and length describe `bytes`.
            let n = unsafe {
                libc::send(
                    self.inner.stream.as_raw_fd(),
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::NotConnected => {
                        self.inner.connected.store(false, Ordering::Release);
                        return Err(ChannelError::Disconnected);
                    }
                    _ => return Err(ChannelError::Io(err)),
                }
            }
            bytes = &bytes[n as usize..];
        }
        Ok(())
    }

    /// Closes the channel in both directions, like `process.disconnect()`.
    /// Idempotent.
    pub fn disconnect(&self) {
        if self.inner.connected.swap(false, Ordering::AcqRel) {
            let _ = self.inner.stream.shutdown(std::net::Shutdown::Both);
        }
    }

    pub(crate) fn mark_disconnected(&self) {
        self.inner.connected.store(false, Ordering::Release);
    }
}
