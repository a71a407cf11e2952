//! Handles that cross the channel with a message, as `child.send(msg,
//! handle)` passes them: what Node calls them ([`HandleKind`]), what a
//! received descriptor becomes on this side ([`Handle`]), and the answer a
//! sender waits for ([`HandleReceipt`]).
//!
//! A received handle keeps the file status flags its sender gave it. A
//! socket from Node is non-blocking, and that flag belongs to the open
//! file description that every process holding the socket shares: turning
//! it off here turns it off for the sender too. That is harmless for a
//! `net.Socket` sent without `keepOpen` (the sender closes its copy), but a
//! Node parent that keeps a passed `net.Server` listening would block its
//! event loop in `accept`. Wait for readiness (`poll`, mio, tokio) instead
//! of calling `set_nonblocking(false)` on anything the sender still holds.

use super::socket;
use super::ChannelError;
use crate::codec::{self, CodecError, Mode};
use parking_lot::{Condvar, Mutex};
use serde::Serialize;
use std::fmt;
use std::io;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What kind of handle a `NODE_HANDLE` frame carries: its `type` member,
/// which tells a Node receiver what object to build around the descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandleKind {
    /// `net.Server`: a listening TCP or Unix socket; Node builds a
    /// `net.Server` on it.
    NetServer,
    /// `net.Socket`: a connected TCP or Unix stream; Node builds a
    /// `net.Socket`.
    NetSocket,
    /// `net.Native`: a raw TCP or pipe handle; Node hands over the native
    /// handle object itself.
    NetNative,
    /// `dgram.Socket`: a bound UDP socket; Node builds a `dgram.Socket`
    /// (the frame also carries `dgramType`, `udp4` or `udp6`).
    DgramSocket,
    /// `dgram.Native`: a raw UDP handle.
    DgramNative,
}

impl HandleKind {
    /// Node's name for it, as written in the frame's `type` member.
    pub fn as_str(self) -> &'static str {
        match self {
            HandleKind::NetServer => "net.Server",
            HandleKind::NetSocket => "net.Socket",
            HandleKind::NetNative => "net.Native",
            HandleKind::DgramSocket => "dgram.Socket",
            HandleKind::DgramNative => "dgram.Native",
        }
    }

    /// Parses Node's name; `None` for a type Node does not have.
    pub fn parse(name: &str) -> Option<HandleKind> {
        Some(match name {
            "net.Server" => HandleKind::NetServer,
            "net.Socket" => HandleKind::NetSocket,
            "net.Native" => HandleKind::NetNative,
            "dgram.Socket" => HandleKind::DgramSocket,
            "dgram.Native" => HandleKind::DgramNative,
            _ => return None,
        })
    }

    /// The kind that fits a socket: a listening stream socket is a
    /// `net.Server`, any other stream socket a `net.Socket`, a UDP socket
    /// a `dgram.Socket`. Fails for what Node could not take.
    pub fn of(fd: impl AsFd) -> io::Result<HandleKind> {
        let shape = Shape::of(fd.as_fd())?;
        match (shape.domain, shape.ty) {
            (libc::AF_INET | libc::AF_INET6 | libc::AF_UNIX, libc::SOCK_STREAM) => {
                Ok(if shape.listening {
                    HandleKind::NetServer
                } else {
                    HandleKind::NetSocket
                })
            }
            (libc::AF_INET | libc::AF_INET6, libc::SOCK_DGRAM) => Ok(HandleKind::DgramSocket),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only TCP, Unix stream and UDP sockets can be passed to Node",
            )),
        }
    }
}

