//! Shared by the pool test binaries: where the example workers are, and
//! what the OS says about processes.

#![allow(dead_code)]

use forkwire::pool::PoolOptions;
use forkwire::process::Command;
use std::path::PathBuf;

/// An example binary that `cargo test` builds beside the tests.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

/// Pool options for `size` workers running example `name`.
pub fn options(name: &str, size: usize) -> PoolOptions {
    let mut o = PoolOptions::new(Command::new(example(name)));
    o.size = size;
    o
}

/// Whether process `pid` exists (zombies count as gone only once reaped).
pub fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// This process's resident set size in bytes.
pub fn own_rss() -> u64 {
    forkwire::process::rss_bytes(std::process::id()).unwrap()
}

/// Open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}
