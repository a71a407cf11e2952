//! The pool under faults, over real processes: workers killed mid-flight,
//! stopped, writing garbage, huge lines, floods and stray replies.

mod support;

use forkwire::pool::{
    CloseOptions, ErrorCode, Heartbeat, Outcome, Payload, Pool, PoolEvent, Request, RestartPolicy,
    Target,
};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{alive, options, own_rss};

#[test]
fn sigkill_storm_with_retries_settles_everything_once_and_correctly() {
    let mut o = options("seed_worker", 4);
    // Slow enough (8 in flight per worker, 5 ms each) that ~3 s of work
    // meets some 60 kills.
    o.concurrency = 8;
    o.retries = 1000;
    o.restart = RestartPolicy {
        enabled: true,
        max_restarts: 100_000,
        window: Duration::from_secs(1),
        backoff: Duration::from_millis(1),
    };
    let pool = Arc::new(Pool::new(o).unwrap());
    let n = 20_000usize;
    let settled: Arc<Vec<AtomicU8>> = Arc::new((0..n).map(|_| AtomicU8::new(0)).collect());
    let (ok, wrong, failed, total) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (tx, rx) = crossbeam_channel::bounded(1);
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (pool, stop) = (pool.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut kills = 0;
            let mut seed = 0x9e37_79b9_u32;
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let pids: Vec<u32> = pool.stats().workers.iter().filter_map(|w| w.pid).collect();
                if let Some(pid) = pids.get(seed as usize % pids.len().max(1)) {
                    // SAFETY: a signal to our own worker.
                    if unsafe { libc::kill(*pid as i32, libc::SIGKILL) } == 0 {
                        kills += 1;
                    }
                }
            }
            kills
        })
    };
    for i in 0..n {
        let (settled, ok, wrong, failed, total, tx) = (
            settled.clone(),
            ok.clone(),
            wrong.clone(),
            failed.clone(),
            total.clone(),
            tx.clone(),
        );
        let data = format!("{{\"n\":{i},\"sleep\":5}}");
        pool.submit(Request::json(pool.next_id(), data, move |outcome| {
            settled[i].fetch_add(1, Ordering::SeqCst);
            match outcome {
                Outcome::Result {
                    result: Payload::Json(Some(t)),
                    ..
                } if t == (i * 2).to_string() => ok.fetch_add(1, Ordering::SeqCst),
                Outcome::Result { .. } => wrong.fetch_add(1, Ordering::SeqCst),
                _ => failed.fetch_add(1, Ordering::SeqCst),
            };
            if total.fetch_add(1, Ordering::SeqCst) + 1 == n {
                let _ = tx.send(());
            }
        }));
    }
    rx.recv_timeout(Duration::from_secs(120))
        .expect("every request settles");
    stop.store(true, Ordering::SeqCst);
    let kills = killer.join().unwrap();
    // Give any duplicate settlement a chance to show up.
    std::thread::sleep(Duration::from_millis(100));
    let stats = pool.stats();
    eprintln!(
        "kill storm: {n} requests, {kills} kills, retried {}, restarts {}, settled {}, failed {}",
        stats.retried,
        stats.restarts,
        total.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst)
    );
    assert!(
        settled.iter().all(|c| c.load(Ordering::SeqCst) == 1),
        "each settles exactly once"
    );
    assert_eq!(ok.load(Ordering::SeqCst), n);
    assert_eq!(
        (wrong.load(Ordering::SeqCst), failed.load(Ordering::SeqCst)),
        (0, 0)
    );
    assert!(kills >= 10, "only {kills} kills");
    assert!(stats.retried > 0);
    pool.close(CloseOptions::default());
}

