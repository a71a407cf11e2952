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
//!
//! The plain receive paths ([`Receiver::recv`], [`Receiver::recv_frame`]
//! and their `try_` forms) take a `NODE_HANDLE` frame as a Node child
//! that ignores its handle does: `NODE_HANDLE_ACK`, the descriptor closed
//! at once, and the frame's `msg` member delivered as the message.

use super::handle::{Handle, HandleKind};
use super::internal::{self, HandleMeta, Internal};
use super::socket_list::SocketLists;
use super::{socket, ChannelError, Sender};
use crate::codec::{self, CodecError, FrameDecoder, Limits, Mode};
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// Descriptors kept waiting for the frame that claims them.
const MAX_UNCLAIMED_FDS: usize = 8;

/// A scratch buffer larger than this is released before it is reused, so
/// one large unwrapped message does not pin its memory.
const SCRATCH_KEEP: usize = 1 << 20;

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
    /// The `msg` of the last `NODE_HANDLE` frame unwrapped in advanced
    /// mode, re-encoded (see [`Receiver::recv_frame`]).
    scratch: Vec<u8>,
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
    /// A `NODE_HANDLE` frame whose handle was closed unused: its `msg` is
    /// the message.
    Unwrap(Range<usize>),
}

/// A message's payload and the handle that came with it.
pub(crate) type FrameWithHandle<'a> = (&'a [u8], Option<Handle>);

