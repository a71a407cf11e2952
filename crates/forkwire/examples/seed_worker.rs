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
//!   `requestMany(items, { batchSize })` sends), or with `data: {type,
//!   items: [item, ...]}` (what it sends with a `type`) → `{id, result:
//!   {results: [...]}}`, each item answered as `data` is above, whatever
//!   its type (`fail` fails the batch; the other control members are not
//!   acted on in a batch).
//! - `{type: 'heartbeat-request'}`, `{type: 'health-check'}`,
//!   `{type: 'ping'}` are answered; other typed notifications are accepted.
//! - Non-objects and objects without `id` or `type` get the validation
//!   errors of the seed's worker.
//!
//! With `serialization: 'advanced'` messages are read as forkwire's
//! lossless V8 value, so what is echoed comes back as it went: `undefined`,
//! `Date`, `Buffer`, `Map`, `Set`, BigInt, shared and circular references.
//! A request that cannot be answered (a frame that does not decode, a
//! result that cannot be sent, such as one that refers back to the
//! request itself) gets `{id, error: {message, code}}` whenever its id can
//! be read (`ERR_BAD_REQUEST`, `ERR_BAD_RESULT`); a frame with no readable
//! id is reported on stderr and skipped.
//!
//! The full path runs on either kind of value (see [`Msg`]); json requests
//! of the common shapes take a faster path that builds no value at all.

