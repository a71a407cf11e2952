//! Hostile workers against a Rust parent (issue 11): `forkwire::pool::Pool`
//! with Node workers that attack on request
//! (`__test__/fixtures/hostile/worker.js`, shared with the jest suite), the
//! Rust seed_worker, and `/bin/sh` for a worker whose own child inherits
//! the channel. Each test asserts that this process's RSS grows less than
//! a bound computed from the pool's options, that every request settles
//! exactly once, that a healthy worker of the same pool keeps serving,
//! that `close()` returns within its timeout plus 2 s, and that the
//! engine's threads and this process's descriptors come back to where they
//! were. A slow consumer (the JS thread kept busy in the jest suite) is an
//! event handler that blocks: the reader that calls it stops reading.

mod support;

use forkwire::channel::HandleKind;
use forkwire::codec::{self, Mode};
use forkwire::pool::{
    Body, CloseOptions, Completion, ErrorCode, Outcome, Payload, Pool, PoolEvent, PoolOptions,
    Request, RestartPolicy, Target,
};
use forkwire::process::Command;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use support::{alive, example, own_rss};

const MIB: usize = 1 << 20;
/// The frame limit the hostile pools run with.
const MAX_FRAME: usize = MIB;
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long any one step may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(5);
/// RSS at which the sampler aborts this process (a safety net on a shared
/// machine against an unbounded attack).
const RSS_CAP: u64 = 3 << 30;

/// Threads, descriptors and RSS are per process: one test at a time, each
/// holding the lock from its first line (a listener bound by a test still
/// waiting would count as a descriptor of the running one).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn worker_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/hostile/worker.js")
}

/// Peak RSS, sampled every 20 ms on a thread of its own.
fn peak_rss() -> &'static AtomicU64 {
    static PEAK: OnceLock<&'static AtomicU64> = OnceLock::new();
    PEAK.get_or_init(|| {
        let peak: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(own_rss())));
        std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || loop {
                let now = own_rss();
                peak.fetch_max(now, Ordering::SeqCst);
                if now > RSS_CAP {
                    eprintln!("hostile: RSS {} MiB passed the cap: aborting", now >> 20);
                    std::process::abort();
                }
                std::thread::sleep(Duration::from_millis(20));
            })
            .unwrap();
        peak
    })
}

/// Threads the engine runs (all named `forkwire-*`).
fn engine_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("forkwire"))
        .count()
}

/// Open descriptors of this process, not counting those on /proc (the
/// RSS sampler's own short-lived reads).
fn open_fds() -> usize {
    fd_targets()
        .iter()
        .filter(|t| !t.contains(": /proc/"))
        .count()
}

/// What this process's descriptors point at.
fn fd_targets() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .map(|e| {
            let target = std::fs::read_link(e.path()).map(|t| t.display().to_string());
            format!(
                "{}: {}",
                e.file_name().to_string_lossy(),
                target.unwrap_or_default()
            )
        })
        .collect()
}

/// The children of `pid`.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                out.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
    }
    out
}