impl fmt::Display for HandleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A handle received with a message (see
/// [`Receiver::recv_with_handle`](super::Receiver::recv_with_handle)),
/// as the std type that fits the socket.
///
/// ```no_run
/// use forkwire::channel::Handle;
/// use std::io::Write;
///
/// let mut channel = forkwire::Channel::from_env()?;
/// while let Some((msg, handle)) = channel.recv_with_handle::<serde_json::Value>()? {
///     if let Some(Handle::TcpStream(mut conn)) = handle {
///         // Sent without keepOpen: the sender closed its copy.
///         conn.set_nonblocking(false)?;
///         conn.write_all(b"hello from Rust\n")?;
///     }
///     println!("{msg}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum Handle {
    /// A connected TCP socket (`net.Socket` from a TCP server or client).
    TcpStream(TcpStream),
    /// A listening TCP socket (`net.Server`).
    TcpListener(TcpListener),
    /// A connected Unix stream socket (`net.Socket` over a pipe).
    UnixStream(UnixStream),
    /// A listening Unix stream socket (`net.Server` on a path).
    UnixListener(UnixListener),
    /// A UDP socket (`dgram.Socket`).
    UdpSocket(UdpSocket),
    /// Any other descriptor, with the type its sender gave it.
    Other {
        /// The descriptor.
        fd: OwnedFd,
        /// The `type` member of its frame.
        kind: HandleKind,
    },
}

impl Handle {
    /// Wraps a received descriptor in the type that fits the socket.
    pub(crate) fn from_fd(fd: OwnedFd, kind: HandleKind) -> Handle {
        let Ok(shape) = Shape::of(fd.as_fd()) else {
            return Handle::Other { fd, kind };
        };
        match (shape.domain, shape.ty, shape.listening) {
            (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM, false) => {
                Handle::TcpStream(TcpStream::from(fd))
            }
            (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM, true) => {
                Handle::TcpListener(TcpListener::from(fd))
            }
            (libc::AF_UNIX, libc::SOCK_STREAM, false) => Handle::UnixStream(UnixStream::from(fd)),
            (libc::AF_UNIX, libc::SOCK_STREAM, true) => {
                Handle::UnixListener(UnixListener::from(fd))
            }
            (libc::AF_INET | libc::AF_INET6, libc::SOCK_DGRAM, _) => {
                Handle::UdpSocket(UdpSocket::from(fd))
            }
            _ => Handle::Other { fd, kind },
        }
    }

    /// The kind to pass this handle on as: `net.Socket` for streams,
    /// `net.Server` for listeners, `dgram.Socket` for UDP, and the
    /// sender's own kind for anything else.
    pub fn kind(&self) -> HandleKind {
        match self {
            Handle::TcpStream(_) | Handle::UnixStream(_) => HandleKind::NetSocket,
            Handle::TcpListener(_) | Handle::UnixListener(_) => HandleKind::NetServer,
            Handle::UdpSocket(_) => HandleKind::DgramSocket,
            Handle::Other { kind, .. } => *kind,
        }
    }
}

impl AsFd for Handle {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Handle::TcpStream(s) => s.as_fd(),
            Handle::TcpListener(s) => s.as_fd(),
            Handle::UnixStream(s) => s.as_fd(),
            Handle::UnixListener(s) => s.as_fd(),
            Handle::UdpSocket(s) => s.as_fd(),
            Handle::Other { fd, .. } => fd.as_fd(),
        }
    }
}

impl From<Handle> for OwnedFd {
    fn from(handle: Handle) -> OwnedFd {
        match handle {
            Handle::TcpStream(s) => s.into(),
            Handle::TcpListener(s) => s.into(),
            Handle::UnixStream(s) => s.into(),
            Handle::UnixListener(s) => s.into(),
            Handle::UdpSocket(s) => s.into(),
            Handle::Other { fd, .. } => fd,
        }
    }
}

/// Domain, type and listening state of a socket.
struct Shape {
    domain: i32,
    ty: i32,
    listening: bool,
}

impl Shape {
    fn of(fd: BorrowedFd<'_>) -> io::Result<Shape> {
        Ok(Shape {
            domain: socket::sockopt_int(fd.as_raw_fd(), libc::SO_DOMAIN)?,
            ty: socket::sockopt_int(fd.as_raw_fd(), libc::SO_TYPE)?,
            listening: socket::sockopt_int(fd.as_raw_fd(), libc::SO_ACCEPTCONN)? != 0,
        })
    }
}

