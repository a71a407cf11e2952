//! After `close()` nothing is left: no child process, no descriptor, no
//! thread. Alone in its binary so no other test opens descriptors meanwhile.

mod support;

use forkwire::pool::{CloseOptions, Pool};
use serde_json::json;
use support::{alive, open_fds, options};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn close_leaves_no_process_descriptor_or_thread() {
    let (fds, tasks) = (open_fds(), threads());
    for round in 0..3 {
        let pool = Pool::new(options("seed_worker", 4)).unwrap();
        let pids: Vec<u32> = pool.stats().workers.iter().filter_map(|w| w.pid).collect();
        assert_eq!(pids.len(), 4);
        let r: f64 = pool.call(&json!({ "n": round })).unwrap();
        assert_eq!(r, f64::from(round * 2));
        pool.close(CloseOptions::default());
        assert!(
            pids.iter().all(|p| !alive(*p)),
            "round {round}: a worker is still there"
        );
        assert_eq!(open_fds(), fds, "round {round}: descriptors leaked");
        // close() has joined every thread; the kernel may list a joined
        // thread in /proc for a moment longer while it finishes exiting.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while threads() != tasks && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let names: Vec<String> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .collect();
        assert_eq!(
            threads(),
            tasks,
            "round {round}: threads left running: {names:?}"
        );
    }
}