fn kill(pid: u32, signal: i32) {
    // SAFETY: a signal to a process this test started.
    unsafe { libc::kill(pid as i32, signal) };
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What the pool reported, counted.
#[derive(Default)]
struct Log {
    protocol_errors: Mutex<HashMap<usize, usize>>,
    messages: AtomicUsize,
    errors: Mutex<Vec<String>>,
    floods: AtomicUsize,
    floods_in_order: AtomicBool,
    /// The first protocol error or flood event blocks its reader this long.
    stall: Mutex<Option<Duration>>,
}

impl Log {
    /// A log whose first protocol error or flood event blocks its reader
    /// for `secs` seconds.
    fn stalling(secs: u64) -> Log {
        Log {
            stall: Mutex::new(Some(Duration::from_secs(secs))),
            ..Log::default()
        }
    }

    fn protocol_errors_of(&self, worker: usize) -> usize {
        self.protocol_errors
            .lock()
            .unwrap()
            .get(&worker)
            .copied()
            .unwrap_or(0)
    }

    fn stall_once(&self) {
        let stall = self.stall.lock().unwrap().take();
        if let Some(d) = stall {
            std::thread::sleep(d);
        }
    }

    fn on_event(&self, event: PoolEvent) {
        match event {
            PoolEvent::ProtocolError { worker, .. } => {
                *self
                    .protocol_errors
                    .lock()
                    .unwrap()
                    .entry(worker)
                    .or_default() += 1;
                self.stall_once();
            }
            PoolEvent::Message { payload, .. } => {
                self.messages.fetch_add(1, Ordering::SeqCst);
                let text = match &payload {
                    Payload::Json(Some(t)) => t.as_str(),
                    _ => "",
                };
                if text.contains("\"flood\"") {
                    let msg: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                    let n = self.floods.fetch_add(1, Ordering::SeqCst);
                    if msg["i"].as_u64() != Some(n as u64) {
                        self.floods_in_order.store(false, Ordering::SeqCst);
                    }
                    self.stall_once();
                }
            }
            PoolEvent::Error(e) => self.errors.lock().unwrap().push(e.to_string()),
            _ => {}
        }
    }
}

/// A pool under attack, with what is needed to check it afterwards.
struct Case {
    pool: Arc<Pool>,
    mode: Mode,
    size: usize,
    max_frame: usize,
    log: Arc<Log>,
    /// Outcomes delivered per request id (each must be 1).
    settled: Arc<Mutex<HashMap<u64, usize>>>,
    engine_before: usize,
    fds_before: usize,
    rss_before: u64,
}

/// Options for `size` Node workers running `attack` in `mode`.
fn node_options(attack: &str, mode: Mode, size: usize) -> PoolOptions {
    let mut cmd = Command::node_with("node", std::iter::empty::<&str>(), worker_script());
    cmd.args([attack, mode.as_str()]).serialization(mode);
    let mut o = PoolOptions::new(cmd);
    o.size = size;
    o.timeout = Some(Duration::from_secs(5));
    o.max_frame = MAX_FRAME;
    o
}

impl Case {
    fn open(options: PoolOptions) -> Case {
        Self::open_with(options, Log::default())
    }

    fn open_with(options: PoolOptions, log: Log) -> Case {
        peak_rss();
        let engine_before = engine_threads();
        let fds_before = open_fds();
        let (mode, size, max_frame) = (options.command.mode(), options.size, options.max_frame);
        let log = Arc::new(Log {
            floods_in_order: AtomicBool::new(true),
            ..log
        });
        let sink = Arc::clone(&log);
        let pool = Pool::with_events(options, Arc::new(move |e| sink.on_event(e))).unwrap();
        let mut case = Case {
            pool: Arc::new(pool),
            mode,
            size,
            max_frame,
            log,
            settled: Arc::default(),
            engine_before,
            fds_before,
            rss_before: 0,
        };
        // Every worker up.
        for w in 0..size {
            let out = case.wait(case.request(json!({ "up": w }), None, Target::Worker(w), None));
            assert!(!matches!(out, Outcome::Failed(_)), "worker {w}: {out:?}");
        }
        case.rss_before = own_rss();
        peak_rss().store(case.rss_before, Ordering::SeqCst);
        case
    }

    /// Submits a request; its outcome arrives on the receiver.
    fn request(
        &self,
        data: Value,
        kind: Option<&str>,
        target: Target,
        timeout: Option<Duration>,
    ) -> mpsc::Receiver<Outcome> {
        let id = self.pool.next_id();
        let body = match self.mode {
            Mode::Json => Body::Json {
                data: Some(data.to_string()),
                kind: kind.map(str::to_owned),
            },
            Mode::Advanced => {
                let mut envelope = json!({ "id": id });
                if let Some(k) = kind {
                    envelope["type"] = json!(k);
                }
                envelope["data"] = data;
                let mut frame = Vec::new();
                codec::encode_frame(Mode::Advanced, &envelope, &mut frame).unwrap();
                Body::Frame(frame)
            }
        };
        let (done, rx) = self.done(id);
        self.pool.submit(Request {
            id,
            body,
            timeout,
            target,
            retries: None,
            done,
        });
        rx
    }

    /// A completion for request `id` that counts its calls and passes the
    /// outcome on.
    fn done(&self, id: u64) -> (Completion, mpsc::Receiver<Outcome>) {
        let (tx, rx) = mpsc::channel();
        self.settled.lock().unwrap().insert(id, 0);
        let settled = Arc::clone(&self.settled);
        let done: Completion = Box::new(move |outcome| {
            *settled.lock().unwrap().entry(id).or_default() += 1;
            let _ = tx.send(outcome);
        });
        (done, rx)
    }

    fn wait(&self, rx: mpsc::Receiver<Outcome>) -> Outcome {
        rx.recv_timeout(LIMIT)
            .expect("the request settles within the limit")
    }

    fn attack(
        &self,
        worker: usize,
        data: Value,
        timeout: Option<Duration>,
    ) -> mpsc::Receiver<Outcome> {
        self.request(data, Some("attack"), Target::Worker(worker), timeout)
    }

    /// The value of a result, decoded (advanced: the `result` member).
    fn value(&self, outcome: Outcome) -> Result<Value, String> {
        match outcome {
            Outcome::Result {
                result: Payload::Json(Some(text)),
                ..
            } => serde_json::from_str(&text).map_err(|e| e.to_string()),
            Outcome::Result {
                result: Payload::Json(None),
                ..
            } => Ok(Value::Null),
            Outcome::Result {
                result: Payload::Frame(bytes),
                ..
            } => codec::decode_frame::<Value>(self.mode, &bytes)
                .map(|whole| whole["result"].clone())
                .map_err(|e| format!("decode: {e}")),
            Outcome::RemoteError { .. } => Err("remote error".into()),
            Outcome::Failed(e) => Err(e.code.as_str().into()),
        }
    }

    /// Worker `worker` answers an echo.
    fn healthy(&self, worker: usize) {
        let out = self.wait(self.request(
            json!({ "ping": worker }),
            None,
            Target::Worker(worker),
            Some(Duration::from_secs(3)),
        ));
        assert_eq!(self.value(out), Ok(json!({ "ping": worker })));
    }

    /// Every request settled, each once, and the engine agrees.
    fn all_settled(&self) {
        wait_until("every request settling", LIMIT, || {
            self.settled.lock().unwrap().values().all(|&n| n >= 1)
        });
        std::thread::sleep(Duration::from_millis(50));
        let settled = self.settled.lock().unwrap();
        let twice: Vec<_> = settled.iter().filter(|(_, &n)| n != 1).collect();
        assert!(twice.is_empty(), "settled other than once: {twice:?}");
        let stats = self.pool.stats();
        assert_eq!((stats.in_flight, stats.queued), (0, 0));
        assert_eq!(stats.completed + stats.failed, settled.len() as u64);
    }

    /// The RSS bound, close() in time, threads and descriptors back.
    fn finish(self, extra: u64) -> Duration {
        let grew = peak_rss()
            .load(Ordering::SeqCst)
            .saturating_sub(self.rss_before);
        // Per worker a frame being received and one being decoded, twice
        // over for copies, plus 48 MiB of slack for the test's own values.
        let bound = 48 * MIB as u64 + 4 * (self.size * self.max_frame) as u64 + extra;
        assert!(
            grew < bound,
            "RSS grew by {} KiB (bound {} KiB)",
            grew >> 10,
            bound >> 10
        );
        let (tx, rx) = mpsc::channel();
        let pool = Arc::clone(&self.pool);
        let started = Instant::now();
        std::thread::spawn(move || {
            pool.close(CloseOptions {
                drain: false,
                timeout: CLOSE_TIMEOUT,
            });
            let _ = tx.send(());
        });
        rx.recv_timeout(CLOSE_TIMEOUT + Duration::from_secs(2))
            .expect("close() returns within its timeout + 2 s");
        let took = started.elapsed();
        let (engine, fds) = (self.engine_before, self.fds_before);
        drop(self);
        let back = || engine_threads() <= engine && open_fds() <= fds;
        let deadline = Instant::now() + Duration::from_secs(3);
        while !back() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            engine_threads() <= engine,
            "engine threads: {} (before {engine})",
            engine_threads()
        );
        assert!(
            open_fds() <= fds,
            "descriptors: {} (before {fds}): {:?}",
            open_fds(),
            fd_targets()
        );
        took
    }
}

