//! The socket of Node's IPC channel, from either end.
//!
//! A [`Channel`] is one end of the `AF_UNIX` stream that `fork()` sets up.
//! A child takes its end from the environment with [`Channel::from_env`];
//! a parent gets one from [`crate::process::Command::spawn`]. Split it into a
//! [`Sender`], which any number of threads may clone and use at once, and a
//! [`Receiver`], which one thread drains.
//!
//! Node's internal `NODE_*` messages are answered here and never reach the
//! user. Disconnecting is closing the socket, as in Node: there is no
//! goodbye message.
//!
//! Handles (sockets and servers) cross the channel as with
//! `child.send(msg, handle)`: [`Sender::send_with_handle`] passes one,
//! [`Receiver::recv_with_handle`] takes them (see [`Handle`]).

mod error;
mod handle;
mod internal;
mod receiver;
mod sender;
pub(crate) mod socket;
mod socket_list;

pub use error::ChannelError;
pub use handle::{handle_frame, Handle, HandleKind, HandleReceipt};
pub(crate) use handle::{wrap_json_frame, HandleDone};
pub use receiver::{Incoming, Receiver};
pub(crate) use sender::Direct;
pub use sender::Sender;

use crate::codec::{Limits, Mode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// The environment variable naming the channel's descriptor.
pub const ENV_FD: &str = "NODE_CHANNEL_FD";
/// The environment variable naming the serialization mode.
pub const ENV_MODE: &str = "NODE_CHANNEL_SERIALIZATION_MODE";

/// Both halves of one end of the channel.
///
/// ```no_run
/// # fn main() -> Result<(), forkwire::ChannelError> {
/// let mut channel = forkwire::Channel::from_env()?;
/// channel.send(&serde_json::json!({ "type": "ready" }))?;
/// for msg in channel.incoming::<serde_json::Value>() {
///     println!("got {}", msg?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Channel {
    sender: Sender,
    receiver: Receiver,
}

impl Channel {
    /// Takes the channel a Node parent (or a forkwire parent) set up for
    /// this process.
    ///
    /// Reads `NODE_CHANNEL_FD` and `NODE_CHANNEL_SERIALIZATION_MODE`, checks
    /// that the descriptor is a socket, marks it close-on-exec and removes
    /// both variables from the environment, as a Node child does, so that
    /// this process's own children do not inherit the channel. Call it early,
    /// before starting threads that read the environment. A second call
    /// fails with [`ChannelError::NoChannel`].
    pub fn from_env() -> Result<Channel, ChannelError> {
        Self::from_env_with(Limits::default())
    }

    /// [`Channel::from_env`] with explicit frame limits.
    pub fn from_env_with(limits: Limits) -> Result<Channel, ChannelError> {
        let raw = std::env::var(ENV_FD).map_err(|_| ChannelError::NoChannel)?;
        let fd: RawFd = raw
            .trim()
            .parse()
            .ok()
            .filter(|fd| *fd >= 0)
            .ok_or_else(|| ChannelError::BadDescriptor(raw.clone()))?;
        let mode_name = std::env::var(ENV_MODE).unwrap_or_default();
        let mode = Mode::parse(&mode_name).ok_or(ChannelError::UnknownMode(mode_name))?;
        match socket::is_socket(fd) {
            Ok(true) => {}
            Ok(false) => return Err(ChannelError::NotASocket(fd)),
            Err(e) => return Err(ChannelError::BadFd(fd, e)),
        }
        socket::set_cloexec(fd, true).map_err(|e| ChannelError::BadFd(fd, e))?;
        std::env::remove_var(ENV_FD);
        std::env::remove_var(ENV_MODE);
        // SAFETY: the parent handed this descriptor to us alone, and removing
        // the variable above makes sure it is taken only once.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Self::from_stream(UnixStream::from(owned), mode, limits)
    }

    /// Wraps one end of an already connected stream socket.
    pub fn from_stream(
        stream: UnixStream,
        mode: Mode,
        limits: Limits,
    ) -> Result<Channel, ChannelError> {
        let write_half = stream.try_clone().map_err(ChannelError::Io)?;
        let sender = Sender::new(write_half, mode);
        let receiver = Receiver::new(stream, mode, limits, sender.clone());
        Ok(Channel { sender, receiver })
    }

    /// The serialization mode of this channel.
    pub fn mode(&self) -> Mode {
        self.sender.mode()
    }

    /// Sends one message. See [`Sender::send`].
    pub fn send<T: Serialize + ?Sized>(&self, message: &T) -> Result<(), ChannelError> {
        self.sender.send(message)
    }

    /// Receives the next message; `Ok(None)` once the peer disconnected.
    /// See [`Receiver::recv`].
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ChannelError> {
        self.receiver.recv()
    }

    /// Sends one message with a handle. See [`Sender::send_with_handle`].
    pub fn send_with_handle<T: Serialize + ?Sized>(
        &self,
        message: &T,
        handle: impl AsFd,
        kind: HandleKind,
    ) -> Result<HandleReceipt, ChannelError> {
        self.sender.send_with_handle(message, handle, kind)
    }

    /// Receives the next message and the handle that came with it.
    /// See [`Receiver::recv_with_handle`].
    pub fn recv_with_handle<T: DeserializeOwned>(
        &mut self,
    ) -> Result<Option<(T, Option<Handle>)>, ChannelError> {
        self.receiver.recv_with_handle()
    }

    /// Iterates over incoming messages until the peer disconnects.
    pub fn incoming<T: DeserializeOwned>(&mut self) -> Incoming<'_, T> {
        self.receiver.incoming()
    }

    /// A sender for this channel, to move to other threads.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// Splits the channel into its halves.
    pub fn split(self) -> (Sender, Receiver) {
        (self.sender, self.receiver)
    }

    /// Closes the channel, as `process.disconnect()` does: the peer sees the
    /// end of the stream; reads in progress here end with `Ok(None)`.
    pub fn disconnect(&self) {
        self.sender.disconnect();
    }
}
