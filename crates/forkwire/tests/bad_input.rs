//! Bad bytes on a real channel: a child process writes raw frames to its
//! end of the socket (fd 3), and the Rust parent's receiver must report
//! each problem as a recoverable error and go on with the next line.

use forkwire::codec::{FrameError, Limits};
use forkwire::process::Command;
use forkwire::{ChannelError, ChildProcess};
use serde_json::{json, Value};

/// A child that writes `bytes` to the channel and exits.
fn raw_writer(bytes: &[u8], limits: Limits) -> ChildProcess {
    let path = std::env::temp_dir().join(format!(
        "forkwire-bad-{}-{}",
        std::process::id(),
        bytes.len()
    ));
    std::fs::write(&path, bytes).unwrap();
    let script = format!("cat '{}' >&3; rm -f '{}'", path.display(), path.display());
    Command::new("/bin/sh")
        .args(["-c", &script])
        .limits(limits)
        .spawn()
        .unwrap()
}

fn drain(child: &mut ChildProcess) -> Vec<Result<Value, ChannelError>> {
    let out = child.channel().incoming::<Value>().collect();
    child.wait().unwrap();
    out
}

#[test]
fn garbage_lines_are_errors_and_the_stream_resyncs() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"ok\":1}\n");
    input.extend_from_slice(b"this is not json\n");
    input.extend_from_slice(b"{\"s\":\"\xff\xfe\"}\n");
    input.extend_from_slice(b"{\"ok\":2}\n");
    input.extend_from_slice(&[b'x'; 5000]);
    input.extend_from_slice(b"\n{\"ok\":3}\n");
    input.extend_from_slice(b"{\"half\":");
    let mut child = raw_writer(&input, Limits { max_frame: 4096 });
    let got = drain(&mut child);
    assert_eq!(got.len(), 7, "{got:?}");
    assert_eq!(got[0].as_ref().unwrap(), &json!({ "ok": 1 }));
    assert!(
        matches!(&got[1], Err(e @ ChannelError::Decode(_)) if e.is_recoverable() && e.to_string().contains("not valid JSON"))
    );
    assert!(matches!(&got[2], Err(e) if e.to_string().contains("not valid UTF-8 (at byte 6)")));
    assert_eq!(got[3].as_ref().unwrap(), &json!({ "ok": 2 }));
    assert!(
        matches!(
            &got[4],
            Err(ChannelError::Frame(FrameError::TooLarge {
                len: 5000,
                limit: 4096
            }))
        ),
        "{:?}",
        got[4]
    );
    assert_eq!(got[5].as_ref().unwrap(), &json!({ "ok": 3 }));
    assert!(matches!(
        &got[6],
        Err(ChannelError::Frame(FrameError::Truncated { pending: 8 }))
    ));
}

#[test]
fn a_huge_line_does_not_grow_memory_past_the_limit() {
    // 64 MiB with no newline, then a good frame: the receiver skips it
    // holding at most the limit plus one read.
    let mut input = vec![b'7'; 64 << 20];
    input.extend_from_slice(b"\n[1]\n");
    let mut child = raw_writer(&input, Limits { max_frame: 1 << 20 });
    let got = drain(&mut child);
    assert!(
        matches!(&got[0], Err(ChannelError::Frame(FrameError::TooLarge { len, .. })) if *len == 64 << 20)
    );
    assert_eq!(got[1].as_ref().unwrap(), &json!([1]));
    assert_eq!(got.len(), 2);
}

#[test]
fn node_internal_messages_never_surface() {
    let input =
        b"{\"cmd\":\"NODE_CLUSTER\",\"x\":1}\n{\"cmd\":\"NODE_HANDLE_ACK\"}\n{\"cmd\":\"user\"}\n";
    let mut child = raw_writer(input, Limits::default());
    let got = drain(&mut child);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].as_ref().unwrap(), &json!({ "cmd": "user" }));
}
