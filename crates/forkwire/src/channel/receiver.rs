//! The receiving half: reads the socket, cuts frames, answers Node's
//! internal messages and hands user messages out, with the handles that
//! came with them.
//!
//! Each descriptor is kept with the stream offsets of the read that
//! brought it. The kernel ends a read after the write that carried a
//! descriptor, and a sender attaches the descriptor to its frame's first
//! byte, so a `NODE_HANDLE` frame claims the oldest descriptor whose read
//! holds its first byte (a sender holds its next handle back until this
//! one is answered, so two never share a read); descriptors that no frame
//! can claim any more are closed.

use super::handle::{Handle, HandleKind};
use super::internal::{self, HandleMeta, Internal};
use super::socket_list::SocketLists;
use super::{socket, ChannelError, Sender};
use crate::codec::{self, FrameDecoder, Limits, Mode};
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::io;
use std::marker::PhantomData;
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// Descriptors kept waiting for the frame that claims them.
const MAX_UNCLAIMED_FDS: usize = 8;

/// The receiving half of a channel. One thread owns it.
#[derive(Debug)]
pub struct Receiver {
    stream: UnixStream,
    decoder: FrameDecoder,
    sender: Sender,
    /// Descriptors received and not yet claimed by a frame.
    fds: VecDeque<Arrived>,
    /// Bytes read from the socket so far: the stream offset of the next.
    read_total: u64,
    /// Sockets handed over by a Node `net.Server`, by its key.
    sockets: SocketLists,
    eof: bool,
}

/// A received descriptor and the stream offsets `from..to` of the read
/// that brought it.
#[derive(Debug)]
struct Arrived {
    fd: OwnedFd,
    from: u64,
    to: u64,
}

/// The next frame to hand out.
enum Next {
    Message(Range<usize>),
    /// A `NODE_HANDLE` frame whose handle was taken.
    Handle(Range<usize>, Handle),
}

/// The part of a `NODE_HANDLE` frame the user gets besides the handle.
#[derive(serde::Deserialize)]
struct HandleMessage<T> {
    msg: T,
}

impl Receiver {
    pub(crate) fn new(stream: UnixStream, mode: Mode, limits: Limits, sender: Sender) -> Self {
        Receiver {
            stream,
            decoder: FrameDecoder::new(mode, limits),
            sockets: SocketLists::new(sender.clone()),
            sender,
            fds: VecDeque::new(),
            read_total: 0,
            eof: false,
        }
    }

    /// The serialization mode frames are read in.
    pub fn mode(&self) -> Mode {
        self.decoder.mode()
    }

