//! The pool engine used natively from Rust, over real worker processes.

use forkwire::pool::{
    CloseOptions, ErrorCode, Outcome, Pool, PoolEvent, PoolOptions, Request, Target,
};
use forkwire::process::Command;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn seed_worker() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/seed_worker")
}

fn options(size: usize) -> PoolOptions {
    let mut o = PoolOptions::new(Command::new(seed_worker()));
    o.size = size;
    o
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

#[test]
fn call_returns_results_and_remote_errors() {
    let pool = Pool::new(options(2)).unwrap();
    let r: f64 = pool.call(&json!({ "n": 21 })).unwrap();
    assert_eq!(r, 42.0);
    let echo: Value = pool.call(&json!("text")).unwrap();
    assert_eq!(echo, "text");
    let err = pool
        .call::<_, Value>(&json!({ "fail": "nope" }))
        .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::Remote, "nope")
    );
    pool.close(CloseOptions::default());
}

#[test]
fn pipelined_requests_all_settle_once_with_the_right_result() {
    let pool = Pool::new(options(2)).unwrap();
    let n = 20_000u64;
    let settled = Arc::new(AtomicUsize::new(0));
    let wrong = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..n {
        let (settled, wrong, tx) = (settled.clone(), wrong.clone(), tx.clone());
        let id = pool.next_id();
        pool.submit(Request::json(
            id,
            format!("{{\"n\":{i}}}"),
            move |outcome| {
                match outcome {
                    Outcome::Result {
                        result: forkwire::pool::Payload::Json(Some(t)),
                        ..
                    } if t == (i * 2).to_string() => {}
                    _ => {
                        wrong.fetch_add(1, Ordering::SeqCst);
                    }
                }
                if settled.fetch_add(1, Ordering::SeqCst) + 1 == n as usize {
                    let _ = tx.send(());
                }
            },
        ));
    }
    rx.recv_timeout(Duration::from_secs(60))
        .expect("all settled");
    assert_eq!(settled.load(Ordering::SeqCst), n as usize);
    assert_eq!(wrong.load(Ordering::SeqCst), 0);
    let stats = pool.stats();
    assert_eq!(stats.completed, n);
    assert_eq!(stats.in_flight + stats.queued, 0);
    assert!(
        stats.workers.iter().all(|w| w.completed > 0),
        "both workers served: {stats:?}"
    );
    pool.close(CloseOptions::default());
}

#[test]
fn timeouts_and_late_replies() {
    let pool = Pool::new(options(1)).unwrap();
    let err = pool
        .call_with::<_, Value>(
            &json!({ "sleep": 300 }),
            None,
            Target::Any,
            Some(Duration::from_millis(50)),
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Timeout);
    // The worker still answers later; that reply must be dropped.
    std::thread::sleep(Duration::from_millis(400));
    let r: f64 = pool.call(&json!({ "n": 1 })).unwrap();
    assert_eq!(r, 2.0);
    let stats = pool.stats();
    assert_eq!(
        (stats.timed_out, stats.late_replies, stats.completed),
        (1, 1, 1)
    );
    pool.close(CloseOptions::default());
}

#[test]
fn a_crashed_worker_fails_its_request_and_is_replaced() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let pool = Pool::with_events(
        options(1),
        Arc::new(move |e| {
            if let PoolEvent::Exit { status, .. } = e {
                sink.lock().unwrap().push(status);
            }
        }),
    )
    .unwrap();
    let first_pid = pool.stats().workers[0].pid.unwrap();
    let err = pool.call::<_, Value>(&json!({ "exit": 3 })).unwrap_err();
    assert_eq!(err.code, ErrorCode::WorkerExited);
    assert_eq!(err.exit.and_then(|s| s.code), Some(3));
    // The replacement serves the next request.
    let r: f64 = pool.call(&json!({ "n": 5 })).unwrap();
    assert_eq!(r, 10.0);
    let stats = pool.stats();
    assert_eq!(stats.restarts, 1);
    assert_ne!(stats.workers[0].pid, Some(first_pid));
    assert_eq!(events.lock().unwrap()[0].code, Some(3));
    pool.close(CloseOptions::default());
}

