//! `Channel::from_env` in a real child process: this test binary re-runs
//! itself as the child (selected by an environment variable), spawned by
//! `forkwire::process` like any worker.

use forkwire::process::Command;
use forkwire::{Channel, ChannelError};
use serde_json::{json, Value};

const ROLE: &str = "FORKWIRE_TEST_CHILD_ROLE";

/// Runs only inside the re-executed child: reports what it sees.
#[test]
fn child_role() {
    if std::env::var(ROLE).is_err() {
        return;
    }
    let mut channel = Channel::from_env().expect("channel");
    let fd_var_gone = std::env::var("NODE_CHANNEL_FD").is_err();
    let mode_var_gone = std::env::var("NODE_CHANNEL_SERIALIZATION_MODE").is_err();
    let second = matches!(Channel::from_env(), Err(ChannelError::NoChannel));
    // SAFETY: fcntl on our own descriptor.
    let cloexec = unsafe { libc::fcntl(3, libc::F_GETFD) } & libc::FD_CLOEXEC != 0;
    let first: Value = channel.recv().unwrap().unwrap();
    channel
        .send(
            &json!({ "fdVarGone": fd_var_gone, "modeVarGone": mode_var_gone,
                       "secondTakeFails": second, "cloexec": cloexec, "got": first }),
        )
        .unwrap();
    // Drain until the parent disconnects.
    while let Ok(Some(_)) = channel.recv::<Value>() {}
}

#[test]
fn child_takes_the_channel_once_and_hides_it() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_role", "--quiet"])
        .env(ROLE, "1")
        .stdio(forkwire::process::StdioMode::Null)
        .spawn()
        .unwrap();
    child.channel().send(&json!({ "hi": 1 })).unwrap();
    let report: Value = child.channel().recv().unwrap().unwrap();
    assert_eq!(
        report,
        json!({ "fdVarGone": true, "modeVarGone": true, "secondTakeFails": true,
                "cloexec": true, "got": { "hi": 1 } })
    );
    child.channel().disconnect();
    assert!(child.wait().unwrap().success());
}