use forkwire::codec::v8;
use forkwire::serve::{request_id, RequestId};
use forkwire::{Channel, ChannelError, Mode, Sender};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The code of the answer to a request that does not decode.
const BAD_REQUEST: &str = "ERR_BAD_REQUEST";
/// The code of the answer to a request whose result cannot be sent.
const BAD_RESULT: &str = "ERR_BAD_RESULT";

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
        let handled = frame.map(|frame| {
            if worker.hung.load(Ordering::Relaxed) {
                return;
            }
            match mode {
                Mode::Json if worker.handle_simple(frame) => {}
                Mode::Json => match forkwire::codec::json::decode::<Value>(frame) {
                    Ok(msg) => worker.handle(msg),
                    Err(e) => worker.undecodable(mode, frame, &e),
                },
                Mode::Advanced => match v8::decode(frame) {
                    Ok(msg) => worker.handle(msg),
                    Err(e) => worker.undecodable(mode, frame, &e),
                },
            }
        });
        match handled {
            Ok(()) => {}
            Err(e) if e.is_recoverable() || matches!(e, ChannelError::Frame(_)) => {
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

/// The data of a typed batch, `{type, items: [...]}`: this worker answers
/// items of every type alike, so only the items are read.
#[derive(Deserialize)]
struct TypedBatch<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

/// The items of a batch's `data`, `[item, ...]` or `{type, items: [...]}`.
fn batch_items(data: &RawValue) -> Option<Vec<&RawValue>> {
    match data.get().starts_with('{') {
        true => serde_json::from_str::<TypedBatch>(data.get())
            .ok()
            .map(|b| b.items),
        false => serde_json::from_str(data.get()).ok(),
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

    /// `{id, type: 'forkwire:batch', data: [item, ...]}` (or `data: {type,
    /// items}`): each item answered as the common path answers `data`, all
    /// in one reply `{id, result: {results: [...]}}`; an item's `fail` fails
    /// the whole batch with its message (the other control members are not
    /// acted on in a batch). False (the full path answers it) unless every
    /// item reads plainly.
    fn handle_batch(&self, id: &RawValue, data: Option<&RawValue>) -> bool {
        let Some(items) = data.and_then(batch_items) else {
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
    fn batch<M: Msg>(&self, id: M, data: M) {
        // `{type, items}`: the items (their type changes nothing here).
        let data = match data.member("items") {
            Some(items) => items.clone(),
            None => data,
        };
        let items = match data.into_items() {
            Ok(items) => items,
            Err(_) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                let error =
                    "a forkwire:batch request needs an array of items, or {type, items}, as data";
                self.reply_msg(M::reply(id, "error", M::from_json(json!(error))));
                return;
            }
        };
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            if let Some(error) = item.member("fail") {
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.reply_msg(M::reply(id, "error", error.clone()));
                return;
            }
            results.push(match item.member("n").and_then(Msg::as_number) {
                Some(n) => M::number(n * 2.0),
                None => item,
            });
        }
        self.tasks
            .fetch_add(results.len() as u64, Ordering::Relaxed);
        self.answer(id, M::results(results), false);
    }

    /// Replies from the reading thread wait for the next flush.
    fn send<T: Serialize>(&self, msg: &T) {
        if let Err(e) = self.out.send_deferred(msg) {
            eprintln!("seed_worker: cannot reply: {e}");
        }
    }

    /// The full path, for a message of either mode.
    fn handle<M: Msg>(self: &Arc<Self>, msg: M) {
        if !msg.is_object() {
            self.reply(json!({ "error": "Invalid message format", "received": msg.js_typeof() }));
            return;
        }
        let kind = msg.member("type").and_then(Msg::as_text);
        match (msg.member("id"), kind) {
            (_, Some("cancel")) => {}
            (Some(id), Some("forkwire:batch")) => self.batch(id.clone(), data_of(&msg)),
            (Some(id), _) => self.request(id.clone(), data_of(&msg)),
            (None, Some("heartbeat-request")) => {
                self.reply(json!({ "type": "heartbeat", "timestamp": now_ms() }));
            }
            (None, Some("health-check")) => self.reply(self.health()),
            (None, Some("ping")) => {
                self.reply(json!({ "type": "pong", "pid": std::process::id() }))
            }
            (None, Some(_)) => {}
            (None, None) if msg.member("type").is_some() => {}
            (None, None) => self.reply(json!({ "error": "Missing message type" })),
        }
    }

    fn request<M: Msg>(self: &Arc<Self>, id: M, data: M) {
        self.tasks.fetch_add(1, Ordering::Relaxed);
        let field = |k: &str| data.member(k);
        if let Some(code) = field("exit") {
            // Replies to earlier requests are still owed.
            let _ = self.out.flush();
            std::process::exit(code.as_integer().unwrap_or(1) as i32);
        }
        if field("hang").and_then(Msg::as_flag) == Some(true) {
            self.hung.store(true, Ordering::Relaxed);
            let _ = self.out.flush();
            return;
        }
        if let Some(message) = field("fail") {
            self.errors.fetch_add(1, Ordering::Relaxed);
            self.reply_msg(M::reply(id, "error", message.failure()));
            return;
        }
        let result = match field("n").and_then(Msg::as_number) {
            Some(n) => M::number(n * 2.0),
            None => data.clone(),
        };
        match field("sleep").and_then(Msg::as_number) {
            Some(ms) if ms > 0.0 => {
                let me = Arc::clone(self);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs_f64(ms / 1000.0));
                    if !me.hung.load(Ordering::Relaxed) {
                        me.answer(id, result, true);
                    }
                });
            }
            _ => self.answer(id, result, false),
        }
    }

    /// Sends `{id, result}`, from another thread at once (`now`); a result
    /// that cannot be sent is answered `{id, error}` instead.
    fn answer<M: Msg>(&self, id: M, result: M, now: bool) {
        let send = |msg: &M| {
            if now {
                self.out.send(msg)
            } else {
                self.out.send_deferred(msg)
            }
        };
        let e = match send(&M::reply(id.clone(), "result", result)) {
            Ok(()) => return,
            Err(ChannelError::Encode(e)) => e,
            Err(e) => {
                eprintln!("seed_worker: cannot reply: {e}");
                return;
            }
        };
        self.errors.fetch_add(1, Ordering::Relaxed);
        let error = M::from_json(json!({
            "message": format!("the result cannot be sent: {e}"),
            "code": BAD_RESULT,
        }));
        if let Err(e) = send(&M::reply(id, "error", error)) {
            eprintln!("seed_worker: cannot reply: {e}");
        }
    }

    /// A frame that does not decode: `{id, error}` if its id can be read,
    /// else a line on stderr.
    fn undecodable(&self, mode: Mode, frame: &[u8], cause: &dyn fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let error = json!({
            "message": format!("the request cannot be decoded: {cause}"),
            "code": BAD_REQUEST,
        });
        match request_id(mode, frame) {
            Some(RequestId::Json(id)) => self.send(&json!({ "id": id, "error": error })),
            Some(RequestId::V8(id)) => {
                self.send(&v8::Value::object([("id", id), ("error", error.into())]))
            }
            None => eprintln!("seed_worker: skipped a message with no readable id: {cause}"),
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

    /// A reply built as a message of the channel's mode.
    fn reply_msg<M: Msg>(&self, msg: M) {
        self.send(&msg);
    }
}

/// A request's `data`; `null` when it has none (or it is `undefined`), as
/// the Node seed worker has it.
fn data_of<M: Msg>(msg: &M) -> M {
    msg.member("data")
        .filter(|d| !d.is_undefined())
        .cloned()
        .unwrap_or_else(M::null)
}

/// What the full path needs of a message: `serde_json::Value` in json
/// mode, forkwire's lossless V8 [`v8::Value`] in advanced mode, so that
/// what is echoed there keeps everything it had.
trait Msg: Clone + Serialize + Send + 'static {
    /// Whether it is a plain object (a request or a notification).
    fn is_object(&self) -> bool;
    /// JavaScript's `typeof` of it.
    fn js_typeof(&self) -> &'static str;
    /// A property of a plain object.
    fn member(&self, name: &str) -> Option<&Self>;
    fn is_undefined(&self) -> bool;
    fn as_text(&self) -> Option<&str>;
    fn as_number(&self) -> Option<f64>;
    /// An integral number.
    fn as_integer(&self) -> Option<i64>;
    fn as_flag(&self) -> Option<bool>;
    /// The elements of an array; the value back if it is none.
    fn into_items(self) -> Result<Vec<Self>, Self>;
    fn number(x: f64) -> Self;
    fn null() -> Self;
    fn from_json(json: Value) -> Self;
    /// `{id, <name>: value}`.
    fn reply(id: Self, name: &str, value: Self) -> Self;
    /// `{results: [...]}`, a batch's result.
    fn results(items: Vec<Self>) -> Self;
    /// The `error` answering `data.fail`: a string as it is, anything else
    /// as its JSON text.
    fn failure(&self) -> Self;
}

impl Msg for Value {
    fn is_object(&self) -> bool {
        self.is_object()
    }

    fn js_typeof(&self) -> &'static str {
        match self {
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Bool(_) => "boolean",
            Value::Null | Value::Array(_) | Value::Object(_) => "object",
        }
    }

    fn member(&self, name: &str) -> Option<&Self> {
        self.as_object()
            .and_then(|o: &Map<String, Value>| o.get(name))
    }

    fn is_undefined(&self) -> bool {
        false
    }

    fn as_text(&self) -> Option<&str> {
        self.as_str()
    }

    fn as_number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn as_integer(&self) -> Option<i64> {
        self.as_i64()
    }

    fn as_flag(&self) -> Option<bool> {
        self.as_bool()
    }

    fn into_items(self) -> Result<Vec<Self>, Self> {
        match self {
            Value::Array(items) => Ok(items),
            other => Err(other),
        }
    }

    fn number(x: f64) -> Self {
        json!(x)
    }

    fn null() -> Self {
        Value::Null
    }

    fn from_json(json: Value) -> Self {
        json
    }

    fn reply(id: Self, name: &str, value: Self) -> Self {
        let mut reply = Map::new();
        reply.insert("id".into(), id);
        reply.insert(name.into(), value);
        Value::Object(reply)
    }

    fn results(items: Vec<Self>) -> Self {
        json!({ "results": items })
    }

    fn failure(&self) -> Self {
        match self {
            Value::String(_) => self.clone(),
            other => Value::String(other.to_string()),
        }
    }
}

