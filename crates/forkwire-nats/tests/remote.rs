//! The remote pool against real `nats-server`s and real sidecar processes
//! running real workers.

mod support;

use forkwire::pool::{ErrorCode, Outcome, Payload};
use forkwire_nats::{NatsOptions, RemoteEvent, RemoteOptions, RemotePool, RemoteRequest};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{NatsServer, Sidecar};

fn options(servers: &str, service: &str) -> RemoteOptions {
    let nats = NatsOptions {
        servers: servers.split(',').map(String::from).collect(),
        ..NatsOptions::default()
    };
    RemoteOptions::new(nats, service)
}

/// A request of `kind` with `data` (JSON text) and a fresh id, the rest
/// the pool's defaults.
fn request(pool: &RemotePool, kind: &str, data: &str) -> RemoteRequest {
    RemoteRequest {
        id: pool.next_id(),
        kind: Some(kind.into()),
        data: Some(data.into()),
        ..Default::default()
    }
}

/// Submits `request`; the receiver gets its outcome.
fn submit(pool: &RemotePool, request: RemoteRequest) -> tokio::sync::oneshot::Receiver<Outcome> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.submit_with(request, move |o| {
        tx.send(o).ok();
    });
    rx
}

/// A request's outcome, as the pool settles it.
async fn outcome(
    pool: &RemotePool,
    kind: &str,
    data: Value,
    timeout: Option<Duration>,
    retries: u32,
) -> Outcome {
    let rx = submit(
        pool,
        RemoteRequest {
            timeout,
            retries: Some(retries),
            ..request(pool, kind, &data.to_string())
        },
    );
    rx.await.expect("settled")
}

fn result(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Result {
            result: Payload::Json(Some(text)),
            ..
        } => serde_json::from_str(&text).unwrap(),
        other => panic!("not a result: {other:?}"),
    }
}