#[test]
fn close_rejects_pending_and_leaves_no_process() {
    let pool = Arc::new(Pool::new(options(2)).unwrap());
    let pids: Vec<u32> = pool.stats().workers.iter().filter_map(|w| w.pid).collect();
    let p = pool.clone();
    let pending = std::thread::spawn(move || p.call::<_, Value>(&json!({ "sleep": 5000 })));
    std::thread::sleep(Duration::from_millis(100));
    pool.close(CloseOptions::default());
    assert_eq!(pending.join().unwrap().unwrap_err().code, ErrorCode::Closed);
    assert!(pids.iter().all(|pid| !alive(*pid)), "workers reaped");
    assert_eq!(
        pool.call::<_, Value>(&1).unwrap_err().code,
        ErrorCode::Closed
    );
}

#[test]
fn drain_finishes_queued_work() {
    let pool = Arc::new(Pool::new(options(1)).unwrap());
    let handles: Vec<_> = (0..5)
        .map(|i| {
            let p = pool.clone();
            std::thread::spawn(move || p.call::<_, f64>(&json!({ "n": i, "sleep": 20 })))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(30));
    pool.close(CloseOptions {
        drain: true,
        timeout: Duration::from_secs(5),
    });
    let results: Vec<f64> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    let mut sorted = results.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted, vec![0.0, 2.0, 4.0, 6.0, 8.0]);
}

#[test]
fn roles_keys_and_worker_targets() {
    let pool = Pool::new(options(3)).unwrap();
    pool.assign_role(2, "logger");
    let pid_of = |w: usize| pool.stats().workers[w].pid.unwrap();
    let who = |target: Target| -> u64 {
        let v: Value = pool
            .call_with(&json!({ "who": 1 }), Some("ping"), target, None)
            .unwrap();
        assert_eq!(v, json!({ "who": 1 }));
        pool.stats().workers.iter().map(|w| w.completed).sum()
    };
    who(Target::Role("logger".into()));
    assert_eq!(pool.stats().workers[2].completed, 1);
    who(Target::Worker(1));
    assert_eq!(pool.stats().workers[1].completed, 1);
    for _ in 0..4 {
        who(Target::Key("user-7".into()));
    }
    let per: Vec<u64> = pool.stats().workers.iter().map(|w| w.completed).collect();
    assert!(
        per.iter().any(|c| *c >= 4),
        "sticky key used one worker: {per:?}"
    );
    assert!(pid_of(0) > 0);
    assert_eq!(
        pool.broadcast(&json!({ "type": "config" }), None).unwrap(),
        3
    );
    assert_eq!(
        pool.broadcast(&json!({ "type": "config" }), Some("logger"))
            .unwrap(),
        1
    );
    pool.close(CloseOptions::default());
}