#[test]
fn a_stopped_worker_is_detected_by_heartbeat_and_its_request_retried() {
    let mut o = options("seed_worker", 2);
    o.heartbeat = Some(Heartbeat {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(300),
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let pool = Arc::new(
        Pool::with_events(
            o,
            Arc::new(move |e| {
                if let PoolEvent::Unresponsive { worker, .. } = e {
                    sink.lock().unwrap().push((worker, Instant::now()));
                }
            }),
        )
        .unwrap(),
    );
    let victim = pool.stats().workers[0].pid.unwrap();
    // Keep worker 0 busy with a slow request, then stop it.
    let p = pool.clone();
    let slow = std::thread::spawn(move || {
        let id = p.next_id();
        let (tx, rx) = crossbeam_channel::bounded(1);
        p.submit(Request {
            target: Target::Worker(0),
            retries: Some(1),
            ..Request::json(id, r#"{"sleep":200,"n":4}"#, move |o| {
                let _ = tx.send(o);
            })
        });
        rx.recv().unwrap()
    });
    std::thread::sleep(Duration::from_millis(50));
    let stopped_at = Instant::now();
    // SAFETY: a signal to our own worker.
    unsafe { libc::kill(victim as i32, libc::SIGSTOP) };
    // The pinned request is retried on worker 0's replacement.
    match slow.join().unwrap() {
        Outcome::Result {
            result: Payload::Json(Some(t)),
            ..
        } => assert_eq!(t, "8"),
        other => panic!("expected a result after retry, got {other:?}"),
    }
    let (worker, at) = events.lock().unwrap()[0];
    assert_eq!(worker, 0);
    let detected = at.duration_since(stopped_at);
    eprintln!("SIGSTOP detected after {detected:?} (timeout 300 ms + interval 100 ms)");
    assert!(
        detected <= Duration::from_millis(300 + 100 + 250),
        "{detected:?}"
    );
    assert!(!alive(victim) || std::fs::read_to_string(format!("/proc/{victim}/stat")).is_err());
    let r: f64 = pool.call(&json!({ "n": 1 })).unwrap();
    assert_eq!(r, 2.0);
    pool.close(CloseOptions::default());
}

fn faulty(size: usize, max_frame: usize) -> (Pool, Arc<Mutex<Vec<String>>>, Arc<AtomicUsize>) {
    let mut o = options("faulty_worker", size);
    o.max_frame = max_frame;
    let errors = Arc::new(Mutex::new(Vec::new()));
    let floods = Arc::new(AtomicUsize::new(0));
    let (sink, count) = (errors.clone(), floods.clone());
    let pool = Pool::with_events(
        o,
        Arc::new(move |e| match e {
            PoolEvent::ProtocolError { message, .. } => sink.lock().unwrap().push(message),
            PoolEvent::Message { .. } => {
                count.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }),
    )
    .unwrap();
    (pool, errors, floods)
}

#[test]
fn garbage_and_stray_replies_are_reported_and_serving_goes_on() {
    let (pool, errors, _) = faulty(1, 1 << 20);
    let v: Value = pool.call(&json!({ "garbage": "}{ not json" })).unwrap();
    assert_eq!(v["garbage"], "}{ not json");
    let errs = errors.lock().unwrap().clone();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].contains("not valid JSON") && errs[0].contains("}{ not json"),
        "{errs:?}"
    );
    let v: Value = pool.call(&json!({ "wrongId": true })).unwrap();
    assert_eq!(v["wrongId"], true);
    assert_eq!(pool.stats().late_replies, 1);
    assert_eq!(pool.stats().protocol_errors, 1);
    pool.close(CloseOptions::default());
}

