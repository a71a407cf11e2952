//! Handles across the channel with a Rust parent: sockets and servers
//! passed to real `node` children (which must get working `net.Server`,
//! `net.Socket` and `dgram.Socket` objects), passed back from them, taken
//! and closed unused by a Rust child that takes no handles (as a Node
//! child does), refused by a peer that answers `NODE_HANDLE_NACK`, and
//! spread over Rust workers by the pool. Every test checks that no
//! descriptor is left behind in this process.

mod support;

use forkwire::channel::{Handle, HandleKind};
use forkwire::pool::{Body, ErrorCode, Outcome, Pool, PoolEvent, Request};
use forkwire::process::Command;
use forkwire::ChildProcess;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use support::{example, open_fds};

/// Descriptor counts are per process: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn recv(child: &mut ChildProcess) -> Value {
    let msg: Value = child
        .channel()
        .recv()
        .expect("receive")
        .expect("a message before disconnect");
    assert_ne!(msg["type"], "warning", "the child warned: {msg}");
    msg
}

fn node_child() -> ChildProcess {
    let mut child = Command::node(fixture("handle_child.js")).spawn().unwrap();
    assert_eq!(recv(&mut child)["type"], "ready");
    child
}

fn finish(mut child: ChildProcess) {
    child.channel().disconnect();
    assert!(child.wait().unwrap().success());
}

/// Waits until this process has `want` descriptors open again (closing
/// is asynchronous in the children we talk to, never here).
fn settle_fds(want: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_fds() != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open_fds(), want, "descriptors left open");
}

fn connect(port: u16) -> TcpStream {
    let conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn
}

fn read_line(conn: &TcpStream) -> String {
    let mut line = String::new();
    BufReader::new(conn).read_line(&mut line).unwrap();
    line
}

#[test]
fn a_node_child_takes_a_listening_server() {
    let _serial = serial();
    let before = open_fds();
    let mut child = node_child();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut receipt = child
        .channel()
        .send_with_handle(
            &json!({ "type": "listen", "tag": "a" }),
            &listener,
            HandleKind::NetServer,
        )
        .unwrap();
    // The child has its own: ours can go.
    drop(listener);
    let got = recv(&mut child);
    assert_eq!(got["type"], "listening");
    assert_eq!(got["isServer"], true);
    assert_eq!(got["port"], port);
    assert!(matches!(receipt.try_wait(), Some(Ok(()))));
    for _ in 0..3 {
        assert_eq!(read_line(&connect(port)), "hello from node a\n");
    }
    finish(child);
    settle_fds(before);
}

#[test]
fn a_node_child_takes_a_connection() {
    let _serial = serial();
    let before = open_fds();
    let mut child = node_child();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = connect(listener.local_addr().unwrap().port());
    let (accepted, peer) = listener.accept().unwrap();
    let receipt = child
        .channel()
        .send_with_handle(&json!({ "type": "conn" }), &accepted, HandleKind::NetSocket)
        .unwrap();
    drop(accepted);
    let got = recv(&mut child);
    assert_eq!(got["type"], "socket");
    assert_eq!(got["isSocket"], true);
    assert_eq!(got["remotePort"], peer.port());
    receipt.wait().unwrap();
    (&client).write_all(b"ping\n").unwrap();
    assert_eq!(read_line(&client), "echo:ping\n");
    // The child's end is the only one left: when it ends, we see EOF.
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    (&client).read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    drop((client, listener));
    finish(child);
    settle_fds(before);
}

#[test]
fn a_node_child_takes_a_udp_socket() {
    let _serial = serial();
    let before = open_fds();
    let mut child = node_child();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    child
        .channel()
        .send_with_handle(&json!({ "type": "udp" }), &socket, HandleKind::DgramSocket)
        .unwrap();
    drop(socket);
    let got = recv(&mut child);
    assert_eq!(
        (got["type"].as_str(), got["isDgram"].as_bool()),
        (Some("udp"), Some(true))
    );
    assert_eq!(got["port"], port);
    let me = UdpSocket::bind("127.0.0.1:0").unwrap();
    me.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    me.send_to(b"hi", ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = me.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"echo:hi");
    drop(me);
    finish(child);
    settle_fds(before);
}

#[test]
fn later_messages_wait_for_the_handle_and_keep_their_order() {
    let _serial = serial();
    let before = open_fds();
    let mut child = node_child();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut conns = Vec::new();
    for n in 0..40 {
        if n % 4 == 0 {
            let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (accepted, _) = listener.accept().unwrap();
            child
                .channel()
                .send_with_handle(
                    &json!({ "type": "order", "n": n }),
                    &accepted,
                    HandleKind::NetSocket,
                )
                .unwrap();
            conns.push(client);
        } else {
            child
                .channel()
                .send(&json!({ "type": "order", "n": n }))
                .unwrap();
        }
    }
    for n in 0..40 {
        let got = recv(&mut child);
        assert_eq!(got["n"], n, "{got}");
        let expected = if n % 4 == 0 {
            json!("Socket")
        } else {
            Value::Null
        };
        assert_eq!(got["handle"], expected);
    }
    drop((conns, listener));
    finish(child);
    settle_fds(before);
}