    /// Receives the next message and decodes it into `T`.
    ///
    /// Blocks until a whole frame is there. Returns `Ok(None)` once the
    /// channel is closed, and after that forever. A frame that does not
    /// decode, or is too large, is an `Err` that
    /// [`ChannelError::is_recoverable`]: call again for the next message.
    /// A frame cut off by the end of the stream is reported once as
    /// [`ChannelError::Frame`] before `Ok(None)`.
    ///
    /// A message sent with a handle (`child.send(msg, handle)`) is refused
    /// here with `NODE_HANDLE_NACK` and its descriptor closed, so a Node
    /// sender retries three times, then warns and closes the handle; use
    /// [`Receiver::recv_with_handle`] to take handles.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ChannelError> {
        let mode = self.mode();
        match self.recv_frame()? {
            Some(frame) => codec::decode_frame(mode, frame)
                .map(Some)
                .map_err(ChannelError::Decode),
            None => Ok(None),
        }
    }

    /// Receives the next message and the handle that came with it, if
    /// any, like a Node child's `process.on('message', (msg, handle) =>
    /// ...)`.
    ///
    /// A `NODE_HANDLE` frame is answered `NODE_HANDLE_ACK` as soon as its
    /// descriptor is taken, and the message is its `msg` member. It is
    /// answered `NODE_HANDLE_NACK` (and its descriptor, if any, closed)
    /// when no descriptor came with it or its `type` is not one Node has.
    /// If `msg` does not decode as `T` the handle is closed and the error
    /// returned. Same end-of-stream and error rules as [`Receiver::recv`].
    /// See [`Handle`] on blocking mode.
    pub fn recv_with_handle<T: DeserializeOwned>(
        &mut self,
    ) -> Result<Option<(T, Option<Handle>)>, ChannelError> {
        let mode = self.mode();
        let next = loop {
            match self.next_buffered(true)? {
                Some(next) => break next,
                None if self.eof => return Ok(None),
                None => self.fill()?,
            }
        };
        match next {
            Next::Message(range) => codec::decode_frame(mode, self.decoder.frame(range))
                .map(|msg| Some((msg, None)))
                .map_err(ChannelError::Decode),
            Next::Handle(range, handle) => {
                codec::decode_frame::<HandleMessage<T>>(mode, self.decoder.frame(range))
                    .map(|wrapper| Some((wrapper.msg, Some(handle))))
                    .map_err(ChannelError::Decode)
            }
        }
    }

    /// Receives the next user frame undecoded (its payload, without the
    /// framing), for callers that route messages without decoding them
    /// fully. Same end-of-stream, error and handle rules as
    /// [`Receiver::recv`].
    pub fn recv_frame(&mut self) -> Result<Option<&[u8]>, ChannelError> {
        let range = loop {
            match self.next_message()? {
                Some(range) => break range,
                None if self.eof => return Ok(None),
                None => self.fill()?,
            }
        };
        Ok(Some(self.decoder.frame(range)))
    }

    /// The next user frame if one is already buffered, without blocking:
    /// `None` means a call to [`Receiver::recv_frame`] would have to wait
    /// for the socket (a good moment to flush replies).
    pub fn try_recv_frame(&mut self) -> Option<Result<&[u8], ChannelError>> {
        match self.next_message() {
            Ok(Some(range)) => Some(Ok(self.decoder.frame(range))),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// [`Receiver::try_recv_frame`], decoded into `T`.
    pub fn try_recv<T: DeserializeOwned>(&mut self) -> Option<Result<T, ChannelError>> {
        let mode = self.mode();
        Some(
            self.try_recv_frame()?
                .and_then(|frame| codec::decode_frame(mode, frame).map_err(ChannelError::Decode)),
        )
    }

    /// The next buffered user frame, answering internal ones on the way.
    /// Handles are taken if `accept`, else refused.
    fn next_buffered(&mut self, accept: bool) -> Result<Option<Next>, ChannelError> {
        loop {
            let start = self.read_total - self.decoder.pending() as u64;
            match self.decoder.next_range() {
                Some(Ok(range)) => {
                    self.close_stray_fds(start);
                    let frame = self.decoder.frame(range.clone());
                    match internal::classify(self.decoder.mode(), frame) {
                        None => return Ok(Some(Next::Message(range))),
                        Some(Internal::Handle(meta)) => {
                            let fd = self.claim_fd(start);
                            if let Some(handle) = self.take_handle(accept, meta, fd)? {
                                return Ok(Some(Next::Handle(range, handle)));
                            }
                        }
                        Some(kind) => self.answer_internal(kind)?,
                    }
                }
                Some(Err(e)) => return Err(ChannelError::Frame(e)),
                None => return Ok(None),
            }
        }
    }

    /// The next buffered user frame, refusing handles.
    fn next_message(&mut self) -> Result<Option<Range<usize>>, ChannelError> {
        loop {
            match self.next_buffered(false)? {
                Some(Next::Message(range)) => return Ok(Some(range)),
                // Not taken when refusing; a handle here would just close.
                Some(Next::Handle(..)) => continue,
                None => return Ok(None),
            }
        }
    }

    /// Closes descriptors whose read ended before `start`: no frame from
    /// here on can claim them.
    fn close_stray_fds(&mut self, start: u64) {
        while self.fds.front().is_some_and(|a| a.to <= start) {
            self.fds.pop_front();
        }
    }

    /// The descriptor of the frame starting at `start`, if one came.
    fn claim_fd(&mut self, start: u64) -> Option<OwnedFd> {
        match self.fds.front() {
            Some(a) if a.from <= start => self.fds.pop_front().map(|a| a.fd),
            _ => None,
        }
    }

    /// Answers a `NODE_HANDLE` frame; the handle if it was taken and is
    /// for the user.
    fn take_handle(
        &mut self,
        accept: bool,
        meta: HandleMeta,
        fd: Option<OwnedFd>,
    ) -> Result<Option<Handle>, ChannelError> {
        let (true, Some(fd), Some(kind)) = (accept, fd, meta.kind) else {
            // Refused: the descriptor, if any, closes here.
            self.reply(&internal::handle_nack())?;
            return Ok(None);
        };
        let handle = Handle::from_fd(fd, kind);
        self.reply(&internal::handle_ack())?;
        if meta.internal_msg {
            // Node emits it as 'internalMessage' (the cluster module's);
            // nothing here takes it.
            return Ok(None);
        }
        if let (Some(key), HandleKind::NetSocket) = (meta.key, kind) {
            self.sockets.add(key, handle.as_fd());
        }
        Ok(Some(handle))
    }

    /// Writes an answer to the peer's internal message; a peer already
    /// gone needs none.
    fn reply(&self, message: &serde_json::Value) -> Result<(), ChannelError> {
        match self.sender.send_internal(message) {
            Ok(()) | Err(ChannelError::Disconnected) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Iterates over incoming messages until the channel closes. Each item
    /// is one message or one recoverable error.
    pub fn incoming<T: DeserializeOwned>(&mut self) -> Incoming<'_, T> {
        Incoming {
            receiver: self,
            marker: PhantomData,
        }
    }

    /// A sender for the same channel.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    fn answer_internal(&mut self, kind: Internal) -> Result<(), ChannelError> {
        match kind {
            Internal::Ack => self.sender.answered(true),
            Internal::Nack => self.sender.answered(false),
            Internal::SocketNotifyClose(key) => self.sockets.notify_close(&key),
            Internal::SocketGetCount(key) => self.sockets.get_count(&key),
            Internal::Handle(_) | Internal::Other => {}
        }
        Ok(())
    }

    fn fill(&mut self) -> Result<(), ChannelError> {
        let Receiver {
            stream, decoder, ..
        } = self;
        let mut got = Vec::new();
        let read = decoder.with_spare(|buf| socket::recv_with_fds(stream, buf, &mut got));
        let from = self.read_total;
        if let Ok(n) = read {
            self.read_total += n as u64;
        }
        let to = self.read_total;
        self.fds
            .extend(got.into_iter().map(|fd| Arrived { fd, from, to }));
        match read {
            Ok(0) => self.close(),
            Ok(_) => Ok(()),
            Err(e) if is_disconnect(&e) => self.close(),
            Err(e) => {
                // Anything else leaves the stream in an unknown state: report
                // it once, then behave as closed.
                self.eof = true;
                self.sender.mark_disconnected();
                Err(ChannelError::Io(e))
            }
        }?;
        // A peer that attaches descriptors to frames that never claim them
        // must not make us hold them forever.
        while self.fds.len() > MAX_UNCLAIMED_FDS {
            self.fds.pop_front();
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), ChannelError> {
        self.eof = true;
        self.sender.mark_disconnected();
        self.fds.clear();
        self.decoder.finish().map_err(ChannelError::Frame)
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::NotConnected
    )
}

/// Iterator over a receiver's messages; see [`Receiver::incoming`].
#[derive(Debug)]
pub struct Incoming<'a, T> {
    receiver: &'a mut Receiver,
    marker: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Iterator for Incoming<'_, T> {
    type Item = Result<T, ChannelError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.receiver.recv().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{socket, Channel, Handle};
    use crate::codec::{Limits, Mode};
    use serde_json::{json, Value};
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn each_handle_frame_gets_the_descriptor_sent_with_it() {
        let (ours, peer) = UnixStream::pair().unwrap();
        let mut channel = Channel::from_stream(ours, Mode::Json, Limits::default()).unwrap();
        // A stray descriptor on a plain message: closed, never handed out.
        let (stray, stray_peer) = UnixStream::pair().unwrap();
        let plain = b"{\"a\":1}\n";
        assert_eq!(
            socket::send_with_fd(&peer, plain, stray.as_raw_fd()).unwrap(),
            plain.len()
        );
        drop(stray);
        // A handle frame split over two writes, the descriptor on the first.
        let (passed, mut passed_peer) = UnixStream::pair().unwrap();
        let frame = b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"b\":2}}\n";
        let n = socket::send_with_fd(&peer, &frame[..10], passed.as_raw_fd()).unwrap();
        assert_eq!(n, 10);
        drop(passed);
        (&peer).write_all(&frame[10..]).unwrap();
        let (msg, handle) = channel.recv_with_handle::<Value>().unwrap().unwrap();
        assert_eq!((msg, handle.is_none()), (json!({ "a": 1 }), true));
        let (msg, handle) = channel.recv_with_handle::<Value>().unwrap().unwrap();
        assert_eq!(msg, json!({ "b": 2 }));
        let Some(Handle::UnixStream(mut got)) = handle else {
            panic!("expected a UnixStream, got {handle:?}");
        };
        got.write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        passed_peer.read_exact(&mut one).unwrap();
        assert_eq!(&one, b"x");
        // The stray descriptor was closed here: its peer sees the end.
        let mut rest = Vec::new();
        (&stray_peer).read_to_end(&mut rest).unwrap();

        // A handle frame with no descriptor (a descriptor the kernel could
        // not install, say), then one of a type Node lacks: both refused.
        (&peer)
            .write_all(b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":3}\n{\"c\":4}\n")
            .unwrap();
        let (msg, handle) = channel.recv_with_handle::<Value>().unwrap().unwrap();
        assert_eq!((msg, handle.is_none()), (json!({ "c": 4 }), true));
        let (odd, odd_peer) = UnixStream::pair().unwrap();
        let frame = b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Pipe\",\"msg\":5}\n";
        socket::send_with_fd(&peer, frame, odd.as_raw_fd()).unwrap();
        drop(odd);
        (&peer).write_all(b"{\"d\":6}\n").unwrap();
        let (msg, handle) = channel.recv_with_handle::<Value>().unwrap().unwrap();
        assert_eq!((msg, handle.is_none()), (json!({ "d": 6 }), true));
        (&odd_peer).read_to_end(&mut rest).unwrap();

        // ACK for the one taken, NACK for the two refused.
        let expected = "{\"cmd\":\"NODE_HANDLE_ACK\"}\n{\"cmd\":\"NODE_HANDLE_NACK\"}\n{\"cmd\":\"NODE_HANDLE_NACK\"}\n";
        let mut answers = vec![0u8; expected.len()];
        (&peer).read_exact(&mut answers).unwrap();
        assert_eq!(String::from_utf8_lossy(&answers), expected);
    }

    #[test]
    fn plain_recv_refuses_handles() {
        let (ours, peer) = UnixStream::pair().unwrap();
        let mut channel = Channel::from_stream(ours, Mode::Json, Limits::default()).unwrap();
        let (passed, passed_peer) = UnixStream::pair().unwrap();
        let frame = b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":1}\n";
        socket::send_with_fd(&peer, frame, passed.as_raw_fd()).unwrap();
        drop(passed);
        (&peer).write_all(b"2\n").unwrap();
        assert_eq!(channel.recv::<Value>().unwrap(), Some(json!(2)));
        let mut rest = Vec::new();
        (&passed_peer).read_to_end(&mut rest).unwrap();
        let mut answer = [0u8; 27];
        (&peer).read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"{\"cmd\":\"NODE_HANDLE_NACK\"}\n");
    }
}
