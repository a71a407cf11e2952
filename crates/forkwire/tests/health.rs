//! `Pool::health` over real worker processes: workers that answer, workers
//! that never do, and two callers at once.

mod support;

use forkwire::pool::{Pool, PoolEvent};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn every_live_worker_answers_with_its_metrics() {
    let messages = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&messages);
    let pool = Pool::with_events(
        support::options("seed_worker", 3),
        Arc::new(move |event| {
            if let PoolEvent::Message { worker, .. } = event {
                seen.lock().unwrap().push(worker);
            }
        }),
    )
    .unwrap();
    let pids: Vec<Option<u32>> = pool.stats().workers.iter().map(|w| w.pid).collect();
    let health = pool.health(Duration::from_secs(10));
    assert_eq!(health.len(), 3);
    for (slot, worker) in health.iter().enumerate() {
        assert_eq!(worker.worker, slot);
        assert_eq!(Some(worker.pid), pids[slot]);
        assert!(worker.healthy, "{worker:?}");
        assert_eq!(worker.reason, None);
        assert!(worker.latency.is_some());
        assert!(
            worker.metrics.as_ref().is_some_and(|m| m.is_object()),
            "{worker:?}"
        );
        assert!(worker.rss_bytes.is_some_and(|rss| rss > 0));
    }
    // The answers are still delivered as messages, as JS pools expect.
    let mut from: Vec<usize> = messages.lock().unwrap().clone();
    from.sort_unstable();
    assert_eq!(from, [0, 1, 2]);
    pool.close(Default::default());
}

#[test]
fn a_worker_that_never_answers_is_reported_after_the_timeout() {
    // faulty_worker answers requests only: a health check goes unanswered.
    let pool = Pool::new(support::options("faulty_worker", 2)).unwrap();
    let health = pool.health(Duration::from_millis(200));
    assert_eq!(health.len(), 2);
    for worker in &health {
        assert!(!worker.healthy);
        assert_eq!(worker.reason, Some("timeout"));
        assert_eq!(worker.latency, None);
        assert_eq!(worker.metrics, None);
    }
    // It still serves requests.
    let echoed: serde_json::Value = pool.call(&serde_json::json!({ "x": 1 })).unwrap();
    assert_eq!(echoed, serde_json::json!({ "x": 1 }));
    pool.close(Default::default());
}

#[test]
fn concurrent_callers_each_hear_every_answer() {
    let pool = Arc::new(Pool::new(support::options("seed_worker", 2)).unwrap());
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.health(Duration::from_secs(10)))
        })
        .collect();
    for caller in callers {
        let health = caller.join().unwrap();
        assert_eq!(health.len(), 2);
        assert!(health.iter().all(|w| w.healthy), "{health:?}");
    }
    pool.close(Default::default());
}

#[test]
fn a_closed_pool_has_no_one_to_ask() {
    let pool = Pool::new(support::options("seed_worker", 1)).unwrap();
    pool.close(Default::default());
    assert!(pool.health(Duration::from_millis(100)).is_empty());
}
