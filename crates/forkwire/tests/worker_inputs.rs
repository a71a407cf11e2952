//! What workers do with the inputs that used to be lost: a message sent
//! with a handle to a worker that takes no handles (answered, the handle
//! closed, as a Node child does), advanced-mode values JSON cannot hold
//! (echoed losslessly by seed_worker), and requests that do not decode
//! (answered `{id, error}` by seed_worker and by `forkwire::serve`, never
//! dropped in silence). Real processes: the built examples and `node`.

mod support;

use forkwire::channel::HandleKind;
use forkwire::codec::v8::{self, Anchor, Key, Object};
use forkwire::process::{Command, Reaper};
use forkwire::{Channel, Mode};
use serde_json::{json, Value};
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{example, open_fds};

/// Descriptor counts are per process: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a child may take over a whole test before it is killed, so
/// that a reply that never comes fails the test instead of hanging it.
const LIMIT: Duration = Duration::from_secs(20);

/// A child and its channel, killed after [`LIMIT`] if still running: a
/// `recv` waiting for an answer that is not coming then ends with the
/// channel closed.
struct Child {
    channel: Channel,
    reaper: Reaper,
}

impl Child {
    fn spawn(cmd: &Command) -> Child {
        let (channel, reaper) = cmd.spawn().unwrap().into_parts();
        let watch = reaper.clone();
        std::thread::spawn(move || {
            std::thread::sleep(LIMIT);
            // A child already reaped is not signalled.
            let _ = watch.kill(libc::SIGKILL);
        });
        Child { channel, reaper }
    }

    fn finish(self) {
        self.channel.disconnect();
        assert!(self.reaper.wait().unwrap().success());
    }

    fn recv_json(&mut self) -> Value {
        self.channel
            .recv::<Value>()
            .expect("receive")
            .expect("an answer before the channel closed")
    }

    fn recv_v8(&mut self) -> v8::Value {
        self.channel
            .recv::<v8::Value>()
            .expect("receive")
            .expect("an answer before the channel closed")
    }

    /// Receives the answer to the advanced-mode request `id` that did not
    /// decode: `{id, error}` with code `ERR_BAD_REQUEST`, saying why.
    fn recv_bad_request(&mut self, id: v8::Value) {
        let reply = self.recv_v8();
        assert_eq!(reply.get("id"), Some(&id), "{reply:?}");
        let error = reply.get("error").expect("an error");
        assert_eq!(code_of(error), Some("ERR_BAD_REQUEST"), "{error:?}");
        let message = error.get("message").and_then(v8::Value::as_str).unwrap();
        assert!(
            message.starts_with("the request cannot be decoded: "),
            "{message}"
        );
    }
}

fn spawn(name: &str, mode: Mode) -> Child {
    Child::spawn(Command::new(example(name)).serialization(mode))
}

/// Waits until connecting to `port` is refused: every copy of the
/// listening socket is closed.
fn closed_everywhere(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
            _ if Instant::now() > deadline => panic!("port {port} is still listening"),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Waits until this process has `want` descriptors open again.
fn settle_fds(want: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_fds() != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open_fds(), want, "descriptors left open");
}

/// An advanced-mode frame, length prefix included.
fn v8_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    frame
}

/// `{id: <int32 id>, data: [[...[1]...]]}` nested `depth` arrays deep, as
/// Node writes it (Node reads ~1900 levels; forkwire's decoder stops at
/// 1000).
fn deep_request(id: i32, depth: usize) -> Vec<u8> {
    let mut p = b"\xff\x0fo\"\x02idI".to_vec();
    p.push(((id << 1) ^ (id >> 31)) as u8);
    p.extend_from_slice(b"\"\x04data");
    for _ in 0..depth {
        p.extend_from_slice(b"A\x01");
    }
    p.extend_from_slice(b"I\x02");
    for _ in 0..depth {
        p.extend_from_slice(b"$\x00\x01");
    }
    p.extend_from_slice(b"{\x02");
    v8_frame(&p)
}

/// `{m: new Map([[1, 'a']]), u: undefined, d: new Date(0), b:
/// Buffer.from('hi'), big: 10n, s: <shared>, t: <shared>}` plus `self`, a
/// reference to itself.
fn rich_value() -> v8::Value {
    let anchor = Anchor::new();
    let shared = v8::Value::object([("x", 1)]);
    let props: Vec<(Key, v8::Value)> = vec![
        ("m".into(), v8::Value::map([(1, "a")])),
        ("u".into(), v8::Value::Undefined),
        ("d".into(), v8::Value::date(0.0)),
        ("b".into(), v8::Value::buffer(b"hi".to_vec())),
        (
            "big".into(),
            v8::Value::BigInt(v8::BigInt::from_magnitude(false, &[10])),
        ),
        ("s".into(), shared.clone()),
        ("t".into(), shared),
        ("self".into(), v8::Value::Ref(anchor)),
    ];
    v8::Value::Object(Arc::new(Object {
        anchor: Some(anchor),
        properties: props,
    }))
}

