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

#[test]
fn a_typed_batch_gives_each_item_its_type() {
    let pool = Pool::new(options("serve_worker", 1)).unwrap();
    let batch = Some(forkwire::serve::BATCH_TYPE);
    let call = |data: Value| pool.call_with::<_, Value>(&data, batch, Target::Any, None);
    // `{type, items}`: the handler sees each item as an `add` request.
    assert_eq!(
        call(json!({ "type": "add", "items": [[1, 2], [3, 4.5]] })).unwrap(),
        json!({ "results": [3, 7.5] })
    );
    assert_eq!(
        call(json!({ "type": "echo", "items": [{ "fail": "not acted on" }] })).unwrap(),
        json!({ "results": [{ "fail": "not acted on" }] })
    );
    // A null or absent type is no type (the untyped path echoes or fails).
    assert_eq!(
        call(json!({ "type": null, "items": ["x"] })).unwrap(),
        json!({ "results": ["x"] })
    );
    assert_eq!(
        call(json!({ "items": [[1, 2]] })).unwrap(),
        json!({ "results": [[1, 2]] })
    );
    // The first form still works, untyped.
    assert_eq!(
        call(json!([[1, 2]])).unwrap(),
        json!({ "results": [[1, 2]] })
    );
    // An item of the type that does not fit fails the batch with its error.
    let err = call(json!({ "type": "add", "items": [[1, 2], "x"] })).unwrap_err();
    assert!(
        err.message.starts_with("bad request data"),
        "{}",
        err.message
    );
    let err = call(json!({ "type": "nope", "items": [1] })).unwrap_err();
    assert_eq!(err.message, "unknown type nope");
    // Neither form: refused before any handler runs.
    for bad in [
        json!({ "type": 5, "items": [1] }),
        json!({ "type": "add", "items": "no" }),
        json!({ "type": "add" }),
        json!("items"),
    ] {
        let err = call(bad.clone()).unwrap_err();
        assert_eq!(err.code, ErrorCode::Remote);
        assert!(
            err.message
                .contains("needs an array of items, or {type, items"),
            "{bad}: {}",
            err.message
        );
    }
    pool.close(CloseOptions::default());
}

#[test]
fn json_batches_carry_a_type_and_a_timeout_and_cancel_under_one_lock() {
    use forkwire::pool::{BatchOptions, Payload};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let mut o = options("serve_worker", 2);
    o.concurrency = 4;
    let pool = Pool::with_settled(
        o,
        Arc::new(|_| {}),
        Box::new(move |id, outcome| sink.lock().unwrap().push((id, outcome))),
    )
    .unwrap();
    let wait_for = |n: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().len() < n && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut got = std::mem::take(&mut *seen.lock().unwrap());
        got.sort_by_key(|(id, _)| *id);
        got
    };
    let typed = |kind: &str, timeout: Option<Duration>| BatchOptions {
        kind: Some(kind.into()),
        timeout,
        retries: None,
    };

    // Each item a request of type `add`.
    assert!(pool.submit_json_batch_with(1, ["[1,2]", "[3,4]", "[5,6]"], &typed("add", None)));
    let sums: Vec<_> = wait_for(3)
        .into_iter()
        .map(|(id, o)| match o {
            Outcome::Result {
                result: Payload::Json(Some(text)),
                ..
            } => (id, text),
            other => panic!("{id}: {other:?}"),
        })
        .collect();
    assert_eq!(sums, [(1, "3".into()), (2, "7".into()), (3, "11".into())]);

    // Counting to 1000 takes 10 s: each request times out on its own.
    let started = std::time::Instant::now();
    let slow = ["1000", "1000", "1000"];
    assert!(pool.submit_json_batch_with(
        10,
        slow,
        &typed("count", Some(Duration::from_millis(100)))
    ));
    let timed_out = wait_for(3);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(timed_out.len(), 3);
    assert!(timed_out
        .iter()
        .all(|(_, o)| matches!(o, Outcome::Failed(e) if e.code == ErrorCode::Timeout)));

    // In flight and queued alike are cancelled by one call.
    assert!(pool.submit_json_batch_with(20, ["1000"; 12], &typed("count", None)));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(pool.stats().in_flight, 8);
    assert_eq!(pool.cancel_many(20..32, ErrorCode::Aborted), 12);
    assert_eq!(pool.cancel_many(20..32, ErrorCode::Aborted), 0);
    let aborted = wait_for(12);
    assert_eq!(
        aborted.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        (20..32).collect::<Vec<_>>()
    );
    assert!(aborted
        .iter()
        .all(|(_, o)| matches!(o, Outcome::Failed(e) if e.code == ErrorCode::Aborted)));
    let stats = pool.stats();
    assert_eq!(
        (
            stats.completed,
            stats.timed_out,
            stats.aborted,
            stats.failed,
            stats.in_flight,
            stats.queued
        ),
        (3, 3, 12, 15, 0, 0)
    );
    // The workers heard the cancels and are free again.
    let v: f64 = pool
        .call_with(
            &json!([1, 1]),
            Some("add"),
            Target::Any,
            Some(Duration::from_secs(2)),
        )
        .unwrap();
    assert_eq!(v, 2.0);
    pool.close(CloseOptions::default());
}
