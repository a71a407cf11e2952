//! `forkwire::serve` workers (the serve_worker example) driven by the pool.

mod support;

use forkwire::pool::{Body, CloseOptions, ErrorCode, Outcome, Pool, PoolEvent, Request, Target};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::options;

#[test]
fn typed_requests_errors_and_progress() {
    let progress = Arc::new(Mutex::new(Vec::new()));
    let sink = progress.clone();
    let mut o = options("serve_worker", 1);
    o.concurrency = 4;
    let pool = Pool::with_events(
        o,
        Arc::new(move |e| {
            if let PoolEvent::Progress { payload, .. } = e {
                sink.lock().unwrap().push(payload);
            }
        }),
    )
    .unwrap();
    let sum: f64 = pool
        .call_with(&json!([2, 3.5]), Some("add"), Target::Any, None)
        .unwrap();
    assert_eq!(sum, 5.5);
    let n: u64 = pool
        .call_with(&json!(3), Some("count"), Target::Any, None)
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(progress.lock().unwrap().len(), 3);
    let err = pool
        .call_with::<_, Value>(&json!("x"), Some("add"), Target::Any, None)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Remote);
    assert!(
        err.message.starts_with("bad request data"),
        "{}",
        err.message
    );
    let echo: Value = pool.call(&json!({ "a": [1, "b"] })).unwrap();
    assert_eq!(echo, json!({ "a": [1, "b"] }));
    pool.close(CloseOptions::default());
}

#[test]
fn cancel_reaches_the_handler_and_no_reply_follows() {
    let (health_tx, health_rx) = crossbeam_channel::unbounded();
    let pool = Pool::with_events(
        options("serve_worker", 1),
        Arc::new(move |e| {
            if let PoolEvent::Message {
                payload: forkwire::pool::Payload::Json(Some(text)),
                ..
            } = e
            {
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["type"] == "health-status" {
                    let _ = health_tx.send(v);
                }
            }
        }),
    )
    .unwrap();
    let id = pool.next_id();
    let (tx, rx) = crossbeam_channel::bounded(1);
    pool.submit(Request {
        id,
        body: Body::Json {
            data: Some("1000".into()),
            kind: Some("count".into()),
        },
        timeout: None,
        target: Target::Any,
        retries: None,
        done: Box::new(move |o| {
            let _ = tx.send(o);
        }),
    });
    std::thread::sleep(Duration::from_millis(50));
    assert!(pool.cancel(id, ErrorCode::Aborted));
    assert!(matches!(rx.recv().unwrap(), Outcome::Failed(e) if e.code == ErrorCode::Aborted));
    // The handler sees the cancel within one 10 ms step and returns; 1000
    // steps would take 10 s.
    std::thread::sleep(Duration::from_millis(200));
    assert!(pool.send(0, &json!({ "type": "health-check" })).unwrap());
    let health = health_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(health["metrics"]["inFlight"], 0, "{health}");
    assert_eq!(health["metrics"]["taskCount"], 1);
    let v: f64 = pool
        .call_with(&json!([1, 1]), Some("add"), Target::Any, None)
        .unwrap();
    assert_eq!(v, 2.0);
    pool.close(CloseOptions::default());
}

#[test]
fn a_batch_runs_the_handler_per_item_and_answers_once() {
    let pool = Pool::new(options("serve_worker", 1)).unwrap();
    let batch = Some(forkwire::serve::BATCH_TYPE);
    let items = json!([1, "two", { "three": 3 }, [4], null]);
    let results: Value = pool.call_with(&items, batch, Target::Any, None).unwrap();
    assert_eq!(results, json!({ "results": items }));
    // The first failing item fails the batch; the pool goes on.
    let err = pool
        .call_with::<_, Value>(
            &json!([{ "n": 1 }, { "fail": "item 1" }, { "fail": "item 2" }]),
            batch,
            Target::Any,
            None,
        )
        .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::Remote, "item 1")
    );
    let err = pool
        .call_with::<_, Value>(&json!({ "not": "an array" }), batch, Target::Any, None)
        .unwrap_err();
    assert!(err.message.contains("needs an array"), "{}", err.message);
    let stats = pool.stats();
    assert_eq!((stats.completed, stats.failed), (1, 2));
    let echoed: Value = pool.call(&json!({ "after": true })).unwrap();
    assert_eq!(echoed, json!({ "after": true }));
    pool.close(CloseOptions::default());
}