fn code(outcome: &Outcome) -> Option<ErrorCode> {
    match outcome {
        Outcome::Failed(e) => Some(e.code),
        _ => None,
    }
}

// ---------------------------------------------------------------- (a) ----

#[test]
fn a_bomb_in_version_fails_that_request_without_expanding() {
    let _serial = serial();
    let mut o = node_options("bomb-version", Mode::Advanced, 2);
    o.protocol_version = Some("\"1.0\"".into());
    let case = Case::open(o);
    let t0 = Instant::now();
    let out = case.wait(case.attack(0, Value::Null, None));
    assert!(
        matches!(code(&out), Some(ErrorCode::Version | ErrorCode::Protocol)),
        "{out:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    case.healthy(1);
    case.healthy(0);
    case.all_settled();
    case.finish(0);
}

#[test]
fn a_bomb_as_result_error_or_event_settles_at_once_and_decodes_to_an_error() {
    let _serial = serial();
    for attack in ["bomb-result", "bomb-error", "bomb-event"] {
        let case = Case::open(node_options(attack, Mode::Advanced, 2));
        let t0 = Instant::now();
        let out = case.wait(case.attack(0, Value::Null, None));
        match attack {
            // Turning it into a serde_json::Value would take 2^40 nodes: the
            // expansion budget stops it.
            "bomb-result" => {
                let err = case.value(out).expect_err("a bomb cannot become a tree");
                assert!(err.contains("decode") || err.contains("PROTOCOL"), "{err}");
            }
            "bomb-error" => match out {
                Outcome::RemoteError {
                    error: Payload::Frame(bytes),
                    ..
                } => assert!(codec::decode_frame::<Value>(Mode::Advanced, &bytes).is_err()),
                Outcome::Failed(_) => {}
                other => panic!("{other:?}"),
            },
            _ => assert_eq!(case.value(out), Ok(json!(1))),
        }
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "{attack}: {:?}",
            t0.elapsed()
        );
        case.healthy(1);
        case.all_settled();
        case.finish(0);
    }
}