#[test]
fn a_json_batch_settles_each_request_once_through_one_handler() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let pool = Pool::with_settled(
        PoolOptions {
            concurrency: 8,
            ..options(2)
        },
        Arc::new(|_| {}),
        Box::new(move |id, outcome| sink.lock().unwrap().push((id, outcome))),
    )
    .unwrap();
    // The last request answers after a second, so its id is still open
    // when the second batch comes.
    let data: Vec<String> = (0..500)
        .map(|i| match i {
            499 => format!("{{\"n\":{i},\"sleep\":1000}}"),
            _ => format!("{{\"n\":{i}}}"),
        })
        .collect();
    assert!(pool.submit_json_batch(1000, data.iter().map(String::as_str)));
    // A second batch reusing an open id: that one is refused, the rest run.
    assert!(pool.submit_json_batch(1499, ["\"dup\"", "\"fresh\""]));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < 502 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut got = std::mem::take(&mut *seen.lock().unwrap());
    got.sort_by_key(|(id, _)| *id);
    let text = |o: &Outcome| match o {
        Outcome::Result {
            result: forkwire::pool::Payload::Json(Some(t)),
            ..
        } => t.clone(),
        other => format!("{other:?}"),
    };
    // 1499 twice: once refused as a duplicate, once with its result.
    assert_eq!(got.len(), 502);
    for (i, (id, outcome)) in got.iter().take(499).enumerate() {
        assert_eq!(
            (*id, text(outcome)),
            (1000 + i as u64, ((2 * i) as f64).to_string())
        );
    }
    let last: Vec<_> = got[499..].iter().map(|(id, o)| (*id, text(o))).collect();
    assert!(last.contains(&(1499, "998".into())), "{last:?}");
    assert!(
        last.iter()
            .any(|(id, t)| *id == 1499 && t.contains("duplicate request id")),
        "{last:?}"
    );
    assert!(last.contains(&(1500, "\"fresh\"".into())), "{last:?}");
    pool.close(CloseOptions::default());
    // After close every batch request is refused at once.
    assert!(pool.submit_json_batch(1, ["1", "2"]));
    let refused = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(refused.len(), 2);
    assert!(refused
        .iter()
        .all(|(_, o)| matches!(o, Outcome::Failed(e) if e.code == ErrorCode::Closed)));
    // A pool without a handler takes no batch (nobody would hear it).
    let plain = Pool::new(options(1)).unwrap();
    assert!(!plain.submit_json_batch(1, ["1"]));
    assert_eq!(plain.stats().in_flight + plain.stats().queued, 0);
    plain.close(CloseOptions::default());
}

#[test]
fn metrics_agree_with_stats_and_time_every_settled_request() {
    let pool = Pool::new(PoolOptions {
        max_queue: 0,
        ..options(1)
    })
    .unwrap();
    let stats = pool.stats();
    assert_eq!(stats.latency_ms, Default::default());
    for n in 0..20 {
        let v: f64 = pool.call(&json!({ "n": n })).unwrap();
        assert_eq!(v, f64::from(n) * 2.0);
    }
    let err = pool.call::<_, Value>(&json!({ "fail": "no" })).unwrap_err();
    assert_eq!(err.code, ErrorCode::Remote);
    // With the worker busy and no queue, the next request is refused.
    let (tx, rx) = std::sync::mpsc::channel();
    for data in [r#"{"sleep":300}"#, "1"] {
        let tx = tx.clone();
        pool.submit(Request::json(pool.next_id(), data, move |o| {
            tx.send(o).unwrap()
        }));
    }
    let refused = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(matches!(refused, Outcome::Failed(e) if e.code == ErrorCode::QueueFull));
    assert!(matches!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        Outcome::Result { .. }
    ));

    let metrics = pool.metrics();
    let stats = &metrics.stats;
    assert_eq!((stats.completed, stats.failed, stats.rejected), (21, 1, 1));
    assert_eq!(metrics.latency.count(), stats.completed + stats.failed);
    assert!(metrics.latency.max().unwrap() >= Duration::from_millis(300));
    let p = stats.latency_ms;
    let (p50, p90, p99) = (p.p50.unwrap(), p.p90.unwrap(), p.p99.unwrap());
    assert!(0.0 < p50 && p50 <= p90 && p90 <= p99, "{p:?}");
    assert!(p99 >= 270.0, "the 300 ms request is the top percent: {p:?}");
    assert_eq!(metrics.resident_memory.len(), 1);
    assert!(metrics.resident_memory[0].1 > 0);
    let text = metrics.to_string();
    for line in [
        "forkwire_requests_total{outcome=\"completed\"} 21",
        "forkwire_requests_total{outcome=\"remote_error\"} 1",
        "forkwire_requests_total{outcome=\"queue_full\"} 1",
        "forkwire_requests_rejected_total 1",
        "forkwire_request_duration_seconds_count 22",
        "forkwire_request_duration_seconds_bucket{le=\"+Inf\"} 22",
        "# TYPE forkwire_request_duration_seconds histogram",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    pool.close(CloseOptions::default());
}