fn code_of(error: &v8::Value) -> Option<&str> {
    error.get("code").and_then(v8::Value::as_str)
}

#[test]
fn seed_worker_takes_a_message_sent_with_a_handle() {
    let _serial = serial();
    let before = open_fds();
    for mode in [Mode::Json, Mode::Advanced] {
        let mut child = spawn("seed_worker", mode);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let receipt = child
            .channel
            .send_with_handle(
                &json!({ "id": 2, "data": { "n": 21 } }),
                &listener,
                HandleKind::NetServer,
            )
            .unwrap();
        child
            .channel
            .send(&json!({ "id": 3, "data": "after" }))
            .unwrap();
        assert_eq!(child.recv_json(), json!({ "id": 2, "result": 42 }));
        assert_eq!(child.recv_json(), json!({ "id": 3, "result": "after" }));
        // Taken (ACK), not refused.
        receipt.wait().expect("the worker took the handle");
        // The worker closed its copy at once: ours is the last.
        drop(listener);
        closed_everywhere(port);
        child.finish();
    }
    settle_fds(before);
}

#[test]
fn a_rust_parent_reading_with_plain_recv_takes_a_node_childs_handle() {
    let _serial = serial();
    let before = open_fds();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/handle_child.js");
    let mut child = Child::spawn(&Command::node(script));
    assert_eq!(child.recv_json()["type"], "ready");
    child
        .channel
        .send(&json!({ "type": "give-server" }))
        .unwrap();
    // `process.send(msg, server, cb)` in the child: its message arrives
    // through recv(), and the child's callback sees no error (ACK).
    let msg = child.recv_json();
    assert_eq!(msg["type"], "server");
    assert_eq!(child.recv_json(), json!({ "type": "gave", "error": null }));
    // The child closed its server and we closed ours unused.
    closed_everywhere(msg["port"].as_u64().unwrap() as u16);
    child.finish();
    settle_fds(before);
}

#[test]
fn seed_worker_echoes_advanced_values_losslessly() {
    let _serial = serial();
    let mut child = spawn("seed_worker", Mode::Advanced);
    let data = rich_value();
    let request = v8::Value::object([("id", v8::Value::from(1)), ("data", data.clone())]);
    child.channel.send(&request).unwrap();
    let reply = child.recv_v8();
    assert_eq!(reply.get("id").and_then(v8::Value::as_f64), Some(1.0));
    let result = reply.get("result").expect("a result");
    assert_eq!(v8::encode(result).unwrap(), v8::encode(&data).unwrap());
    assert!(result
        .get("s")
        .unwrap()
        .same_object(result.get("t").unwrap()));
    // Doubling still works, and in a batch; `fail` still fails.
    child
        .channel
        .send(&json!({ "id": 2, "data": { "n": 21 } }))
        .unwrap();
    let reply = child.recv_v8();
    assert_eq!(reply.get("result").and_then(v8::Value::as_f64), Some(42.0));
    let batch = v8::Value::object([
        ("id", v8::Value::from(3)),
        ("type", v8::Value::from("forkwire:batch")),
        (
            "data",
            v8::Value::array([v8::Value::object([("n", 1)]), v8::Value::map([(1, 2)])]),
        ),
    ]);
    child.channel.send(&batch).unwrap();
    let reply = child.recv_v8();
    let results = reply.get("result").and_then(|r| r.get("results")).unwrap();
    assert_eq!(
        v8::encode(results).unwrap(),
        v8::encode(&v8::Value::array([
            v8::Value::from(2),
            v8::Value::map([(1, 2)])
        ]))
        .unwrap()
    );
    child
        .channel
        .send(&json!({ "id": 4, "data": { "fail": "it broke" } }))
        .unwrap();
    let reply = child.recv_v8();
    assert_eq!(
        reply.get("error").and_then(v8::Value::as_str),
        Some("it broke")
    );
    child.finish();
}