#[test]
fn a_sparse_array_of_length_2_pow_32_does_not_expand() {
    let _serial = serial();
    let case = Case::open(node_options("sparse-result", Mode::Advanced, 2));
    let t0 = Instant::now();
    let out = case.wait(case.attack(0, Value::Null, None));
    assert!(
        case.value(out).is_err(),
        "2^32 - 1 elements cannot be a Vec"
    );
    assert!(t0.elapsed() < Duration::from_secs(2));
    case.healthy(1);
    case.all_settled();
    case.finish(0);
}

// ---------------------------------------------------------------- (b) ----

#[test]
fn huge_length_headers_cost_what_was_received() {
    let _serial = serial();
    let case = Case::open(node_options("huge-header", Mode::Advanced, 3));
    let attacks: Vec<_> = [0, 1]
        .into_iter()
        .map(|w| case.attack(w, Value::Null, Some(Duration::from_secs(1))))
        .collect();
    wait_until("a protocol error from each attacker", LIMIT, || {
        case.log.protocol_errors_of(0) > 0 && case.log.protocol_errors_of(1) > 0
    });
    for rx in attacks {
        assert_eq!(code(&case.wait(rx)), Some(ErrorCode::Timeout));
    }
    case.healthy(2);
    case.all_settled();
    case.finish(0);
}

