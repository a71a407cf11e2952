//! The serve loop: read, route, run handlers on a fixed set of threads.

use super::bad_request::{self, request_id, RequestId};
use super::{Events, Request, ServeError};
use crate::channel::{Channel, ChannelError, Handle, Sender};
use crate::codec::{self, v8, Mode};
use crate::vocabulary;
use crossbeam_channel as cb;
use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Handler threads used by [`serve`].
const DEFAULT_CONCURRENCY: usize = 16;

/// A worker being set up; [`Worker::serve`] runs it.
pub struct Worker {
    channel: Channel,
    concurrency: usize,
}

/// What every handler thread shares.
struct Shared<H> {
    handler: H,
    out: Sender,
    cancels: Mutex<HashMap<String, Arc<AtomicBool>>>,
    tasks: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicU64,
    started: Instant,
}

impl Worker {
    /// Takes the channel from the environment ([`Channel::from_env`]).
    pub fn from_env() -> Result<Worker, ChannelError> {
        Ok(Worker::new(Channel::from_env()?))
    }

    /// Serves on an existing channel.
    pub fn new(channel: Channel) -> Worker {
        Worker {
            channel,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// Requests handled at once (threads). Default 16.
    pub fn concurrency(mut self, n: usize) -> Worker {
        self.concurrency = n.max(1);
        self
    }

    /// A handle for sending events at any time.
    pub fn events(&self) -> Events {
        Events(self.channel.sender())
    }

    /// Runs until the parent disconnects. Messages that are neither
    /// requests nor heartbeat, health or cancel messages are ignored (a
    /// handle sent with one is taken and closed). A request's handle goes
    /// to the handler ([`Request::take_handle`]).
    ///
    /// A request that does not decode (not JSON, or in advanced mode a
    /// value JSON cannot hold, such as a `Map` with number keys or a
    /// cycle) is answered `{id, error}` with code `ERR_BAD_REQUEST`
    /// without reaching the handler, whenever its `id` can still be read;
    /// a frame with no readable `id`, and a message that is not an object,
    /// are reported on stderr and skipped.
    pub fn serve<H>(self, handler: H) -> Result<(), ChannelError>
    where
        H: Fn(Request) -> Result<Value, ServeError> + Send + Sync + 'static,
    {
        let (channel, concurrency) = (self.channel, self.concurrency);
        let (out, mut incoming) = channel.split();
        let shared = Arc::new(Shared {
            handler,
            out,
            cancels: Mutex::new(HashMap::new()),
            tasks: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            started: Instant::now(),
        });
        let (tx, rx) = cb::bounded::<Request>(concurrency);
        let threads: Vec<_> = (0..concurrency)
            .map(|i| {
                let (rx, shared) = (rx.clone(), Arc::clone(&shared));
                std::thread::Builder::new()
                    .name(format!("forkwire-serve-{i}"))
                    .spawn(move || {
                        for req in rx {
                            shared.run(req);
                        }
                    })
                    .map_err(ChannelError::Io)
            })
            .collect::<Result<_, _>>()?;
        let mode = incoming.mode();
        let result = loop {
            match incoming.recv_frame_with_handle() {
                Ok(Some((frame, handle))) => {
                    let msg = match codec::decode_frame::<Value>(mode, frame) {
                        Ok(msg) => msg,
                        Err(e) => {
                            // Its handle, if any, closes here.
                            drop(handle);
                            shared.bad_request(mode, frame, &e);
                            continue;
                        }
                    };
                    if let Some(req) = shared.route(msg, handle) {
                        shared.in_flight.fetch_add(1, Ordering::Relaxed);
                        if tx.send(req).is_err() {
                            break Ok(());
                        }
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) if e.is_recoverable() => {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("forkwire::serve: skipped a message: {e}");
                }
                Err(e) => break Err(e),
            }
        };
        drop(tx);
        for t in threads {
            let _ = t.join();
        }
        result
    }
}

/// Serves requests with `handler` on the channel from the environment
/// until the parent disconnects. See the [module docs](super).
pub fn serve<H>(handler: H) -> Result<(), ChannelError>
where
    H: Fn(Request) -> Result<Value, ServeError> + Send + Sync + 'static,
{
    Worker::from_env()?.serve(handler)
}

impl<H> Shared<H>
where
    H: Fn(Request) -> Result<Value, ServeError>,
{
    /// Answers a message that does not decode: `{id, error}` if its id
    /// can be read, else a line on stderr.
    fn bad_request(&self, mode: Mode, frame: &[u8], cause: &codec::CodecError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let error = bad_request::error(cause);
        let sent = match request_id(mode, frame) {
            Some(RequestId::Json(id)) => self.out.send(&json!({ "id": id, "error": error })),
            Some(RequestId::V8(id)) => {
                let error = serde_json::to_value(&error).map_or(v8::Value::Null, v8::Value::from);
                self.out
                    .send(&v8::Value::object([("id", id), ("error", error)]))
            }
            None => {
                eprintln!("forkwire::serve: skipped a message with no readable id: {cause}");
                return;
            }
        };
        match sent {
            Ok(()) | Err(ChannelError::Disconnected) => {}
            Err(e) => eprintln!("forkwire::serve: cannot answer a bad request ({cause}): {e}"),
        }
    }

    /// Answers control messages; returns the request to run, if it is one.
    fn route(&self, msg: Value, handle: Option<Handle>) -> Option<Request> {
        let Value::Object(mut obj) = msg else {
            let kind = match msg {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                Value::Null | Value::Object(_) => "null",
            };
            eprintln!("forkwire::serve: skipped a message that is not an object ({kind})");
            return None;
        };
        let kind = obj.get("type").and_then(Value::as_str).map(str::to_owned);
        match (obj.get("id"), kind.as_deref()) {
            (Some(id), Some(vocabulary::CANCEL)) => {
                if let Some(flag) = self.cancels.lock().get(&id.to_string()) {
                    flag.store(true, Ordering::Release);
                }
                None
            }
            (Some(_), _) => {
                let id = obj.remove("id").unwrap_or(Value::Null);
                let cancelled = Arc::new(AtomicBool::new(false));
                self.cancels
                    .lock()
                    .insert(id.to_string(), Arc::clone(&cancelled));
                Some(Request {
                    id,
                    kind,
                    data: obj.remove("data").unwrap_or(Value::Null),
                    cancelled,
                    out: self.out.clone(),
                    handle,
                })
            }
            (None, Some(vocabulary::HEARTBEAT_REQUEST)) => {
                self.reply(&json!({ "type": vocabulary::HEARTBEAT, "timestamp": now_ms() }));
                None
            }
            (None, Some(vocabulary::HEALTH_CHECK)) => {
                self.reply(&self.health());
                None
            }
            _ => None,
        }
    }

    fn run(&self, req: Request) {
        let id = req.id.clone();
        let key = id.to_string();
        let outcome = if req.kind.as_deref() == Some(super::BATCH_TYPE) {
            self.run_batch(req)
        } else {
            (self.handler)(req)
        };
        let cancelled = self
            .cancels
            .lock()
            .remove(&key)
            .is_some_and(|f| f.load(Ordering::Acquire));
        self.tasks.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        if cancelled {
            return;
        }
        let mut reply = Map::new();
        reply.insert("id".into(), id);
        match outcome {
            Ok(result) => {
                reply.insert("result".into(), result);
            }
            Err(err) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                reply.insert(
                    "error".into(),
                    serde_json::to_value(err).unwrap_or(Value::Null),
                );
            }
        }
        self.reply(&Value::Object(reply));
    }

    /// Runs the handler for each item of a batch request, in order, up to
    /// the first error or cancellation; the result is `{results: [...]}`.
    /// Each item is a request of the batch's item type (see [`batch_items`]).
    fn run_batch(&self, req: Request) -> Result<Value, ServeError> {
        let Request {
            id,
            data,
            cancelled,
            out,
            ..
        } = req;
        let (kind, items) = batch_items(data)?;
        let mut results = Vec::with_capacity(items.len());
        let mut failed = None;
        for data in items {
            if cancelled.load(Ordering::Acquire) {
                break;
            }
            let item = Request {
                id: id.clone(),
                kind: kind.clone(),
                data,
                cancelled: Arc::clone(&cancelled),
                out: out.clone(),
                handle: None,
            };
            match (self.handler)(item) {
                Ok(result) => results.push(result),
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        // `run` counts the request itself once.
        self.tasks
            .fetch_add(results.len().saturating_sub(1) as u64, Ordering::Relaxed);
        match failed {
            Some(err) => Err(err),
            None => Ok(json!({ "results": results })),
        }
    }

    fn health(&self) -> Value {
        json!({
            "type": vocabulary::HEALTH_STATUS,
            "healthy": true,
            "metrics": {
                "memory": crate::process::rss_bytes(std::process::id()).unwrap_or(0),
                "taskCount": self.tasks.load(Ordering::Relaxed),
                "errors": self.errors.load(Ordering::Relaxed),
                "inFlight": self.in_flight.load(Ordering::Relaxed),
                "uptime": self.started.elapsed().as_secs_f64(),
            }
        })
    }

    fn reply(&self, msg: &Value) {
        // The parent gone is the only way this fails; the read loop sees
        // the disconnect and ends.
        let _ = self.out.send(msg);
    }
}

/// The item type and the items of a batch request's `data`: `[item, ...]`
/// (items without a type, the first form) or `{type, items: [item, ...]}`
/// (`type` a string, or absent or null for none).
fn batch_items(data: Value) -> Result<(Option<String>, Vec<Value>), ServeError> {
    let bad = || {
        ServeError::new(format!(
            "a {} request needs an array of items, or {{type, items: [...]}}, as data",
            super::BATCH_TYPE
        ))
        .code("ERR_BAD_REQUEST")
    };
    match data {
        Value::Array(items) => Ok((None, items)),
        Value::Object(mut batch) => {
            let kind = match batch.remove("type") {
                None | Some(Value::Null) => None,
                Some(Value::String(kind)) => Some(kind),
                Some(_) => return Err(bad()),
            };
            match batch.remove("items") {
                Some(Value::Array(items)) => Ok((kind, items)),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