fn code(outcome: &Outcome) -> Option<ErrorCode> {
    match outcome {
        Outcome::Failed(e) => Some(e.code),
        Outcome::RemoteError { .. } => Some(ErrorCode::Remote),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_spread_over_three_sidecars_and_health_lists_them() {
    let server = NatsServer::start(&[]);
    let sidecars: Vec<Sidecar> = ["a", "b", "c"]
        .iter()
        .map(|tag| Sidecar::start(&server.url(), "spread", tag, &["--size", "2"], &[]))
        .collect();
    let pool = RemotePool::connect(options(&server.url(), "spread"))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..300 {
        handles.push(submit(&pool, request(&pool, "whoami", "null")));
    }
    let mut per_tag: HashMap<String, usize> = HashMap::new();
    for rx in handles {
        let answer = result(rx.await.unwrap());
        *per_tag
            .entry(answer["tag"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_tag.len(), 3, "every sidecar took some: {per_tag:?}");
    assert_eq!(per_tag.values().sum::<usize>(), 300);

    let health = pool.health(Duration::from_millis(500)).await.unwrap();
    assert_eq!(health.len(), 3);
    let total: u64 = health.iter().map(|h| h.requests).sum();
    assert_eq!(total, 300);
    for h in &health {
        assert!(h.healthy);
        assert_eq!(h.pool["workers"].as_array().unwrap().len(), 2);
        assert!(h.pool["workers"][0]["pid"].as_u64().is_some());
        assert!(h.requests > 0);
    }
    let stats = pool.stats();
    assert_eq!(stats.pool.completed, 300);
    assert!(stats.connected);
    pool.close().await;
    drop(sidecars);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_keep_their_kinds_and_codes() {
    let server = NatsServer::start(&[]);
    let _sidecar = Sidecar::start(&server.url(), "kinds", "a", &["--size", "1"], &[]);
    let pool = RemotePool::connect(options(&server.url(), "kinds"))
        .await
        .unwrap();
    assert_eq!(
        result(outcome(&pool, "echo", json!({"a": [1, "two"]}), None, 0).await),
        json!({"a": [1, "two"]})
    );
    let failed = outcome(&pool, "fail", json!(null), None, 0).await;
    match failed {
        Outcome::RemoteError {
            error: Payload::Json(Some(text)),
            ..
        } => {
            let error: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(error["message"], "it failed");
            assert_eq!(error["code"], "E_FAILED");
        }
        other => panic!("{other:?}"),
    }
    let typed: Value = pool.call(Some("echo"), &json!([1, 2])).await.unwrap();
    assert_eq!(typed, json!([1, 2]));
    let err = pool.call::<_, Value>(Some("fail"), &()).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::Remote, "it failed")
    );
    // A result past the server's max_payload (1 MiB) is refused by the
    // sidecar with a clear error, not dropped.
    let big = outcome(&pool, "big", json!(2 << 20), None, 0).await;
    assert_eq!(code(&big), Some(ErrorCode::Protocol), "{big:?}");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sidecar_is_no_workers() {
    let server = NatsServer::start(&[]);
    let pool = RemotePool::connect(options(&server.url(), "nobody"))
        .await
        .unwrap();
    let o = outcome(&pool, "echo", json!(1), None, 0).await;
    assert_eq!(code(&o), Some(ErrorCode::NoWorkers), "{o:?}");
    assert!(pool
        .health(Duration::from_millis(200))
        .await
        .unwrap()
        .is_empty());
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_cancels_reach_the_worker() {
    let server = NatsServer::start(&[]);
    let dir = support::temp_dir("cancel");
    let log = dir.join("cancels");
    let _sidecar = Sidecar::start(
        &server.url(),
        "cancel",
        "a",
        &["--size", "2"],
        &[("CANCEL_LOG", log.to_str().unwrap())],
    );
    let pool = RemotePool::connect(options(&server.url(), "cancel"))
        .await
        .unwrap();
    let timed_out = outcome(
        &pool,
        "sleep",
        json!(5000),
        Some(Duration::from_millis(200)),
        0,
    )
    .await;
    assert_eq!(code(&timed_out), Some(ErrorCode::Timeout));

    let sleeping = request(&pool, "sleep", "4000");
    let id = sleeping.id;
    let rx = submit(&pool, sleeping);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(pool.cancel(id, ErrorCode::Aborted));
    assert!(
        !pool.cancel(id, ErrorCode::Aborted),
        "a request settles once"
    );
    assert_eq!(code(&rx.await.unwrap()), Some(ErrorCode::Aborted));

    // Both cancels reached a worker, which stopped sleeping.
    let until = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let seen = std::fs::read_to_string(&log).unwrap_or_default();
        if seen.lines().count() == 2 {
            assert_eq!(
                seen.lines()
                    .collect::<Vec<_>>()
                    .iter()
                    .filter(|l| **l == "4000")
                    .count(),
                1
            );
            break;
        }
        assert!(std::time::Instant::now() < until, "cancels seen: {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = pool.stats();
    assert_eq!((stats.pool.timed_out, stats.pool.aborted), (1, 1));
    pool.close().await;
    std::fs::remove_dir_all(dir).ok();
}

/// Sends `n` sleeps of `ms` with `retries`, kills one of two sidecars
/// while they run, and returns how each settled.
async fn kill_a_sidecar_under_load(retries: u32) -> Vec<Outcome> {
    let server = NatsServer::start(&[]);
    let mut doomed = Sidecar::start(
        &server.url(),
        "kill",
        "doomed",
        &["--size", "2", "--concurrency", "4"],
        &[],
    );
    let _survivor = Sidecar::start(
        &server.url(),
        "kill",
        "survivor",
        &["--size", "2", "--concurrency", "4"],
        &[],
    );
    let mut remote = options(&server.url(), "kill");
    remote.lost_after = Duration::from_millis(1500);
    let pool = RemotePool::connect(remote).await.unwrap();
    let settled = Arc::new(Mutex::new(HashMap::new()));
    let mut waits = Vec::new();
    for _ in 0..40 {
        let sleeping = RemoteRequest {
            retries: Some(retries),
            ..request(&pool, "sleep", "300")
        };
        let id = sleeping.id;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let settled = Arc::clone(&settled);
        pool.submit_with(sleeping, move |o| {
            // Exactly once: a second settlement would find the id.
            assert!(
                settled.lock().unwrap().insert(id, ()).is_none(),
                "request {id} settled twice"
            );
            tx.send(o).ok();
        });
        waits.push(rx);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    doomed.signal("KILL");
    doomed.wait();
    let mut outcomes = Vec::new();
    for rx in waits {
        outcomes.push(
            tokio::time::timeout(Duration::from_secs(10), rx)
                .await
                .expect("no request hangs")
                .unwrap(),
        );
    }
    pool.close().await;
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sidecar_fails_its_requests_once() {
    let outcomes = kill_a_sidecar_under_load(0).await;
    let lost = outcomes
        .iter()
        .filter(|o| code(o) == Some(ErrorCode::WorkerExited))
        .count();
    let ok = outcomes.iter().filter(|o| code(o).is_none()).count();
    assert!(lost > 0, "some requests were on the killed sidecar");
    assert_eq!(lost + ok, 40, "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retries_a_killed_sidecars_requests_succeed_elsewhere() {
    let outcomes = kill_a_sidecar_under_load(2).await;
    for o in outcomes {
        assert_eq!(result(o), json!(300));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_with_nothing_lost() {
    let server = NatsServer::start(&[]);
    let mut draining = Sidecar::start(
        &server.url(),
        "drain",
        "a",
        &["--size", "2", "--concurrency", "4"],
        &[],
    );
    let _other = Sidecar::start(
        &server.url(),
        "drain",
        "b",
        &["--size", "2", "--concurrency", "4"],
        &[],
    );
    let pool = Arc::new(
        RemotePool::connect(options(&server.url(), "drain"))
            .await
            .unwrap(),
    );
    // A steady stream of requests while one sidecar drains.
    let sender = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for round in 0..30 {
                let mut batch = Vec::new();
                for _ in 0..10 {
                    let pool = Arc::clone(&pool);
                    batch.push(tokio::spawn(async move {
                        outcome(&pool, "sleep", json!(50), None, 0).await
                    }));
                }
                for b in batch {
                    outcomes.push(b.await.unwrap());
                }
                if round == 29 {
                    break;
                }
            }
            outcomes
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    draining.signal("TERM");
    assert_eq!(draining.wait(), Some(0), "the sidecar exits cleanly");
    draining.wait_for("stopped");
    let outcomes = sender.await.unwrap();
    assert_eq!(outcomes.len(), 300);
    for o in outcomes {
        assert_eq!(result(o), json!(50));
    }
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_killed_under_load_is_survived() {
    let dir = support::temp_dir("cluster");
    let mut nodes = support::cluster(&dir);
    let urls: Vec<String> = nodes.iter().map(NatsServer::url).collect();
    // Sidecars on the two nodes that stay, the client first on the one
    // that goes.
    let _s1 = Sidecar::start(&urls[1], "cluster", "a", &["--size", "2"], &[]);
    let _s2 = Sidecar::start(&urls[2], "cluster", "b", &["--size", "2"], &[]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let mut remote = options(&urls.join(","), "cluster");
    remote.nats.servers = urls.clone();
    let pool = RemotePool::start(
        &tokio::runtime::Handle::current(),
        remote,
        None,
        Arc::new(move |e| seen.lock().unwrap().push(e)),
    )
    .unwrap();
    pool.ready().await.unwrap();
    let first = pool.stats().server.unwrap();
    assert_eq!(
        result(outcome(&pool, "echo", json!("before"), None, 0).await),
        json!("before")
    );
    // Load in flight, then the client's node dies.
    let mut waits = Vec::new();
    for _ in 0..20 {
        waits.push(submit(
            &pool,
            RemoteRequest {
                timeout: Some(Duration::from_secs(5)),
                ..request(&pool, "sleep", "200")
            },
        ));
    }
    let index = urls
        .iter()
        .position(|u| *u == first)
        .expect("connected to a node of the cluster");
    nodes[index].kill();
    for rx in waits {
        let o = tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .expect("no request hangs")
            .unwrap();
        assert!(
            matches!(code(&o), None | Some(ErrorCode::Connection)),
            "{o:?}"
        );
    }
    // Reconnected to another node; requests succeed again.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !pool.stats().connected {
        assert!(std::time::Instant::now() < until, "never reconnected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..20 {
        assert_eq!(
            result(outcome(&pool, "echo", json!(i), Some(Duration::from_secs(5)), 0).await),
            json!(i)
        );
    }
    let events = events.lock().unwrap().clone();
    assert!(events.contains(&RemoteEvent::Disconnected), "{events:?}");
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, RemoteEvent::Connected(_)))
            .count()
            >= 2,
        "{events:?}"
    );
    assert_ne!(pool.stats().server.unwrap(), first);
    pool.close().await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_and_a_stopped_server_are_clear_errors() {
    let server = NatsServer::start(&["--user", "app", "--pass", "right"]);
    let mut wrong = options(&server.url(), "auth");
    wrong.nats.user = Some(("app".into(), "wrong".into()));
    let err = RemotePool::connect(wrong).await.err().expect("refused");
    assert_eq!(err.code, ErrorCode::Connection);
    assert!(
        err.message.to_lowercase().contains("authorization"),
        "{}",
        err.message
    );

    let port = support::free_port();
    let err = RemotePool::connect(options(&format!("nats://127.0.0.1:{port}"), "auth"))
        .await
        .err()
        .expect("no server");
    assert_eq!(err.code, ErrorCode::Connection);

    // A server that stops under a connected pool: requests in flight and
    // those made while it is gone settle with ERR_FORKWIRE_CONNECTION.
    let mut server = NatsServer::start(&[]);
    let _sidecar = Sidecar::start(&server.url(), "stop", "a", &["--size", "1"], &[]);
    let mut remote = options(&server.url(), "stop");
    remote.lost_after = Duration::from_millis(800);
    let pool = RemotePool::connect(remote).await.unwrap();
    let pending = submit(&pool, request(&pool, "sleep", "3000"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.kill();
    assert_eq!(code(&pending.await.unwrap()), Some(ErrorCode::Connection));
    let later = outcome(&pool, "echo", json!(1), None, 0).await;
    assert_eq!(code(&later), Some(ErrorCode::Connection), "{later:?}");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_sidecar_cannot_hand_the_client_what_is_not_json() {
    // A peer on the service's subject that answers garbage, as a broken or
    // hostile sidecar would: the client settles each request with a
    // protocol error, and NATS's max_payload bounds what it can send.
    use futures_util::StreamExt;
    let dir = support::temp_dir("hostile");
    let conf = dir.join("small.conf");
    std::fs::write(&conf, "max_payload: 65536\n").unwrap();
    let server = NatsServer::start(&["-c", conf.to_str().unwrap()]);
    let hostile = async_nats::connect(server.url()).await.unwrap();
    let mut requests = hostile
        .queue_subscribe(
            forkwire_nats::protocol::request_subject("hostile"),
            "q".into(),
        )
        .await
        .unwrap();
    hostile.flush().await.unwrap();
    let answers: Vec<&[u8]> = vec![b"{\"unterminated", b"\xff\xfe", b"1 2 3", b"]"];
    let replier = {
        let hostile = hostile.clone();
        let answers: Vec<Vec<u8>> = answers.iter().map(|a| a.to_vec()).collect();
        tokio::spawn(async move {
            for answer in answers {
                let request = requests.next().await.unwrap();
                hostile
                    .publish(request.reply.unwrap(), answer.into())
                    .await
                    .unwrap();
            }
        })
    };
    let pool = RemotePool::connect(options(&server.url(), "hostile"))
        .await
        .unwrap();
    for _ in 0..answers.len() {
        let o = outcome(&pool, "echo", json!(1), Some(Duration::from_secs(5)), 0).await;
        assert_eq!(code(&o), Some(ErrorCode::Protocol), "{o:?}");
    }
    replier.await.unwrap();
    // A request larger than the server takes fails at once.
    let big = outcome(
        &pool,
        "echo",
        json!("x".repeat(100_000)),
        Some(Duration::from_secs(5)),
        0,
    )
    .await;
    assert_eq!(code(&big), Some(ErrorCode::Serialize), "{big:?}");
    pool.close().await;
    std::fs::remove_dir_all(dir).ok();
}