#[test]
fn a_node_child_passes_a_server_to_its_rust_parent() {
    let _serial = serial();
    let before = open_fds();
    let mut child = node_child();
    child
        .channel()
        .send(&json!({ "type": "give-server" }))
        .unwrap();
    let (msg, handle) = child
        .channel()
        .recv_with_handle::<Value>()
        .unwrap()
        .unwrap();
    assert_eq!(msg["type"], "server");
    let Some(Handle::TcpListener(listener)) = handle else {
        panic!("expected a TcpListener, got {handle:?}");
    };
    assert_eq!(listener.local_addr().unwrap().port(), msg["port"]);
    let gave = recv(&mut child);
    assert_eq!(gave, json!({ "type": "gave", "error": null }));
    // The child closed its copy: blocking mode is ours to choose.
    listener.set_nonblocking(false).unwrap();
    let client = connect(listener.local_addr().unwrap().port());
    let (mut conn, _) = listener.accept().unwrap();
    conn.write_all(b"rust\n").unwrap();
    assert_eq!(read_line(&client), "rust\n");
    drop((conn, client, listener));
    finish(child);
    settle_fds(before);
}

#[test]
fn a_rust_child_that_takes_no_handles_takes_the_message_and_closes_the_handle() {
    let _serial = serial();
    let before = open_fds();
    // seed_worker reads with plain recv_frame(): as a Node child whose
    // code ignores the handle, it answers NODE_HANDLE_ACK, closes the
    // handle and handles the message.
    let mut child = Command::new(example("seed_worker")).spawn().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let receipt = child
        .channel()
        .send_with_handle(
            &json!({ "id": 0, "data": { "n": 3 } }),
            &listener,
            HandleKind::NetServer,
        )
        .unwrap();
    // Held back until the handle is answered, then sent, in order.
    child
        .channel()
        .send(&json!({ "id": 1, "data": { "n": 2 } }))
        .unwrap();
    assert_eq!(recv(&mut child), json!({ "id": 0, "result": 6 }));
    assert_eq!(recv(&mut child), json!({ "id": 1, "result": 4 }));
    receipt.wait().unwrap();
    // The child's copy is closed: once ours goes, nothing listens.
    drop(listener);
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "the child kept the listener");
        std::thread::sleep(Duration::from_millis(10));
    }
    finish(child);
    settle_fds(before);
}

/// An HTTP/1.1 GET on `conn`, and the body of the answer.
fn http_get(conn: &TcpStream) -> String {
    let mut w = conn;
    w.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reader = BufReader::new(conn);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

fn submit(pool: &Pool, handle: std::os::fd::OwnedFd) -> mpsc::Receiver<Outcome> {
    let (tx, rx) = mpsc::channel();
    let id = pool.next_id();
    pool.submit_with_handle(
        Request {
            id,
            body: Body::Json {
                data: Some("{}".into()),
                kind: Some("connection".into()),
            },
            timeout: Some(Duration::from_secs(10)),
            target: Default::default(),
            retries: None,
            done: Box::new(move |outcome| {
                let _ = tx.send(outcome);
            }),
        },
        handle,
        HandleKind::NetSocket,
    );
    rx
}

#[test]
fn the_pool_spreads_connections_over_rust_workers() {
    let _serial = serial();
    let before = open_fds();
    let pool = Pool::new(support::options("http_worker", 2)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut clients = Vec::new();
    let mut pending = Vec::new();
    for _ in 0..8 {
        clients.push(connect(port));
        let (accepted, _) = listener.accept().unwrap();
        pending.push(submit(&pool, accepted.into()));
    }
    for rx in pending {
        match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
            Outcome::Result { .. } => {}
            other => panic!("the worker did not take the connection: {other:?}"),
        }
    }
    // Each connection is served by a worker, keep-alive, while the pool
    // holds no copy of it.
    for client in &clients {
        for _ in 0..3 {
            assert_eq!(http_get(client), "hello world\n");
        }
    }
    let busy = pool
        .stats()
        .workers
        .iter()
        .filter(|w| w.completed > 0)
        .count();
    assert_eq!(busy, 2, "both workers got connections");
    drop((clients, listener));
    pool.close(Default::default());
    drop(pool);
    settle_fds(before);
}

/// The jest suite's worker that refuses every handle (answering each
/// `NODE_HANDLE` with `NODE_HANDLE_NACK`) and answers requests `{id, data:
/// {n}}` with `{id, result: n * 2}`; see the script for how.
fn refusing_worker() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/refusing-worker.js")
}

#[test]
fn the_pool_reports_refused_handles() {
    let _serial = serial();
    let before = open_fds();
    // Without NODE_CHANNEL_FD, node leaves fd 3 to the script.
    let mut cmd = Command::new("env");
    cmd.args(["-u", forkwire::channel::ENV_FD, "node"])
        .arg(refusing_worker());
    let mut options = forkwire::pool::PoolOptions::new(cmd);
    options.size = 1;
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&errors);
    let pool = Pool::with_events(
        options,
        Arc::new(move |event| {
            if let PoolEvent::Error(e) = event {
                seen.lock().unwrap().push(e);
            }
        }),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let rx = submit(&pool, listener.try_clone().unwrap().into());
    match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
        Outcome::Failed(e) => {
            assert_eq!(e.code, ErrorCode::HandleRefused, "{e}");
            assert_eq!(e.worker, Some(0));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(pool
        .send_with_handle(
            0,
            &json!({ "type": "conn" }),
            &listener,
            HandleKind::NetServer
        )
        .unwrap());
    // Then the worker goes on answering.
    let doubled: f64 = pool.call(&json!({ "n": 4 })).unwrap();
    assert_eq!(doubled, 8.0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while errors.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let errors = errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, ErrorCode::HandleRefused);
    drop(listener);
    pool.close(Default::default());
    drop(pool);
    settle_fds(before);
}
