//! The channel's error type.

use super::HandleKind;
use crate::codec::{CodecError, FrameError};
use std::fmt;
use std::io;
use std::os::fd::RawFd;

/// What can go wrong taking, reading or writing a channel.
#[derive(Debug)]
pub enum ChannelError {
    /// `NODE_CHANNEL_FD` is not set: this process was not started with an
    /// IPC channel (or the channel was already taken).
    NoChannel,
    /// `NODE_CHANNEL_FD` is not a descriptor number.
    BadDescriptor(String),
    /// The descriptor is not open.
    BadFd(RawFd, io::Error),
    /// The descriptor is open but is not a socket.
    NotASocket(RawFd),
    /// `NODE_CHANNEL_SERIALIZATION_MODE` names a mode Node does not have.
    UnknownMode(String),
    /// A frame was dropped (too large, or cut off at the end of input).
    /// The channel goes on with the next frame.
    Frame(FrameError),
    /// A frame arrived whole but could not be decoded. The channel goes on
    /// with the next frame.
    Decode(CodecError),
    /// A message could not be encoded; nothing was sent.
    Encode(CodecError),
    /// The channel is closed (disconnected by either side).
    Disconnected,
    /// The peer refused a passed handle (`NODE_HANDLE_NACK`) every time
    /// it was sent; the handle was closed on this side.
    HandleRefused(HandleKind),
    /// A socket call failed.
    Io(io::Error),
}

impl ChannelError {
    /// Whether the channel can still be used after this error.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            ChannelError::Frame(FrameError::TooLarge { .. })
                | ChannelError::Decode(_)
                | ChannelError::Encode(_)
                | ChannelError::HandleRefused(_)
        )
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::NoChannel => write!(
                f,
                "no IPC channel: NODE_CHANNEL_FD is not set (start this program with child_process.fork() or an 'ipc' stdio entry)"
            ),
            ChannelError::BadDescriptor(v) => {
                write!(f, "NODE_CHANNEL_FD is not a descriptor number: {v:?}")
            }
            ChannelError::BadFd(fd, e) => write!(f, "NODE_CHANNEL_FD={fd} is not usable: {e}"),
            ChannelError::NotASocket(fd) => write!(f, "NODE_CHANNEL_FD={fd} is not a socket"),
            ChannelError::UnknownMode(m) => {
                write!(f, "unknown NODE_CHANNEL_SERIALIZATION_MODE {m:?} (expected 'json' or 'advanced')")
            }
            ChannelError::Frame(e) => write!(f, "bad frame: {e}"),
            ChannelError::Decode(e) => write!(f, "bad message: {e}"),
            ChannelError::Encode(e) => write!(f, "cannot send message: {e}"),
            ChannelError::Disconnected => write!(f, "the channel is closed"),
            ChannelError::HandleRefused(kind) => {
                write!(f, "the peer did not take the {kind} handle sent to it")
            }
            ChannelError::Io(e) => write!(f, "channel I/O error: {e}"),
        }
    }
}

impl std::error::Error for ChannelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ChannelError::BadFd(_, e) | ChannelError::Io(e) => Some(e),
            ChannelError::Frame(e) => Some(e),
            ChannelError::Decode(e) | ChannelError::Encode(e) => Some(e),
            _ => None,
        }
    }
}