#[test]
fn seed_worker_answers_what_it_cannot_handle() {
    let _serial = serial();
    let mut child = spawn("seed_worker", Mode::Advanced);
    // A result that refers back to the request around it cannot be sent
    // on its own.
    let anchor = Anchor::new();
    let request = v8::Value::Object(Arc::new(Object {
        anchor: Some(anchor),
        properties: vec![
            ("id".into(), v8::Value::from(1)),
            (
                "data".into(),
                v8::Value::object([("back", v8::Value::Ref(anchor))]),
            ),
        ],
    }));
    child.channel.send(&request).unwrap();
    let reply = child.recv_v8();
    assert_eq!(reply.get("id").and_then(v8::Value::as_f64), Some(1.0));
    let error = reply.get("error").expect("an error");
    assert_eq!(code_of(error), Some("ERR_BAD_RESULT"));
    // Frames that do not decode: too deep for the decoder, or broken after
    // the id. A broken frame with no id is skipped, and the next request
    // is answered.
    let out = child.channel.sender();
    out.send_frames(&deep_request(2, 1500)).unwrap();
    out.send_frames(&v8_frame(b"\xff\x0fo\"\x02idI\x06\"\x04data?"))
        .unwrap();
    out.send_frames(&v8_frame(b"\xff\x0fo\"\x04data?")).unwrap();
    out.send(&json!({ "id": 4, "data": { "n": 1 } })).unwrap();
    for id in [2, 3] {
        child.recv_bad_request(v8::Value::from(id));
    }
    let reply = child.recv_v8();
    assert_eq!(reply.get("result").and_then(v8::Value::as_f64), Some(2.0));
    drop(out);
    child.finish();

    // json: text that goes wrong after the id.
    let mut child = spawn("seed_worker", Mode::Json);
    let out = child.channel.sender();
    out.send_frames(b"{\"id\":5,\"data\":[1,\n").unwrap();
    out.send_frames(b"{\"id\":6,\"data\":\"\xff\"}\n").unwrap();
    out.send_frames(b"{\"data\":[1,\n").unwrap();
    out.send_frames(b"{\"type\":\"cancel\",\"id\":5,\n")
        .unwrap();
    out.send(&json!({ "id": 7, "data": { "n": 1 } })).unwrap();
    for id in [5, 6] {
        let reply = child.recv_json();
        assert_eq!(reply["id"], id, "{reply}");
        assert_eq!(reply["error"]["code"], "ERR_BAD_REQUEST", "{reply}");
    }
    assert_eq!(child.recv_json(), json!({ "id": 7, "result": 2 }));
    drop(out);
    child.finish();
}

#[test]
fn serve_answers_requests_that_do_not_decode() {
    let _serial = serial();
    let before = open_fds();
    let mut child = spawn("serve_worker", Mode::Advanced);
    let out = child.channel.sender();
    // Decodes, but JSON cannot hold it: a Map with a number key, a cycle.
    let map = v8::Value::object([
        ("id", v8::Value::from(1)),
        ("type", v8::Value::from("echo")),
        ("data", v8::Value::map([(1, "a")])),
    ]);
    out.send(&map).unwrap();
    let anchor = Anchor::new();
    let cyclic = v8::Value::Object(Arc::new(Object {
        anchor: Some(anchor),
        properties: vec![("self".into(), v8::Value::Ref(anchor))],
    }));
    out.send(&v8::Value::object([
        ("id", v8::Value::from("two")),
        ("data", cyclic),
    ]))
    .unwrap();
    // Does not decode at all; the id leads.
    out.send_frames(&deep_request(3, 1200)).unwrap();
    // No id to answer: skipped. Not an object: skipped.
    out.send_frames(&v8_frame(b"\xff\x0fo\"\x04data?")).unwrap();
    out.send(&v8::Value::map([(1, 2)])).unwrap();
    // A message with a handle whose message does not decode: the handle
    // is taken and closed, the request answered.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let receipt = out
        .send_with_handle(
            &v8::Value::object([
                ("id", v8::Value::from(4)),
                ("data", v8::Value::map([(1, 2)])),
            ]),
            &listener,
            HandleKind::NetServer,
        )
        .unwrap();
    out.send(&json!({ "id": 5, "type": "echo", "data": "fine" }))
        .unwrap();
    for id in [
        v8::Value::from(1),
        v8::Value::from("two"),
        v8::Value::from(3),
        v8::Value::from(4),
    ] {
        child.recv_bad_request(id);
    }
    let reply = child.recv_v8();
    assert_eq!(
        reply.get("result").and_then(v8::Value::as_str),
        Some("fine")
    );
    receipt.wait().expect("taken");
    drop((listener, out));
    closed_everywhere(port);
    child.finish();

    // json: broken text after the id; a lone surrogate is no error.
    let mut child = spawn("serve_worker", Mode::Json);
    let out = child.channel.sender();
    out.send_frames(b"{\"id\":6,\"type\":\"echo\",\"data\":{\"a\":\n")
        .unwrap();
    out.send_frames(b"{\"id\":7,\"data\":\"\xc3\"}\n").unwrap();
    out.send_frames(b"[1,2]\n{\"data\":x}\n").unwrap();
    out.send_frames(b"{\"id\":8,\"type\":\"echo\",\"data\":\"a\\ud800b\"}\n")
        .unwrap();
    for id in [6, 7] {
        let reply = child.recv_json();
        assert_eq!(reply["id"], id, "{reply}");
        assert_eq!(reply["error"]["code"], "ERR_BAD_REQUEST", "{reply}");
        assert_eq!(reply["error"]["name"], "TypeError", "{reply}");
    }
    assert_eq!(
        child.recv_json(),
        json!({ "id": 8, "result": "a\u{fffd}b" })
    );
    drop(out);
    child.finish();
    settle_fds(before);
}