impl Msg for v8::Value {
    fn is_object(&self) -> bool {
        matches!(self, v8::Value::Object(_))
    }

    fn js_typeof(&self) -> &'static str {
        match self {
            v8::Value::Undefined => "undefined",
            v8::Value::Bool(_) => "boolean",
            v8::Value::Int32(_) | v8::Value::Uint32(_) | v8::Value::Double(_) => "number",
            v8::Value::BigInt(_) => "bigint",
            v8::Value::String(_) => "string",
            _ => "object",
        }
    }

    fn member(&self, name: &str) -> Option<&Self> {
        match self {
            v8::Value::Object(o) => o.get(name),
            _ => None,
        }
    }

    fn is_undefined(&self) -> bool {
        self.is_undefined()
    }

    fn as_text(&self) -> Option<&str> {
        self.as_str()
    }

    fn as_number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn as_integer(&self) -> Option<i64> {
        self.as_f64()
            .filter(|x| x.fract() == 0.0 && x.abs() < 2f64.powi(53))
            .map(|x| x as i64)
    }

    fn as_flag(&self) -> Option<bool> {
        self.as_bool()
    }

    fn into_items(self) -> Result<Vec<Self>, Self> {
        match &self {
            v8::Value::Array(a) => Ok(a
                .elements
                .iter()
                .map(|e| e.clone().unwrap_or_default())
                .collect()),
            _ => Err(self),
        }
    }

    fn number(x: f64) -> Self {
        v8::Value::number(x)
    }

    fn null() -> Self {
        v8::Value::Null
    }

    fn from_json(json: Value) -> Self {
        json.into()
    }

    fn reply(id: Self, name: &str, value: Self) -> Self {
        v8::Value::object([("id", id), (name, value)])
    }

    fn results(items: Vec<Self>) -> Self {
        v8::Value::object([("results", v8::Value::array(items))])
    }

    fn failure(&self) -> Self {
        match self {
            v8::Value::String(_) => self.clone(),
            other => v8::Value::from(other.to_json().to_string()),
        }
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
