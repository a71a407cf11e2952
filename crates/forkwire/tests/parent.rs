//! A Rust parent spawning real `node` children with the channel set up by
//! `forkwire::process`: the child must see what `fork()` gives it.

use forkwire::process::Command;
use serde_json::{json, Value};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn recv(child: &mut forkwire::ChildProcess) -> Value {
    child
        .channel()
        .recv::<Value>()
        .expect("receive")
        .expect("a message before disconnect")
}

#[test]
fn node_child_has_process_send_and_connected() {
    let mut child = Command::node(fixture("node_child.js")).spawn().unwrap();
    assert_eq!(
        recv(&mut child),
        json!({ "ready": true, "hasSend": "function", "connected": true })
    );
    let value =
        json!({ "s": "a\nb\u{2028}😀", "n": [1.5, -0.5, 1e21, 5e-324], "o": { "z": 1, "a": 2 } });
    child
        .channel()
        .send(&json!({ "cmd": "echo", "value": value }))
        .unwrap();
    let reply = recv(&mut child);
    assert_eq!(reply["echo"], value);
    assert_eq!(reply["connected"], true);
    // Key order survives the trip, as in JS.
    let keys: Vec<_> = reply["echo"]["o"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["z", "a"]);
    child.channel().disconnect();
    let status = child.wait().unwrap();
    assert_eq!((status.code, status.signal), (Some(0), None));
}

#[test]
fn child_disconnect_ends_the_receive_loop() {
    let mut child = Command::node(fixture("node_child.js")).spawn().unwrap();
    recv(&mut child);
    child
        .channel()
        .send(&json!({ "cmd": "burst", "count": 1000, "thenDisconnect": true }))
        .unwrap();
    let got: Vec<Value> = child
        .channel()
        .incoming::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got.len(), 1000);
    assert!(got.iter().enumerate().all(|(i, m)| m["i"] == i));
    assert!(!child.channel().sender().is_connected());
    assert!(matches!(
        child.channel().send(&1),
        Err(forkwire::ChannelError::Disconnected)
    ));
    assert!(child.wait().unwrap().success());
}

#[test]
fn exit_status_and_signal() {
    let mut child = Command::node(fixture("node_child.js")).spawn().unwrap();
    recv(&mut child);
    child
        .channel()
        .send(&json!({ "cmd": "exit", "code": 3 }))
        .unwrap();
    assert_eq!(child.wait().unwrap().code, Some(3));
    assert_eq!(child.channel().recv::<Value>().unwrap(), None);

    let mut child = Command::node(fixture("node_child.js")).spawn().unwrap();
    recv(&mut child);
    child.kill(libc::SIGKILL).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal_name(), Some("SIGKILL"));
    // Killing a reaped child is a no-op, never a signal to a recycled pid.
    child.kill(libc::SIGKILL).unwrap();
}

/// The `seed_worker` example, which `cargo test` builds beside the tests.
fn seed_worker() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join("seed_worker")
}

#[test]
fn rust_parent_drives_rust_seed_worker() {
    let mut child = Command::new(seed_worker()).spawn().unwrap();
    child
        .channel()
        .send(&json!({ "id": 1, "data": { "n": 2 } }))
        .unwrap();
    assert_eq!(recv(&mut child), json!({ "id": 1, "result": 4 }));
    child.channel().disconnect();
    assert!(child.wait().unwrap().success());
}

#[test]
fn sender_is_shared_across_threads() {
    let mut child = Command::node(fixture("node_child.js")).spawn().unwrap();
    recv(&mut child);
    let sender = child.channel().sender();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for i in 0..250 {
                    let big = "x".repeat(1000 + i);
                    sender
                        .send(&json!({ "cmd": "echo", "value": [t, i, big] }))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut seen = [0usize; 4];
    for _ in 0..1000 {
        let m = recv(&mut child);
        let t = m["echo"][0].as_u64().unwrap() as usize;
        // Per sender thread, order is preserved and frames are intact.
        assert_eq!(m["echo"][1], seen[t]);
        assert_eq!(m["echo"][2].as_str().unwrap().len(), 1000 + seen[t]);
        seen[t] += 1;
    }
    child.channel().disconnect();
    child.wait().unwrap();
}