#[test]
fn a_half_frame_then_exit_fails_the_request_with_the_exit_code() {
    let (pool, errors, _) = faulty(1, 1 << 20);
    let err = pool
        .call::<_, Value>(&json!({ "halfThenExit": 4 }))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::WorkerExited);
    assert_eq!(err.exit.and_then(|s| s.code), Some(4));
    // The reader reports the cut frame when it reaches the end of the
    // stream, which may be just after the exit settled the request.
    let until = Instant::now() + Duration::from_secs(5);
    while !errors
        .lock()
        .unwrap()
        .iter()
        .any(|e| e.contains("input ended inside a frame"))
    {
        assert!(
            Instant::now() < until,
            "no protocol error for the cut frame"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let v: Value = pool.call(&json!("after")).unwrap();
    assert_eq!(v, "after");
    pool.close(CloseOptions::default());
}

#[test]
fn a_100_mib_line_is_skipped_with_bounded_memory() {
    let (pool, errors, _) = faulty(2, 8 << 20);
    let before = own_rss();
    let v: Value = pool
        .call_with(&json!({ "hugeLine": 100 }), None, Target::Worker(0), None)
        .unwrap();
    assert_eq!(v["hugeLine"], 100);
    let grew = own_rss().saturating_sub(before);
    eprintln!(
        "100 MiB line with an 8 MiB limit: parent RSS grew by {} KiB",
        grew / 1024
    );
    assert!(grew < 40 << 20, "RSS grew by {grew} bytes");
    assert!(errors.lock().unwrap()[0].contains("exceeds the limit"));
    let r: Value = pool
        .call_with(&json!(7), None, Target::Worker(1), None)
        .unwrap();
    assert_eq!(r, 7);
    pool.close(CloseOptions::default());
}

#[test]
fn a_flood_of_events_is_delivered_and_replies_still_correlate() {
    let (pool, _, floods) = faulty(2, 1 << 20);
    let v: Value = pool
        .call_with(&json!({ "flood": 100_000 }), None, Target::Worker(0), None)
        .unwrap();
    assert_eq!(v["flood"], 100_000);
    let r: Value = pool
        .call_with(&json!(1), None, Target::Worker(1), None)
        .unwrap();
    assert_eq!(r, 1);
    assert_eq!(floods.load(Ordering::SeqCst), 100_000);
    pool.close(CloseOptions::default());
}

#[test]
fn protocol_version_mismatch_is_an_error() {
    let mut o = options("faulty_worker", 1);
    o.protocol_version = Some("\"1.0\"".into());
    let pool = Pool::new(o).unwrap();
    let ok: Value = pool.call(&json!({ "version": "1.0" })).unwrap();
    assert_eq!(ok["version"], "1.0");
    let err = pool
        .call::<_, Value>(&json!({ "version": "2.0" }))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Version);
    assert!(err.message.contains("\"2.0\""), "{}", err.message);
    pool.close(CloseOptions::default());
}

#[test]
fn max_tasks_per_worker_recycles_gracefully() {
    let mut o = options("seed_worker", 1);
    o.max_tasks_per_worker = Some(10);
    let pool = Pool::new(o).unwrap();
    let mut pids = std::collections::BTreeSet::new();
    for i in 0..35 {
        let r: f64 = pool.call(&json!({ "n": i })).unwrap();
        assert_eq!(r, f64::from(i * 2));
        if let Some(pid) = pool.stats().workers[0].pid {
            pids.insert(pid);
        }
    }
    assert!(pids.len() >= 4, "recycled every 10 tasks: {pids:?}");
    assert_eq!(pool.stats().failed, 0);
    pool.close(CloseOptions::default());
}

#[test]
fn a_flood_of_bad_lines_is_counted_whole_and_reported_in_summaries() {
    let (pool, errors, _) = faulty(1, 1 << 20);
    let lines = "x\n".repeat(100_000);
    let v: Value = pool.call(&json!({ "garbage": lines })).unwrap();
    assert_eq!(v["garbage"].as_str().map(str::len), Some(200_000));
    // 100 000 "x" lines and the empty one after them: every one counted.
    assert_eq!(pool.stats().protocol_errors, 100_001);
    let reports = errors.lock().unwrap().clone();
    assert!(reports.len() < 1000, "{} reports", reports.len());
    let summed: usize = reports
        .iter()
        .map(|r| match r.split_once(" more bad frames") {
            Some((head, _)) => head.rsplit(' ').next().unwrap().parse::<usize>().unwrap(),
            None => 1,
        })
        .sum();
    assert_eq!(summed, 100_001, "{:?}", &reports[..reports.len().min(5)]);
    pool.close(CloseOptions::default());
}