// ---------------------------------------------------------------- (c) ----

#[test]
fn a_reply_v8_would_refuse_costs_at_most_its_request() {
    let _serial = serial();
    let mut o = node_options("bad-regexp", Mode::Advanced, 2);
    o.concurrency = 2;
    let case = Case::open(o);
    let bad = case.attack(0, Value::Null, None);
    let partner = case.request(json!({ "partner": 1 }), None, Target::Worker(0), None);
    // The Rust decoder may read /(/ (it is V8's parser that refuses it):
    // either way the request settles and its batch partner is answered.
    let _ = case.wait(bad);
    assert_eq!(case.value(case.wait(partner)), Ok(json!({ "partner": 1 })));
    case.healthy(1);
    case.healthy(0);
    case.all_settled();
    case.finish(0);
}

// ---------------------------------------------------------------- (d) ----

#[test]
fn a_20_mb_node_line_is_skipped_past_max_frame() {
    let _serial = serial();
    let case = Case::open(node_options("node-line", Mode::Json, 2));
    let out = case.wait(case.attack(0, json!({ "mib": 20 }), None));
    assert!(case.value(out).unwrap()["wrote"].as_u64().unwrap() > 20_000_000);
    assert!(case.log.protocol_errors_of(0) > 0);
    assert_eq!(
        case.log.messages.load(Ordering::SeqCst),
        0,
        "the line is not a message"
    );
    case.healthy(1);
    case.all_settled();
    case.finish(0);
}

// ---------------------------------------------------------------- (e) ----

#[test]
fn millions_of_bad_lines_with_a_stalled_consumer_stay_bounded() {
    let _serial = serial();
    let case = Case::open_with(node_options("bad-lines", Mode::Json, 2), Log::stalling(3));
    let rx = case.attack(0, json!({ "mib": 8 }), Some(Duration::from_secs(20)));
    let out = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the reply behind 4 M bad lines");
    assert_eq!(case.value(out), Ok(json!({ "lines": 4 * MIB })));
    case.healthy(1);
    case.all_settled();
    case.finish(0);
}

// ---------------------------------------------------------------- (f) ----

#[test]
fn an_infinite_timeout_with_max_protocol_errors_keeps_serving() {
    let _serial = serial();
    let mut o = node_options("few-bad-lines", Mode::Json, 2);
    o.timeout = Some(Duration::MAX);
    o.max_protocol_errors = Some(3);
    let case = Case::open(o);
    let attack = case.attack(0, json!({ "count": 5 }), None);
    wait_until("3 protocol errors", LIMIT, || {
        case.log.protocol_errors_of(0) >= 3
    });
    let _ = case.wait(attack);
    // Later requests, with the pool's (infinite) timeout.
    let later: Vec<_> = (0..8)
        .map(|i| case.request(json!({ "later": i }), None, Target::Any, None))
        .collect();
    for (i, rx) in later.into_iter().enumerate() {
        assert_eq!(case.value(case.wait(rx)), Ok(json!({ "later": i })));
    }
    case.healthy(1);
    case.healthy(0);
    case.all_settled();
    let took = case.finish(0);
    assert!(took < CLOSE_TIMEOUT, "close() took {took:?}");
}

// ---------------------------------------------------------------- (g) ----

