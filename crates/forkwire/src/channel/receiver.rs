//! The receiving half: reads the socket, cuts frames, answers Node's
//! internal messages and hands user messages out.

use super::internal::{self, Internal};
use super::{socket, ChannelError, Sender};
use crate::codec::{self, FrameDecoder, Limits, Mode};
use serde::de::DeserializeOwned;
use std::io;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
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
    fds: Vec<OwnedFd>,
    eof: bool,
}

impl Receiver {
    pub(crate) fn new(stream: UnixStream, mode: Mode, limits: Limits, sender: Sender) -> Self {
        Receiver {
            stream,
            decoder: FrameDecoder::new(mode, limits),
            sender,
            fds: Vec::new(),
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
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ChannelError> {
        let mode = self.mode();
        match self.recv_frame()? {
            Some(frame) => codec::decode_frame(mode, frame)
                .map(Some)
                .map_err(ChannelError::Decode),
            None => Ok(None),
        }
    }

    /// Receives the next user frame undecoded (its payload, without the
    /// framing), for callers that route messages without decoding them
    /// fully. Same end-of-stream and error rules as [`Receiver::recv`].
    pub fn recv_frame(&mut self) -> Result<Option<&[u8]>, ChannelError> {
        let range = loop {
            match self.next_buffered()? {
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
        match self.next_buffered() {
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
    fn next_buffered(&mut self) -> Result<Option<std::ops::Range<usize>>, ChannelError> {
        loop {
            match self.decoder.next_range() {
                Some(Ok(range)) => {
                    let frame = self.decoder.frame(range.clone());
                    match internal::classify(self.decoder.mode(), frame) {
                        None => return Ok(Some(range)),
                        Some(kind) => self.answer_internal(kind)?,
                    }
                }
                Some(Err(e)) => return Err(ChannelError::Frame(e)),
                None => return Ok(None),
            }
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
        if kind == Internal::Handle {
            // Handles are refused: drop the descriptor that came with the
            // frame and tell the sender, which would otherwise hold back all
            // further messages waiting for an acknowledgement.
            if !self.fds.is_empty() {
                self.fds.remove(0);
            }
            match self.sender.send(&internal::handle_nack()) {
                Ok(()) | Err(ChannelError::Disconnected) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn fill(&mut self) -> Result<(), ChannelError> {
        let Receiver {
            stream,
            decoder,
            fds,
            ..
        } = self;
        let read = decoder.with_spare(|buf| socket::recv_with_fds(stream, buf, fds));
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
        if self.fds.len() > MAX_UNCLAIMED_FDS {
            self.fds.drain(..self.fds.len() - MAX_UNCLAIMED_FDS);
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