/// `udp4` or `udp6` for a UDP socket: the `dgramType` Node needs to
/// rebuild a `dgram.Socket`.
pub(crate) fn dgram_type(fd: BorrowedFd<'_>) -> &'static str {
    match socket::sockopt_int(fd.as_raw_fd(), libc::SO_DOMAIN) {
        Ok(libc::AF_INET6) => "udp6",
        _ => "udp4",
    }
}

/// The `NODE_HANDLE` frame around `message`, in `mode`, framing included:
/// `{cmd: 'NODE_HANDLE', type, msg}` (plus `dgramType` for a
/// `dgram.Socket`), members in Node's order. `fd` is only read for
/// `dgramType`.
pub fn handle_frame<T: Serialize + ?Sized>(
    mode: Mode,
    message: &T,
    kind: HandleKind,
    fd: impl AsFd,
) -> Result<Vec<u8>, CodecError> {
    #[derive(Serialize)]
    struct Wrapper<'a, T: ?Sized> {
        cmd: &'static str,
        #[serde(rename = "type")]
        kind: &'static str,
        msg: &'a T,
        #[serde(rename = "dgramType", skip_serializing_if = "Option::is_none")]
        dgram_type: Option<&'static str>,
    }
    let dgram_type = (kind == HandleKind::DgramSocket).then(|| dgram_type(fd.as_fd()));
    let mut frame = Vec::new();
    codec::encode_frame(
        mode,
        &Wrapper {
            cmd: "NODE_HANDLE",
            kind: kind.as_str(),
            msg: message,
            dgram_type,
        },
        &mut frame,
    )?;
    Ok(frame)
}

/// Wraps a json-mode frame (newline included) as the `msg` of a
/// `NODE_HANDLE` frame, without decoding it.
pub(crate) fn wrap_json_frame(inner: &[u8], kind: HandleKind, fd: BorrowedFd<'_>) -> Vec<u8> {
    let body = inner.strip_suffix(b"\n").unwrap_or(inner);
    let mut frame = Vec::with_capacity(body.len() + 64);
    frame.extend_from_slice(b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"");
    frame.extend_from_slice(kind.as_str().as_bytes());
    frame.extend_from_slice(b"\",\"msg\":");
    frame.extend_from_slice(body);
    if kind == HandleKind::DgramSocket {
        frame.extend_from_slice(b",\"dgramType\":\"");
        frame.extend_from_slice(dgram_type(fd).as_bytes());
        frame.push(b'"');
    }
    frame.extend_from_slice(b"}\n");
    frame
}

/// Called once with the peer's final answer to a passed handle.
pub(crate) type HandleDone = Box<dyn FnOnce(Result<(), ChannelError>) + Send>;

/// The peer's answer to a handle sent with
/// [`Sender::send_with_handle`](super::Sender::send_with_handle).
///
/// The answer (`NODE_HANDLE_ACK`, or `NODE_HANDLE_NACK` after Node's three
/// retransmissions) is read by whichever thread drives the channel's
/// [`Receiver`](super::Receiver): wait for it on another thread, or check
/// with [`HandleReceipt::try_wait`] between receives. Dropping the receipt
/// changes nothing on the wire.
#[derive(Debug)]
pub struct HandleReceipt {
    slot: Arc<ReceiptSlot>,
}

#[derive(Debug, Default)]
struct ReceiptSlot {
    answer: Mutex<Option<Result<(), ChannelError>>>,
    ready: Condvar,
}

impl HandleReceipt {
    pub(crate) fn new() -> (HandleReceipt, HandleDone) {
        let slot = Arc::new(ReceiptSlot::default());
        let writer = Arc::clone(&slot);
        let done: HandleDone = Box::new(move |answer| {
            *writer.answer.lock() = Some(answer);
            writer.ready.notify_all();
        });
        (HandleReceipt { slot }, done)
    }