/// Where the bytes of a message to hand out are.
enum Payload {
    /// In the decoder's buffer.
    Frame(Range<usize>),
    /// In the receiver's scratch buffer.
    Scratch,
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
            scratch: Vec::new(),
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
    /// A message sent with a handle (`child.send(msg, handle)`) is taken
    /// as a Node child that does not use the handle takes it: answered
    /// `NODE_HANDLE_ACK`, its descriptor closed at once, and its message
    /// delivered. A `NODE_HANDLE` frame that brought no descriptor is
    /// answered `NODE_HANDLE_NACK` (the sender sends it again), and one
    /// whose message is itself internal is not delivered. Use
    /// [`Receiver::recv_with_handle`] to keep handles.
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
            Next::Unwrap(range) => {
                codec::decode_frame::<HandleMessage<T>>(mode, self.decoder.frame(range))
                    .map(|wrapper| Some((wrapper.msg, None)))
                    .map_err(ChannelError::Decode)
            }
        }
    }

    /// [`Receiver::recv_with_handle`] without decoding: the message's
    /// payload (for a `NODE_HANDLE` frame, its `msg` member alone, as
    /// [`Receiver::recv_frame`] gives it) and the handle, if one came.
    pub(crate) fn recv_frame_with_handle(
        &mut self,
    ) -> Result<Option<FrameWithHandle<'_>>, ChannelError> {
        let next = loop {
            match self.next_buffered(true)? {
                Some(next) => break next,
                None if self.eof => return Ok(None),
                None => self.fill()?,
            }
        };
        let (payload, handle) = match next {
            Next::Message(range) => (Payload::Frame(range), None),
            Next::Handle(range, handle) => (self.unwrap_msg(range)?, Some(handle)),
            Next::Unwrap(range) => (self.unwrap_msg(range)?, None),
        };
        Ok(Some((self.payload(payload), handle)))
    }

    /// Receives the next user frame undecoded (its payload, without the
    /// framing), for callers that route messages without decoding them
    /// fully. Same end-of-stream, error and handle rules as
    /// [`Receiver::recv`].
    ///
    /// For a message that came with a handle the payload is that of its
    /// `msg` member alone, as if it had been sent without one: in json
    /// mode the part of the frame that holds it, in advanced mode `msg`
    /// decoded and encoded again (V8's back-references are numbered from
    /// the start of a payload, so no part of the frame can stand alone).
    /// A frame whose `msg` cannot be cut out or re-encoded is a
    /// [`ChannelError::Decode`].
    pub fn recv_frame(&mut self) -> Result<Option<&[u8]>, ChannelError> {
        let payload = loop {
            match self.next_message()? {
                Some(payload) => break payload,
                None if self.eof => return Ok(None),
                None => self.fill()?,
            }
        };
        Ok(Some(self.payload(payload)))
    }

    /// The next user frame if one is already buffered, without blocking:
    /// `None` means a call to [`Receiver::recv_frame`] would have to wait
    /// for the socket (a good moment to flush replies). Same handle rules
    /// as [`Receiver::recv_frame`].
    pub fn try_recv_frame(&mut self) -> Option<Result<&[u8], ChannelError>> {
        match self.next_message() {
            Ok(Some(payload)) => Some(Ok(self.payload(payload))),
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
    /// Handles are taken if `accept`, else closed at once (and their
    /// messages handed out as [`Next::Unwrap`]).
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
                            if !accept {
                                if self.close_handle(&meta, fd)? {
                                    return Ok(Some(Next::Unwrap(range)));
                                }
                            } else if let Some(handle) = self.take_handle(meta, fd)? {
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

    /// The next buffered user message, closing handles unused.
    fn next_message(&mut self) -> Result<Option<Payload>, ChannelError> {
        match self.next_buffered(false)? {
            Some(Next::Message(range)) => Ok(Some(Payload::Frame(range))),
            Some(Next::Unwrap(range)) => self.unwrap_msg(range).map(Some),
            // Never taken here; were it, dropping it would close it.
            Some(Next::Handle(range, _)) => self.unwrap_msg(range).map(Some),
            None => Ok(None),
        }
    }

    /// Where the `msg` member of the `NODE_HANDLE` frame at `range` is:
    /// cut out of the frame in json mode, re-encoded into the scratch
    /// buffer in advanced mode.
    fn unwrap_msg(&mut self, range: Range<usize>) -> Result<Payload, ChannelError> {
        let frame = self.decoder.frame(range.clone());
        match self.decoder.mode() {
            Mode::Json => {
                let msg = json_msg(frame)?;
                let start = range.start + (msg.as_ptr() as usize - frame.as_ptr() as usize);
                Ok(Payload::Frame(start..start + msg.len()))
            }
            Mode::Advanced => {
                let value = codec::v8::decode(frame)
                    .map_err(|e| ChannelError::Decode(CodecError::V8(e)))?;
                // A message Node sends is never `undefined`; a peer that
                // leaves `msg` out sent that, as Node reads it.
                let msg = value.get("msg").unwrap_or(&codec::v8::Value::Undefined);
                if self.scratch.capacity() > SCRATCH_KEEP {
                    self.scratch = Vec::new();
                }
                self.scratch.clear();
                codec::v8::encode_into(msg, &mut self.scratch)
                    .map_err(|e| ChannelError::Decode(CodecError::V8(e)))?;
                Ok(Payload::Scratch)
            }
        }
    }

    /// The bytes of a message located by [`Receiver::next_message`].
    fn payload(&self, payload: Payload) -> &[u8] {
        match payload {
            Payload::Frame(range) => self.decoder.frame(range),
            Payload::Scratch => &self.scratch,
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

    /// Answers a `NODE_HANDLE` frame for a receiver that takes no handles,
    /// as a Node child whose code ignores the handle: with a descriptor,
    /// `NODE_HANDLE_ACK` and the descriptor closed (whatever its type: it
    /// is never used), and `true` if its message is for the user; without
    /// one, `NODE_HANDLE_NACK` (a retransmission may bring it) and
    /// `false`.
    fn close_handle(
        &mut self,
        meta: &HandleMeta,
        fd: Option<OwnedFd>,
    ) -> Result<bool, ChannelError> {
        let Some(fd) = fd else {
            self.reply(&internal::handle_nack())?;
            return Ok(false);
        };
        drop(fd);
        self.reply(&internal::handle_ack())?;
        // An internal `msg` goes to 'internalMessage' in Node; nothing here
        // takes it.
        Ok(!meta.internal_msg)
    }

    /// Answers a `NODE_HANDLE` frame; the handle if it was taken and is
    /// for the user.
    fn take_handle(
        &mut self,
        meta: HandleMeta,
        fd: Option<OwnedFd>,
    ) -> Result<Option<Handle>, ChannelError> {
        let (Some(fd), Some(kind)) = (fd, meta.kind) else {
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

/// The text of the `msg` member of a json `NODE_HANDLE` frame, borrowed
/// from the frame. A repeated member keeps its last value, as in
/// `JSON.parse`; escapes are not interpreted, so lone surrogates pass
/// through unchanged.
fn json_msg(frame: &[u8]) -> Result<&str, ChannelError> {
    struct Msg<'a>(&'a RawValue);

    impl<'de> serde::Deserialize<'de> for Msg<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Msg<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object with a msg member")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Msg<'de>, A::Error> {
                    let mut msg = None;
                    while let Some(name) = map.next_key::<Cow<'de, str>>()? {
                        if name == "msg" {
                            msg = Some(map.next_value::<&'de RawValue>()?);
                        } else {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    msg.map(Msg).ok_or_else(|| de::Error::missing_field("msg"))
                }
            }
            d.deserialize_map(V)
        }
    }

    serde_json::from_slice::<Msg>(frame)
        .map(|m| m.0.get())
        .map_err(|e| ChannelError::Decode(CodecError::Json(codec::json::JsonError::Parse(e))))
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

    /// A `NODE_HANDLE` frame written by `peer`, with `fd` attached to it.
    fn send_handle_frame(peer: &UnixStream, frame: &[u8], fd: &impl AsRawFd) {
        assert_eq!(
            socket::send_with_fd(peer, frame, fd.as_raw_fd()).unwrap(),
            frame.len()
        );
    }

    /// Reads `expected.len()` bytes of answers from `peer`.
    fn answers(peer: &UnixStream, expected: &str) {
        let mut got = vec![0u8; expected.len()];
        (&*peer).read_exact(&mut got).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }

    #[test]
    fn plain_recv_takes_the_message_and_closes_the_handle() {
        let (ours, peer) = UnixStream::pair().unwrap();
        let channel = Channel::from_stream(ours, Mode::Json, Limits::default()).unwrap();
        let (_out, mut channel) = channel.split();
        let (passed, passed_peer) = UnixStream::pair().unwrap();
        send_handle_frame(
            &peer,
            b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"n\":1}}\n",
            &passed,
        );
        drop(passed);
        (&peer).write_all(b"2\n").unwrap();
        assert_eq!(channel.recv::<Value>().unwrap(), Some(json!({ "n": 1 })));
        assert_eq!(channel.recv::<Value>().unwrap(), Some(json!(2)));
        // Closed here at once: its peer sees the end.
        let mut rest = Vec::new();
        (&passed_peer).read_to_end(&mut rest).unwrap();
        answers(&peer, "{\"cmd\":\"NODE_HANDLE_ACK\"}\n");

        // recv_frame lends the text of `msg` as it came (a lone surrogate
        // escape included; a repeated member keeps the last), whatever the
        // handle's type.
        let (passed, _passed_peer) = UnixStream::pair().unwrap();
        send_handle_frame(
            &peer,
            br#"{"cmd":"NODE_HANDLE","type":"net.Pipe","msg":0,"msg":{"s":"\ud800","a":[1, 2]}}
"#,
            &passed,
        );
        assert_eq!(
            channel.recv_frame().unwrap().unwrap(),
            br#"{"s":"\ud800","a":[1, 2]}"#
        );
        answers(&peer, "{\"cmd\":\"NODE_HANDLE_ACK\"}\n");

        // No descriptor: NACK, and nothing delivered (the sender sends it
        // again with one). An internal message: ACK, not delivered.
        (&peer)
            .write_all(b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":3}\n4\n")
            .unwrap();
        assert_eq!(channel.recv::<Value>().unwrap(), Some(json!(4)));
        answers(&peer, "{\"cmd\":\"NODE_HANDLE_NACK\"}\n");
        let (passed, passed_peer) = UnixStream::pair().unwrap();
        send_handle_frame(
            &peer,
            b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"cmd\":\"NODE_CLUSTER\"}}\n",
            &passed,
        );
        drop(passed);
        (&peer).write_all(b"6\n").unwrap();
        assert_eq!(channel.recv::<Value>().unwrap(), Some(json!(6)));
        (&passed_peer).read_to_end(&mut rest).unwrap();
        answers(&peer, "{\"cmd\":\"NODE_HANDLE_ACK\"}\n");
        assert!(channel.try_recv_frame().is_none());

        // A `NODE_HANDLE` frame without `msg` is a decode error, and the
        // channel goes on.
        let (passed, _passed_peer) = UnixStream::pair().unwrap();
        send_handle_frame(
            &peer,
            b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\"}\n5\n",
            &passed,
        );
        let err = channel.recv::<Value>().unwrap_err();
        assert!(err.is_recoverable(), "{err}");
        assert_eq!(channel.recv::<Value>().unwrap(), Some(json!(5)));
    }

    #[test]
    fn plain_recv_frame_reencodes_msg_in_advanced_mode() {
        use crate::codec::v8::{self, Value as V8};
        let (ours, peer) = UnixStream::pair().unwrap();
        let channel = Channel::from_stream(ours, Mode::Advanced, Limits::default()).unwrap();
        let (_out, mut channel) = channel.split();
        // `msg` holds one object twice: in the frame the second is a
        // back-reference by an id counted from the wrapper, so the bytes
        // of `msg` cannot be cut out as they are.
        let shared = V8::object([("x", V8::from(1))]);
        let msg = V8::object([
            ("a", shared.clone()),
            ("b", shared),
            ("u", V8::Undefined),
            ("m", V8::map([(V8::from(1), V8::from("a"))])),
        ]);
        let wrapper = V8::object([
            ("cmd", V8::from("NODE_HANDLE")),
            ("type", V8::from("net.Socket")),
            ("msg", msg.clone()),
        ]);
        let mut frame = Vec::new();
        crate::codec::encode_frame(Mode::Advanced, &wrapper, &mut frame).unwrap();
        let (passed, passed_peer) = UnixStream::pair().unwrap();
        send_handle_frame(&peer, &frame, &passed);
        drop(passed);
        let expected = v8::encode(&msg).unwrap();
        let got = channel.recv_frame().unwrap().unwrap();
        assert_eq!(got, &expected[..]);
        let back = v8::decode(got).unwrap();
        assert!(back.get("a").unwrap().same_object(back.get("b").unwrap()));
        let mut rest = Vec::new();
        (&passed_peer).read_to_end(&mut rest).unwrap();
        let mut answer = Vec::new();
        crate::codec::encode_frame(
            Mode::Advanced,
            &json!({ "cmd": "NODE_HANDLE_ACK" }),
            &mut answer,
        )
        .unwrap();
        let mut got = vec![0u8; answer.len()];
        (&peer).read_exact(&mut got).unwrap();
        assert_eq!(got, answer);
        // A plain frame after it is lent from the decoder again.
        let mut plain = Vec::new();
        crate::codec::encode_frame(Mode::Advanced, &json!([1]), &mut plain).unwrap();
        (&peer).write_all(&plain).unwrap();
        assert_eq!(channel.recv_frame().unwrap().unwrap(), &plain[4..]);
    }
}
