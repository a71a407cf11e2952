//! A worker that takes sockets and servers from its parent, as a Node
//! child does with `process.on('message', (msg, handle) => ...)`, and
//! passes one back. The handle-passing tests drive it from Node.
//!
//! - `{type: 'echo'}` with a connection: echoes it until the peer ends it.
//! - `{type: 'http'}` with a connection: answers each HTTP request on it
//!   with a fixed response, until the client closes.
//! - `{type: 'accept', count}` with a listening server: accepts `count`
//!   connections on it, writes `rust <pid>\n` to each, closes them, then
//!   closes the server and says `{type: 'accepted', count}`.
//! - `{type: 'udp'}` with a UDP socket: answers one datagram with
//!   `echo:<datagram>`.
//! - `{type: 'keep'}` with a connection: holds it; `{type: 'drop-kept'}`
//!   closes what it holds.
//! - `{type: 'give-server'}`: sends the parent a listening server with
//!   `{type: 'server', port}`, closes its own copy, and once the parent
//!   has answered says `{type: 'gave', ok, fds}`.
//! - `{type: 'fds'}`: says `{type: 'fds', count}`, its open descriptors.
//!
//! Every handle taken is reported as `{type: 'took', as, msg}` once it is
//! this worker's (the parent has its ACK by then).

use forkwire::channel::{Handle, HandleKind};
use forkwire::{Channel, Sender};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

fn main() {
    let mut channel = match Channel::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("handle_worker: {e}");
            std::process::exit(2);
        }
    };
    let out = channel.sender();
    let mut kept: Vec<Handle> = Vec::new();
    loop {
        let (msg, handle) = match channel.recv_with_handle::<Value>() {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(e) if e.is_recoverable() => {
                eprintln!("handle_worker: {e}");
                continue;
            }
            Err(e) => {
                eprintln!("handle_worker: {e}");
                break;
            }
        };
        let kind = msg["type"].as_str().unwrap_or_default().to_owned();
        if let Some(handle) = handle {
            let _ = out.send(&json!({ "type": "took", "as": variant(&handle), "msg": msg }));
            take(&out, &kind, &msg, handle, &mut kept);
            continue;
        }
        match kind.as_str() {
            "fds" => {
                let _ = out.send(&json!({ "type": "fds", "count": open_fds() }));
            }
            "drop-kept" => {
                kept.clear();
                let _ = out.send(&json!({ "type": "dropped" }));
            }
            "give-server" => give_server(&out),
            _ => {
                let _ = out.send(&json!({ "type": "unknown", "msg": msg }));
            }
        }
    }
}

fn variant(handle: &Handle) -> &'static str {
    match handle {
        Handle::TcpStream(_) => "TcpStream",
        Handle::TcpListener(_) => "TcpListener",
        Handle::UnixStream(_) => "UnixStream",
        Handle::UnixListener(_) => "UnixListener",
        Handle::UdpSocket(_) => "UdpSocket",
        Handle::Other { .. } => "Other",
    }
}

fn take(out: &Sender, kind: &str, msg: &Value, handle: Handle, kept: &mut Vec<Handle>) {
    match (kind, handle) {
        ("echo", Handle::TcpStream(conn)) => spawn(move || echo(conn)),
        ("http", Handle::TcpStream(conn)) => spawn(move || http(conn)),
        ("accept", Handle::TcpListener(listener)) => {
            let count = msg["count"].as_u64().unwrap_or(1);
            let out = out.clone();
            spawn(move || {
                let served = accept(&listener, count);
                drop(listener);
                let _ = out.send(&json!({ "type": "accepted", "count": served }));
            });
        }
        ("udp", Handle::UdpSocket(socket)) => spawn(move || {
            let mut buf = [0u8; 1024];
            wait(socket.as_raw_fd(), libc::POLLIN);
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                let mut reply = b"echo:".to_vec();
                reply.extend_from_slice(&buf[..n]);
                let _ = socket.send_to(&reply, from);
            }
        }),
        ("keep", handle) => kept.push(handle),
        // Anything else closes here.
        _ => {}
    }
}

fn spawn(f: impl FnOnce() + Send + 'static) {
    let _ = std::thread::Builder::new().name("conn".into()).spawn(f);
}

/// The sender gave the connection away (no keepOpen), so making it
/// blocking touches no one else's copy.
fn echo(mut conn: TcpStream) {
    if conn.set_nonblocking(false).is_err() {
        return;
    }
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 || conn.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nhello world\n";

fn http(mut conn: TcpStream) {
    if conn.set_nonblocking(false).is_err() {
        return;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            if conn.write_all(RESPONSE).is_err() {
                return;
            }
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Accepts on a listener that its sender may still hold (a Node parent
/// that keeps a passed `net.Server` listening): it stays non-blocking, so
/// wait with `poll` and take `WouldBlock` as "someone else got it".
fn accept(listener: &TcpListener, count: u64) -> u64 {
    let mut served = 0;
    while served < count {
        if !wait(listener.as_raw_fd(), libc::POLLIN) {
            break;
        }
        match listener.accept() {
            Ok((mut conn, _)) => {
                let _ = conn.set_nonblocking(false);
                let _ = conn.write_all(format!("rust {}\n", std::process::id()).as_bytes());
                served += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
    served
}

/// Waits up to 10 s for `events` on `fd`.
fn wait(fd: i32, events: libc::c_short) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut pfd, 1, 10_000) > 0 }
}

/// Sends the parent a listening server. Its answer is read by the main
/// loop, so wait for it on another thread.
fn give_server(out: &Sender) {
    let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
        let _ = out.send(&json!({ "type": "gave", "ok": false }));
        return;
    };
    let port = listener.local_addr().map_or(0, |a| a.port());
    match out.send_with_handle(
        &json!({ "type": "server", "port": port }),
        &listener,
        HandleKind::NetServer,
    ) {
        Ok(receipt) => {
            drop(listener);
            let out = out.clone();
            spawn(move || {
                let ok = receipt.wait().is_ok();
                let _ = out.send(&json!({ "type": "gave", "ok": ok, "fds": open_fds() }));
            });
        }
        Err(e) => {
            let _ = out.send(&json!({ "type": "gave", "ok": false, "error": e.to_string() }));
        }
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}