#[test]
fn a_grandchild_holding_the_channel_does_not_hang_close() {
    let _serial = serial();
    let tag = format!("299.{}", std::process::id());
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("sleep {tag} & exec \"$0\" \"$@\""))
        .arg("node")
        .arg(worker_script())
        .args(["none", "json"]);
    let mut o = PoolOptions::new(cmd);
    o.size = 2;
    o.max_frame = MAX_FRAME;
    o.restart = RestartPolicy {
        enabled: false,
        ..RestartPolicy::default()
    };
    let case = Case::open(o);
    let pids: Vec<u32> = case
        .pool
        .stats()
        .workers
        .iter()
        .filter_map(|w| w.pid)
        .collect();
    let sleepers: Vec<u32> = pids.iter().flat_map(|&p| children(p)).collect();
    assert_eq!(sleepers.len(), 2, "one sleep per worker");
    let in_flight = case.request(json!({ "sleep": 10_000 }), None, Target::Worker(0), None);
    std::thread::sleep(Duration::from_millis(100));
    kill(pids[0], libc::SIGKILL);
    assert_eq!(code(&case.wait(in_flight)), Some(ErrorCode::WorkerExited));
    case.healthy(1);
    case.all_settled();
    // Worker 1 is closed with its grandchild holding its channel too.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case.finish(0)));
    let held = sleepers.iter().all(|&p| alive(p));
    for &p in &sleepers {
        kill(p, libc::SIGKILL);
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    assert!(
        held,
        "the grandchildren were still there when close() returned"
    );
}

// ---------------------------------------------------------------- (h) ----

