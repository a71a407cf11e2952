//! A worker that answers the vocabulary of the classic Node IPC patterns
//! (request/response with ids, heartbeats, health checks, validation), so
//! that parent code written for a Node `worker.js` drives it unchanged.
//!
//! Build: `cargo build --release -p forkwire --example seed_worker`, then
//! from Node: `fork(anyPath, [], { execPath: 'target/release/examples/seed_worker' })`.
//!
//! - `{id, data}` → `{id, result: data.n * 2}` when `data.n` is a number,
//!   else `{id, result: data}`.
//! - `data.sleep: ms` answers after `ms` without holding up other requests;
//!   `data.fail: msg` → `{id, error: msg}`; `data.exit: code` exits;
//!   `data.hang: true` stops answering anything while staying alive.
//! - `{id, type: 'forkwire:batch', data: [item, ...]}` (what
//!   `requestMany(items, { batchSize })` sends) → `{id, result: {results:
//!   [...]}}`, each item answered as `data` is above (`fail` fails the
//!   batch; the other control members are not acted on in a batch).
//! - `{type: 'heartbeat-request'}`, `{type: 'health-check'}`,
//!   `{type: 'ping'}` are answered; other typed notifications are accepted.
//! - Non-objects and objects without `id` or `type` get the validation
//!   errors of the seed's worker.

use forkwire::{Channel, Mode, Sender};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Worker {
    out: Sender,
    started: Instant,
    tasks: AtomicU64,
    errors: AtomicU64,
    hung: AtomicBool,
}

fn main() {
    let channel = match Channel::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("seed_worker: {e}");
            std::process::exit(2);
        }
    };
    let worker = Arc::new(Worker {
        out: channel.sender(),
        started: Instant::now(),
        tasks: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        hung: AtomicBool::new(false),
    });
    let mode = channel.mode();
    let (_, mut incoming) = channel.split();
    loop {
        // Answer everything already received, then write the replies in
        // one go before waiting for more.
        let frame = match incoming.try_recv_frame() {
            Some(frame) => frame,
            None => {
                let _ = worker.out.flush();
                match incoming.recv_frame() {
                    Ok(Some(frame)) => Ok(frame),
                    Ok(None) => break,
                    Err(e) => Err(e),
                }
            }
        };
        let handled = frame.and_then(|frame| {
            if worker.hung.load(Ordering::Relaxed)
                || (mode == Mode::Json && worker.handle_simple(frame))
            {
                return Ok(());
            }
            let msg = forkwire::codec::decode_frame::<Value>(mode, frame)
                .map_err(forkwire::ChannelError::Decode)?;
            worker.handle(msg);
            Ok(())
        });
        match handled {
            Ok(()) => {}
            Err(e) if e.is_recoverable() || matches!(e, forkwire::ChannelError::Frame(_)) => {
                worker.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("seed_worker: {e}");
            }
            Err(e) => {
                eprintln!("seed_worker: {e}");
                break;
            }
        }
    }
    // The parent disconnected.
    std::process::exit(0);
}

/// `{id, data}` with nothing else of note, its members left as JSON text.
#[derive(Deserialize)]
struct Simple<'a> {
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(borrow, default, rename = "type")]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// The members of `data` that change what the worker does; a member that
/// is there holds `Some`, even when it is `null` (as the full path sees it).
#[derive(Deserialize)]
struct Controls<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    n: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    sleep: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    fail: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    exit: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    hang: Option<&'a RawValue>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

impl Controls<'_> {
    /// Whether the full path must act on this request.
    fn acts(&self) -> bool {
        self.sleep.is_some() || self.fail.is_some() || self.exit.is_some() || self.hang.is_some()
    }
}

#[derive(Serialize)]
struct Reply<'a, R: Serialize> {
    id: &'a RawValue,
    result: R,
}

#[derive(Serialize)]
struct Failure<'a> {
    id: &'a RawValue,
    error: &'a RawValue,
}

/// The `type` of a batch request, as JSON text.
const BATCH_TYPE: &str = "\"forkwire:batch\"";

/// What the common path answers for `data`.
enum Answer<'a> {
    Doubled(f64),
    Echo(Option<&'a RawValue>),
}