#[test]
fn requests_carry_the_protocol_version_in_both_modes() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/envelope_child.js");
    for mode in [forkwire::Mode::Json, forkwire::Mode::Advanced] {
        let mut command = Command::node(&script);
        command.serialization(mode);
        let mut options = PoolOptions::new(command);
        options.size = 1;
        options.protocol_version = Some("\"1.2\"".into());
        let pool = Pool::new(options).unwrap();
        let envelope: serde_json::Value = pool
            .call_with(&json!({"a": 1}), Some("t"), Target::Any, None)
            .unwrap();
        assert_eq!(envelope["version"], "1.2", "{mode:?}: {envelope}");
        assert_eq!(envelope["type"], "t");
        assert_eq!(envelope["data"], json!({"a": 1}));
        pool.close(CloseOptions::default());
    }
}

/// Submits `data` as request `id` to any worker; its outcome goes to `tx`
/// with the id.
fn submit_to(pool: &Pool, id: u64, data: String, tx: &crossbeam_channel::Sender<(u64, Outcome)>) {
    let tx = tx.clone();
    pool.submit(Request::json(id, data, move |outcome| {
        let _ = tx.send((id, outcome));
    }));
}

#[test]
fn submitters_on_many_threads_each_settle_every_request_once() {
    let mut o = options(2);
    // A small window: submissions race each other to the workers' tables
    // and to the queue behind them.
    o.concurrency = 4;
    let pool = Arc::new(Pool::new(o).unwrap());
    let (tx, rx) = crossbeam_channel::unbounded();
    let (threads, per_thread) = (4u64, 2_500u64);
    let submitters: Vec<_> = (0..threads)
        .map(|_| {
            let (pool, tx) = (Arc::clone(&pool), tx.clone());
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    let id = pool.next_id();
                    submit_to(&pool, id, format!("{{\"n\":{id}}}"), &tx);
                }
            })
        })
        .collect();
    for s in submitters {
        s.join().unwrap();
    }
    let total = (threads * per_thread) as usize;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..total {
        let (id, outcome) = rx.recv_timeout(Duration::from_secs(60)).expect("settled");
        assert!(seen.insert(id), "request {id} settled twice");
        match outcome {
            Outcome::Result {
                result: forkwire::pool::Payload::Json(Some(t)),
                ..
            } => assert_eq!(t, (id * 2).to_string(), "request {id}"),
            other => panic!("request {id}: {other:?}"),
        }
    }
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    let stats = pool.stats();
    assert_eq!(stats.completed, total as u64);
    assert_eq!((stats.in_flight, stats.queued, stats.failed), (0, 0, 0));
    assert!(stats.workers.iter().all(|w| w.completed > 0), "{stats:?}");
    pool.close(CloseOptions::default());
}

#[test]
fn an_id_in_flight_on_a_worker_is_refused_whether_newest_or_not() {
    let pool = Pool::new(options(2)).unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    let slow = || json!({ "sleep": 300 }).to_string();
    // The newest id, then one below it: both go to a worker's table.
    for id in [1_000, 500] {
        submit_to(&pool, id, slow(), &tx);
        submit_to(&pool, id, slow(), &tx);
        let (refused, outcome) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(refused, id);
        match outcome {
            Outcome::Failed(e) => assert_eq!(e.code, ErrorCode::Serialize, "{e}"),
            other => panic!("a duplicate of {id} was taken: {other:?}"),
        }
    }
    assert_eq!(pool.stats().in_flight, 2);
    let mut answered: Vec<u64> = (0..2)
        .map(|_| {
            let (id, outcome) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
            assert!(matches!(outcome, Outcome::Result { .. }), "{outcome:?}");
            id
        })
        .collect();
    answered.sort_unstable();
    assert_eq!(answered, [500, 1_000]);
    // Settled, an id may be used again.
    submit_to(&pool, 500, json!({ "n": 1 }).to_string(), &tx);
    let (id, outcome) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(id, 500);
    assert!(matches!(outcome, Outcome::Result { .. }), "{outcome:?}");
    assert_eq!(pool.stats().rejected, 2);
    pool.close(CloseOptions::default());
}