    /// The answer if it has come: `Ok(())` when the peer took the handle,
    /// [`ChannelError::HandleRefused`] when it refused it every time,
    /// [`ChannelError::Disconnected`] when the channel closed first.
    pub fn try_wait(&mut self) -> Option<Result<(), ChannelError>> {
        self.slot.answer.lock().take()
    }

    /// Blocks until the answer comes, or `timeout` passes (`None`).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<(), ChannelError>> {
        let deadline = Instant::now() + timeout;
        let mut answer = self.slot.answer.lock();
        while answer.is_none() {
            if self
                .slot
                .ready
                .wait_until(&mut answer, deadline)
                .timed_out()
            {
                break;
            }
        }
        answer.take()
    }

    /// Blocks until the answer comes.
    pub fn wait(self) -> Result<(), ChannelError> {
        let mut answer = self.slot.answer.lock();
        loop {
            if let Some(a) = answer.take() {
                return a;
            }
            self.slot.ready.wait(&mut answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_node_names() {
        for kind in [
            HandleKind::NetServer,
            HandleKind::NetSocket,
            HandleKind::NetNative,
            HandleKind::DgramSocket,
            HandleKind::DgramNative,
        ] {
            assert_eq!(HandleKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(HandleKind::parse("net.Pipe"), None);
    }

    #[test]
    fn sockets_become_the_std_type_that_fits() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(HandleKind::of(&listener).unwrap(), HandleKind::NetServer);
        assert_eq!(HandleKind::of(&client).unwrap(), HandleKind::NetSocket);
        assert_eq!(HandleKind::of(&udp).unwrap(), HandleKind::DgramSocket);
        assert_eq!(HandleKind::of(&a).unwrap(), HandleKind::NetSocket);
        let h = Handle::from_fd(OwnedFd::from(listener), HandleKind::NetServer);
        assert!(matches!(h, Handle::TcpListener(_)));
        let h = Handle::from_fd(OwnedFd::from(client), HandleKind::NetNative);
        assert!(matches!(h, Handle::TcpStream(_)));
        assert_eq!(h.kind(), HandleKind::NetSocket);
        let h = Handle::from_fd(OwnedFd::from(udp), HandleKind::DgramSocket);
        assert!(matches!(h, Handle::UdpSocket(_)));
        let h = Handle::from_fd(OwnedFd::from(a), HandleKind::NetSocket);
        assert!(matches!(h, Handle::UnixStream(_)));
        let file = std::fs::File::open("/dev/null").unwrap();
        let h = Handle::from_fd(OwnedFd::from(file), HandleKind::NetNative);
        assert!(matches!(
            h,
            Handle::Other {
                kind: HandleKind::NetNative,
                ..
            }
        ));
    }

    #[test]
    fn frames_are_written_as_node_writes_them() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let frame = handle_frame(
            Mode::Json,
            &serde_json::json!({ "h": 1 }),
            HandleKind::NetServer,
            &udp,
        )
        .unwrap();
        assert_eq!(
            frame,
            b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Server\",\"msg\":{\"h\":1}}\n"
        );
        let frame = handle_frame(Mode::Json, &1, HandleKind::DgramSocket, &udp).unwrap();
        assert_eq!(
            frame,
            b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"dgram.Socket\",\"msg\":1,\"dgramType\":\"udp4\"}\n"
        );
        let wrapped = wrap_json_frame(b"{\"id\":1}\n", HandleKind::NetSocket, udp.as_fd());
        assert_eq!(
            wrapped,
            b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"id\":1}}\n"
        );
    }

    #[test]
    fn receipts_hand_over_the_answer_once() {
        let (mut receipt, done) = HandleReceipt::new();
        assert!(receipt.try_wait().is_none());
        done(Ok(()));
        assert!(matches!(receipt.try_wait(), Some(Ok(()))));
        assert!(receipt.try_wait().is_none());
        let (receipt, done) = HandleReceipt::new();
        std::thread::spawn(move || done(Err(ChannelError::Disconnected)));
        assert!(matches!(receipt.wait(), Err(ChannelError::Disconnected)));
    }
}