impl Serialize for Answer<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Answer::Doubled(n) => s.serialize_f64(*n),
            Answer::Echo(Some(data)) => data.serialize(s),
            Answer::Echo(None) => s.serialize_unit(),
        }
    }
}

/// The control members of `data`: `Ok(None)` when it is not an object,
/// `Err` when it is one that does not read as [`Controls`] (a repeated
/// member, say), which the full path then answers.
fn controls(data: Option<&RawValue>) -> Result<Option<Controls<'_>>, ()> {
    match data.filter(|d| d.get().starts_with('{')) {
        Some(d) => serde_json::from_str(d.get()).map(Some).map_err(|_| ()),
        None => Ok(None),
    }
}

/// `data.n * 2` when `n` is a number, else `data` itself.
fn answer<'a>(data: Option<&'a RawValue>, controls: Option<&Controls<'a>>) -> Answer<'a> {
    match controls
        .and_then(|c| c.n)
        .map(|n| serde_json::from_str::<f64>(n.get()))
    {
        Some(Ok(n)) => Answer::Doubled(n * 2.0),
        _ => Answer::Echo(data),
    }
}

/// The result of a batch request: `{results: [...]}`, so that a worker
/// that merely echoes `data` cannot pass for one that answers batches.
#[derive(Serialize)]
struct BatchResult<T: Serialize> {
    results: Vec<T>,
}

impl Worker {
    /// The common requests, answered without building a `Value`: `{id,
    /// data}` where `data.n` is a number (doubled) or `data` has none of
    /// the control members (echoed as the text it came as), and batches
    /// of such items. False for anything else, and for frames with `\ud`
    /// escapes (lone surrogates, which the full path reads as U+FFFD):
    /// those take the full path.
    fn handle_simple(&self, frame: &[u8]) -> bool {
        // Only an object is a request (a struct would also read an array).
        if !frame.starts_with(b"{") || frame.windows(3).any(|w| w == b"\\ud" || w == b"\\uD") {
            return false;
        }
        let Ok(Simple { id, kind, data }) = serde_json::from_slice::<Simple>(frame) else {
            return false;
        };
        match kind.map(RawValue::get) {
            None => {}
            Some(BATCH_TYPE) => return self.handle_batch(id, data),
            Some(_) => return false,
        }
        let Ok(controls) = controls(data) else {
            return false;
        };
        if controls.as_ref().is_some_and(Controls::acts) {
            return false;
        }
        self.tasks.fetch_add(1, Ordering::Relaxed);
        let result = answer(data, controls.as_ref());
        self.send(&Reply { id, result });
        true
    }