#[test]
fn a_handle_to_a_worker_that_takes_none_is_delivered() {
    let _serial = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut o = PoolOptions::new(Command::new(example("seed_worker")));
    o.size = 2;
    o.max_frame = MAX_FRAME;
    let case = Case::open(o);
    let pid0 = case.pool.stats().workers[0].pid.unwrap();
    let worker_fds = std::fs::read_dir(format!("/proc/{pid0}/fd"))
        .unwrap()
        .count();
    let id = case.pool.next_id();
    let (done, rx) = case.done(id);
    case.pool.submit_with_handle(
        Request {
            timeout: Some(Duration::from_secs(3)),
            target: Target::Worker(0),
            ..Request::json(id, r#"{"n":2}"#, done)
        },
        listener.try_clone().unwrap().into(),
        HandleKind::NetServer,
    );
    // Answered, not refused.
    assert_eq!(case.value(case.wait(rx)), Ok(json!(4)));
    assert!(case
        .pool
        .send_with_handle(
            0,
            &json!({ "type": "notification" }),
            &listener,
            HandleKind::NetServer
        )
        .unwrap());
    // Behind the handle, the channel goes on.
    let after = case.request(json!({ "n": 5 }), None, Target::Worker(0), None);
    assert_eq!(case.value(case.wait(after)), Ok(json!(10)));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(*case.log.errors.lock().unwrap(), Vec::<String>::new());
    wait_until("the worker closing what it was sent", LIMIT, || {
        std::fs::read_dir(format!("/proc/{pid0}/fd"))
            .unwrap()
            .count()
            <= worker_fds
    });
    let probe = case.request(json!({ "n": 21 }), None, Target::Worker(1), None);
    assert_eq!(case.value(case.wait(probe)), Ok(json!(42)));
    case.all_settled();
    drop(listener);
    case.finish(0);
}

// ---------------------------------------------------------------- (i) ----

#[test]
fn frames_cut_at_every_boundary_fail_their_request_only() {
    let _serial = serial();
    for (attack, mode) in [
        ("half-json", Mode::Json),
        ("half-header", Mode::Advanced),
        ("header-only", Mode::Advanced),
        ("half-payload", Mode::Advanced),
    ] {
        let case = Case::open(node_options(attack, mode, 2));
        let old = case.pool.stats().workers[0].pid;
        match case.wait(case.attack(0, Value::Null, None)) {
            Outcome::Failed(e) => {
                assert_eq!(e.code, ErrorCode::WorkerExited, "{attack}");
                assert_eq!(e.exit.and_then(|s| s.code), Some(3), "{attack}");
            }
            other => panic!("{attack}: {other:?}"),
        }
        case.healthy(1);
        wait_until("worker 0 replaced", LIMIT, || {
            let now = case.pool.stats().workers[0].pid;
            now.is_some() && now != old
        });
        case.healthy(0);
        case.all_settled();
        case.finish(0);
    }
}

#[test]
fn a_worker_killed_mid_reply_fails_each_of_its_requests_once() {
    let _serial = serial();
    for mode in [Mode::Json, Mode::Advanced] {
        let mut o = node_options("exit-mid-frame", mode, 2);
        o.concurrency = 4;
        let case = Case::open(o);
        let mut rxs: Vec<_> = (0..3)
            .map(|_| case.request(json!({ "sleep": 5000 }), None, Target::Worker(0), None))
            .collect();
        rxs.push(case.attack(0, json!({ "mib": 0.5 }), None));
        for rx in rxs {
            assert_eq!(
                code(&case.wait(rx)),
                Some(ErrorCode::WorkerExited),
                "{mode}"
            );
        }
        case.healthy(1);
        case.all_settled();
        case.finish(0);
    }
}

#[test]
fn a_flood_of_events_with_a_stalled_consumer_is_delivered_in_order() {
    let _serial = serial();
    let case = Case::open_with(node_options("flood", Mode::Json, 2), Log::stalling(3));
    let rx = case.attack(0, json!({ "ms": 3000 }), Some(Duration::from_secs(20)));
    let out = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the reply after the flood");
    let sent = case.value(out).unwrap()["sent"].as_u64().unwrap() as usize;
    wait_until("every event", LIMIT, || {
        case.log.floods.load(Ordering::SeqCst) >= sent
    });
    assert_eq!(case.log.floods.load(Ordering::SeqCst), sent);
    assert!(case.log.floods_in_order.load(Ordering::SeqCst));
    case.healthy(1);
    case.all_settled();
    case.finish(0);
}

#[test]
fn a_worker_that_never_reads_costs_its_requests_only() {
    let _serial = serial();
    let mut o = node_options("never-read", Mode::Json, 2);
    o.concurrency = 64;
    let case = Case::open(o);
    let second = Some(Duration::from_secs(1));
    let stuck = case.attack(0, Value::Null, second);
    let big = "z".repeat(256 << 10);
    let to_stuck: Vec<_> = (0..40)
        .map(|_| case.request(json!({ "big": big }), None, Target::Worker(0), second))
        .collect();
    for _ in 0..20 {
        case.pool
            .send(0, &json!({ "type": "note", "big": big }))
            .unwrap();
    }
    case.healthy(1);
    assert_eq!(code(&case.wait(stuck)), Some(ErrorCode::Timeout));
    for rx in to_stuck {
        assert_eq!(code(&case.wait(rx)), Some(ErrorCode::Timeout));
    }
    case.healthy(1);
    case.all_settled();
    // The test's own 60 frames of 256 KB.
    case.finish(2 * 60 * (256 << 10));
}

#[test]
fn a_descriptor_flood_leaves_nothing_open() {
    let _serial = serial();
    let case = Case::open(node_options("fd-flood", Mode::Json, 2));
    let rx = case.attack(0, json!({ "count": 200 }), Some(Duration::from_secs(6)));
    let mut peak = open_fds();
    let out = loop {
        peak = peak.max(open_fds());
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(out) => break out,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(e) => panic!("{e}"),
        }
    };
    match case.value(out) {
        Ok(v) => assert_eq!(v, json!({ "sent": 200 })),
        Err(code) => assert_eq!(code, "ERR_FORKWIRE_TIMEOUT"),
    }
    assert!(
        peak < case.fds_before + 50,
        "{peak} descriptors at the peak ({} before)",
        case.fds_before
    );
    case.healthy(1);
    case.healthy(0);
    case.all_settled();
    case.finish(0);
}