    /// `{id, type: 'forkwire:batch', data: [item, ...]}`: each item answered
    /// as the common path answers `data`, all in one reply `{id, result:
    /// {results: [...]}}`; an item's `fail` fails the whole batch with its
    /// message (the other control members are not acted on in a batch).
    /// False (the full path answers it) unless every item reads plainly.
    fn handle_batch(&self, id: &RawValue, data: Option<&RawValue>) -> bool {
        let Some(Ok(items)) = data.map(|d| serde_json::from_str::<Vec<&RawValue>>(d.get())) else {
            return false;
        };
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            let Ok(controls) = controls(Some(item)) else {
                return false;
            };
            if let Some(error) = controls.as_ref().and_then(|c| c.fail) {
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.send(&Failure { id, error });
                return true;
            }
            results.push(answer(Some(item), controls.as_ref()));
        }
        self.tasks
            .fetch_add(results.len() as u64, Ordering::Relaxed);
        self.send(&Reply {
            id,
            result: BatchResult { results },
        });
        true
    }

    /// A batch on the full path: as [`Worker::handle_batch`], with values.
    fn batch(&self, id: Value, data: Value) {
        let Value::Array(items) = data else {
            self.errors.fetch_add(1, Ordering::Relaxed);
            let error = "a forkwire:batch request needs an array of items as data";
            self.reply(json!({ "id": id, "error": error }));
            return;
        };
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            if let Some(error) = item.get("fail") {
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.reply(json!({ "id": id, "error": error }));
                return;
            }
            results.push(match item.get("n").and_then(Value::as_f64) {
                Some(n) => json!(n * 2.0),
                None => item,
            });
        }
        self.tasks
            .fetch_add(results.len() as u64, Ordering::Relaxed);
        self.reply(json!({ "id": id, "result": BatchResult { results } }));
    }

    /// Replies from the reading thread wait for the next flush.
    fn send<T: Serialize>(&self, msg: &T) {
        if let Err(e) = self.out.send_deferred(msg) {
            eprintln!("seed_worker: cannot reply: {e}");
        }
    }

    fn handle(self: &Arc<Self>, msg: Value) {
        let Value::Object(obj) = msg else {
            self.reply(json!({ "error": "Invalid message format", "received": js_typeof(&msg) }));
            return;
        };
        let kind = obj.get("type").and_then(Value::as_str);
        match (obj.get("id"), kind) {
            (_, Some("cancel")) => {}
            (Some(id), Some("forkwire:batch")) => {
                self.batch(id.clone(), obj.get("data").cloned().unwrap_or(Value::Null))
            }
            (Some(id), _) => {
                self.request(id.clone(), obj.get("data").cloned().unwrap_or(Value::Null))
            }
            (None, Some("heartbeat-request")) => {
                self.reply(json!({ "type": "heartbeat", "timestamp": now_ms() }));
            }
            (None, Some("health-check")) => self.reply(self.health()),
            (None, Some("ping")) => {
                self.reply(json!({ "type": "pong", "pid": std::process::id() }))
            }
            (None, Some(_)) => {}
            (None, None) if obj.contains_key("type") => {}
            (None, None) => self.reply(json!({ "error": "Missing message type" })),
        }
    }

    fn request(self: &Arc<Self>, id: Value, data: Value) {
        self.tasks.fetch_add(1, Ordering::Relaxed);
        let field = |k: &str| data.as_object().and_then(|o: &Map<String, Value>| o.get(k));
        if let Some(code) = field("exit") {
            // Replies to earlier requests are still owed.
            let _ = self.out.flush();
            std::process::exit(code.as_i64().unwrap_or(1) as i32);
        }
        if field("hang").and_then(Value::as_bool) == Some(true) {
            self.hung.store(true, Ordering::Relaxed);
            let _ = self.out.flush();
            return;
        }
        if let Some(message) = field("fail") {
            self.errors.fetch_add(1, Ordering::Relaxed);
            let message = message
                .as_str()
                .map_or_else(|| message.to_string(), str::to_owned);
            self.reply(json!({ "id": id, "error": message }));
            return;
        }
        let result = match field("n").and_then(Value::as_f64) {
            Some(n) => json!(n * 2.0),
            None => data.clone(),
        };
        match field("sleep").and_then(Value::as_f64) {
            Some(ms) if ms > 0.0 => {
                let me = Arc::clone(self);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs_f64(ms / 1000.0));
                    if !me.hung.load(Ordering::Relaxed) {
                        me.reply_now(json!({ "id": id, "result": result }));
                    }
                });
            }
            _ => self.reply(json!({ "id": id, "result": result })),
        }
    }

    fn health(&self) -> Value {
        json!({
            "type": "health-status",
            "healthy": true,
            "metrics": {
                "memory": rss_bytes(),
                "taskCount": self.tasks.load(Ordering::Relaxed),
                "errors": self.errors.load(Ordering::Relaxed),
                "uptime": self.started.elapsed().as_secs_f64(),
            }
        })
    }

    /// A reply built as a `Value` (see [`Worker::send`]).
    fn reply(&self, msg: Value) {
        self.send(&msg);
    }

    /// Replies from other threads are written at once.
    fn reply_now(&self, msg: Value) {
        if let Err(e) = self.out.send(&msg) {
            eprintln!("seed_worker: cannot reply: {e}");
        }
    }
}

/// The JavaScript `typeof` of a decoded JSON value.
fn js_typeof(v: &Value) -> &'static str {
    match v {
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Bool(_) => "boolean",
        Value::Null | Value::Array(_) | Value::Object(_) => "object",
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Resident set size from /proc, in bytes (0 where unavailable).
fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(0) as u64
}
